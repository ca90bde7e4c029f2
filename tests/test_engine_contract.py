"""The engine contract as the core enforces it: the engine's answer, verified; cost fits; a result per fit."""

from __future__ import annotations

import json
import pickle

import numpy as np
import plugin_dists as pd
import pytest

import fitcore
from fitcore import EngineResult, EngineSpec, hookimpl

X = np.linspace(0, 10, 60)
TRUE = {"a": 2.5, "b": 0.7}
DATA = TRUE["a"] * np.exp(-TRUE["b"] * X) + 0.01 * np.random.default_rng(5).normal(size=X.size)
DATA[[7, 30, 45]] += [1.5, -1.0, 2.0]  # outliers a robust loss discounts


def residual(p, x=X, data=DATA):
    return p["a"].value * np.exp(-p["b"].value * x) - data


def params(**bounds):
    p = fitcore.Parameters()
    p.add("a", value=1.0, **bounds.get("a", {}))
    p.add("b", value=0.3, **bounds.get("b", {}))
    return p


ROBUST_PLUGIN = '''
from fitcore import EngineSpec, hookimpl


@hookimpl
def fitcore_engines():
    yield EngineSpec(name="robust-trf", engine="robust_lsq.engine:run", summary="scipy least_squares, robust loss",
                     bounds="native", options={"loss": "linear", "f_scale": 1.0},
                     least_squares="robust_lsq.engine:plain")
'''

ROBUST_ENGINE = '''
import numpy as np
from scipy.optimize import least_squares

from fitcore import EngineResult


def plain(options):
    return options.get("loss", "linear") == "linear"


def run(problem, loss="linear", f_scale=1.0):
    res = least_squares(problem.residual, problem.x0, bounds=(problem.lower, problem.upper), method="trf",
                        loss=loss, f_scale=f_scale, xtol=1e-12, ftol=1e-12, gtol=1e-12)
    return EngineResult(x=res.x, success=bool(res.success), message=res.message, status=int(res.status),
                        objective_value=float(res.cost))
'''

ROBUST_SCRIPT = r'''
import json
import numpy as np
from scipy.optimize import least_squares
import fitcore
from test_engine_contract import DATA, X, params, residual

p = params()
fit = fitcore.minimize(residual, p, engine="robust-trf", loss="soft_l1", f_scale=0.1)
direct = least_squares(lambda v: v[0] * np.exp(-v[1] * X) - DATA, [1.0, 0.3], method="trf", loss="soft_l1",
                       f_scale=0.1, xtol=1e-12, ftol=1e-12, gtol=1e-12)
q = params()
plain = fitcore.minimize(residual, q, engine="robust-trf")
print(json.dumps({
    "values": [p["a"].value, p["b"].value], "scipy": direct.x.tolist(), "scipy_cost": float(direct.cost),
    "engine_objective": fit.engine_objective, "chisqr": fit.chisqr, "polished": fit.polished,
    "plain_chisqr": float(np.sum((direct.x[0] * np.exp(-direct.x[1] * X) - DATA) ** 2)),
    "report": fitcore.fit_report(fit), "success": fit.success,
    "linear_values": [q["a"].value, q["b"].value], "linear_engine_objective": plain.engine_objective,
}))
'''


@pytest.fixture(scope="module")
def robust_site(tmp_path_factory):
    """A stranger's robust-loss engine, built and installed as its own distribution."""
    root = tmp_path_factory.mktemp("robust")
    proj = pd.write_project(root / "src", "robust-lsq", "robust_lsq", "robust",
                            {"plugin.py": ROBUST_PLUGIN, "engine.py": ROBUST_ENGINE, "__init__.py": ""})
    wheels = pd.build_wheels([proj], root / "wheels")
    pd.pip_install(wheels, root / "site")
    return root / "site"


def test_a_robust_loss_engines_answer_reaches_the_user(robust_site):
    """The core neither replaces nor polishes a robust-loss answer; the report gives both objectives."""
    tests_dir = str(__import__("pathlib").Path(__file__).parent)
    out, _ = pd.finish(pd.start_python(ROBUST_SCRIPT, pd.sites(robust_site, tests_dir)))
    got = json.loads(out.strip().splitlines()[-1])
    np.testing.assert_allclose(got["values"], got["scipy"], rtol=1e-9)
    assert got["engine_objective"] == pytest.approx(got["scipy_cost"], rel=1e-9)
    assert got["chisqr"] == pytest.approx(got["plain_chisqr"], rel=1e-9)
    assert got["polished"] == 0
    assert "engine objective" in got["report"]
    # loss='linear' declares plain least squares: the ordinary minimum, not the robust one
    assert abs(got["linear_values"][0] - got["values"][0]) > 1e-3


class _Engines:
    """Engines that break the contract in one way each, registered at run time."""

    @staticmethod
    def outside(problem, **_):
        return EngineResult(x=np.minimum(problem.upper + 1.0, 50.0), success=True, message="done")

    @staticmethod
    def nan(problem, **_):
        return EngineResult(x=np.full(problem.nvar, np.nan), success=True, message="done")

    @staticmethod
    def wrong_size(problem, **_):
        return EngineResult(x=np.zeros(problem.nvar + 1), success=True, message="done")

    @hookimpl
    def fitcore_engines(self):
        yield EngineSpec(name="bad-outside", engine=self.outside, summary="ignores its bounds", bounds="native")
        yield EngineSpec(name="bad-nan", engine=self.nan, summary="returns NaN", bounds="native")
        yield EngineSpec(name="bad-size", engine=self.wrong_size, summary="returns too many values")


@pytest.fixture
def bad_engines():
    plugin = _Engines()
    fitcore.plugins.register(plugin, name="bad-engines")
    yield
    fitcore.plugins.unregister(plugin)


@pytest.mark.parametrize("engine, words", [("bad-outside", "outside the bounds"), ("bad-nan", "non-finite"),
                                           ("bad-size", "shape")])
def test_an_engine_answer_that_breaks_the_contract_is_refused(bad_engines, engine, words):
    """Out of its declared bounds, not finite, or the wrong size: an error naming the engine; params untouched."""
    p = params(a={"min": 0, "max": 10}, b={"min": 0, "max": 5})
    before = {k: v.value for k, v in p.items()}
    with pytest.raises(fitcore.EngineError, match=words) as err:
        fitcore.minimize(residual, p, engine=engine)
    assert engine in str(err.value)
    assert {k: v.value for k, v in p.items()} == before


def poisson_data():
    rng = np.random.default_rng(3)
    x = np.linspace(0, 10, 100)
    return x, rng.poisson(200 * np.exp(-x / 4) + 50)


def nll(p, x, counts):
    from scipy.special import gammaln

    mu = p["a"].value * np.exp(-x / p["t"].value) + p["b"].value
    return float(np.sum(mu - counts * np.log(mu) + gammaln(counts + 1)))


def poisson_params():
    p = fitcore.Parameters()
    p.add("a", value=100, min=0)
    p.add("t", value=2, min=0.1)
    p.add("b", value=10, min=0)
    return p


def test_a_cost_fit_on_a_residual_engine_is_refused_naming_the_engines_that_accept_it():
    """leastsq minimizes residual arrays: a scalar cost is refused before the engine runs."""
    x, counts = poisson_data()
    p = poisson_params()
    with pytest.raises(fitcore.EngineCapabilityError, match="Engines that minimize a cost: .*lbfgsb"):
        fitcore.minimize(nll, p, args=(x, counts), engine="leastsq")
    assert p["a"].value == 100


def test_poisson_likelihood_fit_matches_iminuit():
    """A negative log-likelihood fit (errordef 0.5): values, HESSE errors and MINOS intervals as iminuit's."""
    iminuit = pytest.importorskip("iminuit")
    x, counts = poisson_data()
    p = poisson_params()
    fit = fitcore.minimize(nll, p, args=(x, counts), engine="lbfgsb", errordef=0.5, ftol=1e-15, gtol=1e-12)
    assert fit.success and fit.objective == "cost" and fit.errorbars

    def cost(a, t, b):
        return nll({"a": _V(a), "t": _V(t), "b": _V(b)}, x, counts)

    m = iminuit.Minuit(cost, a=190, t=4, b=45)
    m.errordef, m.tol, m.strategy = 0.5, 1e-8, 2  # no limits: none binds, and they would bend HESSE's errors
    m.migrad()
    m.hesse()
    m.minos()
    minimum = newton_minimum(x, counts, [p[n].value for n in "atb"])
    exact = analytic_errors(x, counts, minimum, errordef=0.5)
    for name, value, err in zip("atb", minimum, exact):
        assert p[name].value == pytest.approx(value, rel=1e-7)  # the exact minimum (analytic Newton steps)
        assert p[name].value == pytest.approx(m.values[name], rel=1e-5)
        assert p[name].stderr == pytest.approx(err, rel=1e-4)  # the exact Hessian's errors
        assert p[name].stderr == pytest.approx(m.errors[name], rel=1e-3)
    ci = fitcore.conf_interval(fit, p_names=["a", "t"], sigmas=(0.682689492137086,), prob_func="likelihood_ratio")
    for name in "at":
        (_, low), (_, best), (_, high) = ci[name]
        assert low - best == pytest.approx(m.merrors[name].lower, rel=1e-3)
        assert high - best == pytest.approx(m.merrors[name].upper, rel=1e-3)
        for limit in (low, high):  # the exact profile: the cost rises by errordef (0.5) at each limit
            assert profile_rise(x, counts, p, name, limit) == pytest.approx(0.5, rel=1e-5)


def profile_rise(x, counts, p, name, value):
    """Increase of the cost at ``name=value`` with the other parameters refitted (scipy, inside the bounds)."""
    from scipy.optimize import minimize as scipy_minimize

    others = [n for n in "atb" if n != name]
    best = {n: p[n].value for n in "atb"}

    def cost(q):
        vals = {**dict(zip(others, q)), name: value}
        return nll({n: _V(vals[n]) for n in "atb"}, x, counts)

    res = scipy_minimize(cost, [best[n] for n in others], method="L-BFGS-B",
                         bounds=[(p[n].min, None) for n in others], options={"ftol": 1e-15, "gtol": 1e-12})
    return res.fun - nll({n: _V(best[n]) for n in "atb"}, x, counts)


def exact_derivatives(x, counts, values):
    """Gradient and Hessian of the Poisson negative log-likelihood, analytically."""
    a, t, b = values
    e = np.exp(-x / t)
    mu = a * e + b
    grad = np.array([e, a * e * x / t**2, np.ones_like(x)])
    second = np.zeros((3, 3, x.size))
    second[0, 1] = second[1, 0] = e * x / t**2
    second[1, 1] = a * e * (x**2 / t**4 - 2 * x / t**3)
    weight = 1 - counts / mu
    hess = np.einsum("i,ai,bi->ab", counts / mu**2, grad, grad) + np.einsum("i,abi->ab", weight, second)
    return grad @ weight, hess


def newton_minimum(x, counts, start):
    """The exact minimum, by Newton steps with the analytic derivatives."""
    v = np.array(start, dtype=float)
    for _ in range(8):
        g, h = exact_derivatives(x, counts, v)
        v = v - np.linalg.solve(h, g)
    return v


def analytic_errors(x, counts, values, errordef):
    """Standard errors from the exact Hessian."""
    return np.sqrt(np.diag(2 * errordef * np.linalg.inv(exact_derivatives(x, counts, values)[1])))


class _V:
    """A stand-in Parameter for calling the cost with plain numbers."""

    def __init__(self, value):
        self.value = value


def test_f_test_refuses_a_cost_fit():
    """The F-test compares chi-squares of least-squares fits; a cost fit gets advice to use likelihood_ratio."""
    x, counts = poisson_data()
    fit = fitcore.minimize(nll, poisson_params(), args=(x, counts), engine="lbfgsb", errordef=0.5)
    with pytest.raises(ValueError, match="likelihood_ratio"):
        fitcore.conf_interval(fit, p_names="a", prob_func="f_test")


def test_each_fit_has_its_own_result():
    """A later fit does not change an earlier FitResult; a result's arrays are read-only; it pickles."""
    p = params()
    m = fitcore.Minimizer(residual, p)
    first = m.leastsq()
    a_first, chi_first = first.params["a"].value, first.chisqr
    m.params["a"].value = 5.0
    second = m.minimize(engine="lbfgsb")
    assert second is m.result and first is not second
    assert first.params["a"].value == a_first and first.chisqr == chi_first
    assert first.engine == "leastsq" and second.engine == "lbfgsb"
    assert first.values["a"] == a_first and set(first.stderr) == {"a", "b"}
    with pytest.raises(ValueError):
        first.residual[0] = 1.0
    again = pickle.loads(pickle.dumps(first))
    assert again.chisqr == first.chisqr and again.params["b"].value == first.params["b"].value
    assert bool(first) is first.success


def test_value_then_gradient_at_one_point_costs_one_residual_evaluation():
    """problem.scalar and problem.gradient share the residual of the same point (1 + nvar evaluations)."""
    counts = {}

    def engine(problem):
        start = problem.nfev
        problem.scalar(problem.x0 + 0.1)
        problem.gradient(problem.x0 + 0.1)
        counts["used"] = problem.nfev - start
        return EngineResult(x=problem.x0, success=False, message="probe")

    class Plugin:
        @hookimpl
        def fitcore_engines(self):
            yield EngineSpec(name="probe-scalar", engine=engine, summary="probe", objective="scalar")

    plugin = Plugin()
    fitcore.plugins.register(plugin, name="probe-scalar")
    try:
        fitcore.minimize(residual, params(), engine="probe-scalar")
    finally:
        fitcore.plugins.unregister(plugin)
    assert counts["used"] == 1 + 2


def test_a_masked_residual_drops_the_masked_points():
    """A numpy masked array's masked points are left out of the fit (ndata counts the others)."""
    data = TRUE["a"] * np.exp(-TRUE["b"] * X)
    bad = np.zeros(X.size, bool)
    bad[[3, 10, 20]] = True
    spoiled = np.where(bad, 1e6, data)

    def masked(p):
        return np.ma.masked_array(p["a"].value * np.exp(-p["b"].value * X) - spoiled, mask=bad)

    p = params()
    fit = fitcore.minimize(masked, p)
    assert fit.ndata == X.size - 3 and fit.success
    assert p["a"].value == pytest.approx(2.5, rel=1e-8) and p["b"].value == pytest.approx(0.7, rel=1e-8)


@pytest.mark.parametrize("stop", [{"max_nfev": 1}, {"iter_cb": lambda *a, **k: True}])
def test_a_fit_stopped_at_its_first_evaluation_is_aborted_not_raised(stop):
    """max_nfev=1 or an iter_cb asking to stop at once: aborted=True, the start kept, no exception."""
    p = params()
    fit = fitcore.minimize(residual, p, **stop)
    assert fit.aborted and not fit.success and fit.nfev == 1
    assert p["a"].value == 1.0 and p["b"].value == 0.3


def test_omit_with_an_analytic_jacobian_masks_its_rows():
    """nan_policy='omit' drops the same rows from Dfun's Jacobian as from the residual."""
    data = TRUE["a"] * np.exp(-TRUE["b"] * X)
    data[[2, 5]] = np.nan

    def jac(p):
        e = np.exp(-p["b"].value * X)
        return np.column_stack([e, -p["a"].value * X * e])

    p = params()
    fit = fitcore.minimize(lambda q: residual(q, X, data), p, nan_policy="omit", Dfun=jac)
    assert fit.success and fit.ndata == X.size - 2
    assert p["b"].value == pytest.approx(0.7, rel=1e-9)


def test_a_residual_whose_length_changes_under_omit_is_a_clear_error():
    """nan_policy='omit' with a residual that changes length names the problem (no IndexError)."""
    calls = {"n": 0}

    def shrinking(p):
        calls["n"] += 1
        r = residual(p)
        r[0] = np.nan
        return r if calls["n"] < 3 else r[:-1]

    with pytest.raises(fitcore.ResidualError, match="length must not change"):
        fitcore.minimize(shrinking, params(), nan_policy="omit")


def test_a_decreasing_probability_function_is_refused_naming_it():
    """A prob_func that falls as chi-square grows is an error naming the function."""

    def falling(best, new):
        return max(0.0, 0.9 - 0.2 * (new.chisqr - best.chisqr) / best.redchi) if new.chisqr > best.chisqr else 0.0

    fit = fitcore.minimize(residual, params())
    with pytest.raises(ValueError, match="falling.*decreases"):
        fitcore.conf_interval(fit, sigmas=(0.95,), prob_func=falling)


def test_a_tiny_level_gives_the_best_value():
    """sigmas=[1e-10]: the interval is the best value itself, not a crash."""
    p = params()
    fit = fitcore.minimize(residual, p)
    ci = fitcore.conf_interval(fit, p_names="a", sigmas=[1e-10])
    (_, low), (_, best), (_, high) = ci["a"]
    assert best == p["a"].value
    assert low == pytest.approx(best, rel=1e-6) and high == pytest.approx(best, rel=1e-6)


def test_the_verdict_holds_without_error_bars():
    """NIST Hahn1 from start 1: lbfgsb stops far from the minimum with a singular covariance; not a success."""
    import nist_strd

    if not nist_strd.available():
        pytest.skip(f"NIST StRD data not found at {nist_strd.NIST_DIR} (the shared data folder next to the project)")
    outcome = nist_strd.run(nist_strd.load("Hahn1"), 1, engine="lbfgsb")
    assert not outcome.success
    assert "not a minimum" in outcome.message


def test_exceptions_from_the_users_callbacks_are_not_blamed_on_the_engine():
    """An iter_cb or Dfun that raises propagates as is, with no note naming the engine plugin."""

    def bad_callback(*args, **kws):
        raise KeyError("from my callback")

    def bad_jacobian(p):
        raise ZeroDivisionError("from my Dfun")

    for kws, exc in (({"iter_cb": bad_callback}, KeyError), ({"Dfun": bad_jacobian}, ZeroDivisionError)):
        with pytest.raises(exc) as caught:
            fitcore.minimize(residual, params(), **kws)
        assert not any("engine" in note for note in getattr(caught.value, "__notes__", []))


@pytest.mark.parametrize("seed", [-1, "abc", 2.5, True, 2**64])
def test_a_bad_seed_is_refused_before_any_evaluation(seed):
    """seed is a core option: checked before the residual is called, for every stochastic engine."""
    calls = []

    def counting(p):
        calls.append(1)
        return residual(p)

    with pytest.raises(fitcore.EngineOptionError, match="seed="):
        fitcore.minimize(counting, params(a={"min": 0, "max": 10}, b={"min": 0, "max": 5}), engine="anneal",
                         seed=seed)
    assert calls == []


def test_lmfit_spellings_col_deriv_1_and_conf_interval_with_a_result():
    """col_deriv=1 as lmfit passes it; conf_interval(minimizer, result) profiles that result."""

    def jac_rows(p):
        e = np.exp(-p["b"].value * X)
        return np.vstack([e, -p["a"].value * X * e])

    m = fitcore.Minimizer(residual, params())
    first = m.minimize(Dfun=jac_rows, col_deriv=1)
    plain = fitcore.Minimizer(residual, params()).leastsq()
    assert first.success and first.params["b"].value == pytest.approx(plain.params["b"].value, rel=1e-6)
    with pytest.raises(TypeError, match="col_deriv='yes'"):
        m.minimize(Dfun=jac_rows, col_deriv="yes")
    m.params["a"].value, m.params["b"].value = 1.0, 0.3
    m.minimize(engine="lbfgsb", max_nfev=3)  # a later, unfinished fit
    ci = fitcore.conf_interval(m, first, sigmas=(0.95,))
    assert ci["a"][1][1] == first.params["a"].value


def test_a_batched_engine_is_refused_for_a_single_fit_before_any_evaluation():
    """A batched engine fits many datasets at once; minimize() refuses it, pointing to fit_many."""
    calls = []

    def counting(p):
        calls.append(1)
        return residual(p)

    with pytest.raises(fitcore.EngineCapabilityError, match="fit_many"):
        fitcore.minimize(counting, params(), engine="batch_lm")
    assert calls == []
