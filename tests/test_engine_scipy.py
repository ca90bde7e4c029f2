"""The scipy engines (fitcore-engine-scipy): known answers, scipy's robust answer, refusals before any evaluation."""

from __future__ import annotations

import nist_strd
import numpy as np
import pytest
from conftest import sine_residual
from scipy.optimize import least_squares, minimize

import fitcore
from fitcore.errors import EngineCapabilityError, EngineOptionError

LOCAL = ["least_squares", "nelder", "powell", "cg", "bfgs", "tnc", "slsqp", "trust-constr"]
GLOBAL = ["differential_evolution", "basinhopping", "shgo", "brute"]


class Counter:
    """A residual function counting its calls (the damped sine with known truth)."""

    def __init__(self, x, data):
        self.x, self.data, self.calls = x, data, 0

    def __call__(self, p):
        self.calls += 1
        return sine_residual(p, self.x, self.data)


def sine_params(bounded=True):
    """The damped-sine parameters started away from the truth (14, 0.21, 3, 0.01)."""
    p = fitcore.Parameters()
    for name, v0, lo, hi in (("amp", 13.0, 5, 20), ("shift", 0.0, -1, 1), ("omega", 2.9, 2.5, 3.5),
                             ("decay", 0.02, 0.001, 0.1)):
        p.add(name, value=v0, min=lo if bounded else None, max=hi if bounded else None)
    return p


def test_engines_are_registered_by_their_own_distribution():
    """Each engine comes from fitcore-engine-scipy, with lmfit's name and scipy's spelling as an alias."""
    info = {e.name: e for e in fitcore.list_engines()}
    for name in LOCAL + GLOBAL:
        assert info[name].distribution == "fitcore-engine-scipy"
    assert info["nelder"].spec.aliases == ("nelder-mead",)
    assert fitcore.plugins.get_engine("nelder-mead").name == "nelder"
    assert fitcore.plugins.get_engine("trust_constr").name == "trust-constr"
    assert {e.name for e in fitcore.list_engines(is_global=True)} >= set(GLOBAL)
    assert info["cg"].spec.bounds == info["bfgs"].spec.bounds == "transform"
    assert info["differential_evolution"].spec.bounds == "required_finite"


@pytest.mark.parametrize("engine", LOCAL)
def test_local_engines_reach_leastsq_minimum(damped_sine, engine):
    """Every local engine reaches leastsq's chi-square (1e-7) and values (1e-4), with error bars, in the bounds."""
    x, data, _ = damped_sine
    ref = sine_params()
    reffit = fitcore.Minimizer(Counter(x, data), ref).minimize(engine="leastsq", xtol=1e-12, ftol=1e-12)
    p = sine_params()
    fit = fitcore.Minimizer(Counter(x, data), p).minimize(engine=engine)
    assert fit.success, fit.message
    assert fit.chisqr == pytest.approx(reffit.chisqr, rel=1e-7)
    for name in ref:
        assert p[name].value == pytest.approx(ref[name].value, rel=1e-4)
        assert p[name].stderr == pytest.approx(ref[name].stderr, rel=1e-3)


@pytest.mark.parametrize(("engine", "kws"), [("differential_evolution", {"seed": 3}), ("basinhopping", {"seed": 3}),
                                             ("shgo", {}), ("brute", {"Ns": 30})])
def test_global_engines_find_the_global_minimum(engine, kws):
    """On a sine with many local minima in omega, each global engine finds omega=2.7 where leastsq does not."""
    x = np.linspace(0.0, 10.0, 201)
    data = 1.5 * np.sin(2.7 * x) + np.random.default_rng(0).normal(scale=0.1, size=x.size)

    def residual(p):
        return data - p["amp"].value * np.sin(p["omega"].value * x)

    def params():
        p = fitcore.Parameters()
        p.add("amp", value=1.0, min=0.1, max=5.0)
        p.add("omega", value=1.0, min=0.5, max=5.0)
        return p

    local = params()
    fitcore.minimize(residual, local, engine="leastsq")
    assert abs(local["omega"].value - 2.7) > 0.5
    p = params()
    fit = fitcore.Minimizer(residual, p).minimize(engine=engine, **kws)
    assert fit.success, fit.message
    assert p["omega"].value == pytest.approx(2.7, abs=3 * p["omega"].stderr + 1e-3)
    assert p["amp"].value == pytest.approx(1.5, abs=0.05)


def test_least_squares_soft_l1_returns_scipys_own_robust_answer():
    """loss='soft_l1' gives scipy's robust point (not the chi-square minimum), its cost, and the plain chi-square."""
    x = np.linspace(0.0, 10.0, 60)
    y = 3.0 * np.exp(-x / 2.5) + 0.2 + np.random.default_rng(1).normal(scale=0.02, size=x.size)
    y[[5, 17, 40]] += (1.5, -1.0, 2.0)  # outliers

    def model(v):
        return v[0] * np.exp(-x / v[1]) + v[2]

    direct = least_squares(lambda v: model(v) - y, [1.0, 1.0, 0.0], loss="soft_l1", f_scale=0.1, method="trf",
                           bounds=([0.0, 0.1, -np.inf], [np.inf, 10.0, np.inf]))
    plain = least_squares(lambda v: model(v) - y, [1.0, 1.0, 0.0], method="trf",
                          bounds=([0.0, 0.1, -np.inf], [np.inf, 10.0, np.inf]), xtol=1e-12, ftol=1e-12)
    p = fitcore.Parameters()
    p.add("amp", value=1.0, min=0.0)
    p.add("tau", value=1.0, min=0.1, max=10.0)
    p.add("base", value=0.0)
    fit = fitcore.Minimizer(lambda p: model([p[n].value for n in ("amp", "tau", "base")]) - y, p).minimize(
        engine="least_squares", loss="soft_l1", f_scale=0.1)
    got = np.array([p["amp"].value, p["tau"].value, p["base"].value])
    assert np.allclose(got, direct.x, rtol=1e-6, atol=1e-9)
    assert np.max(np.abs(got / plain.x - 1)) > 0.01  # the robust answer is not the chi-square minimum
    assert fit.engine_objective == pytest.approx(direct.cost, rel=1e-8)
    r = model(got) - y
    assert fit.chisqr == pytest.approx(float(r @ r), rel=1e-10)
    assert fit.success and fit.polished == 0


def test_least_squares_linear_loss_matches_leastsq(damped_sine):
    """loss='linear' (method trf and dogbox) is the chi-square minimum, with leastsq's stderr."""
    x, data, _ = damped_sine
    ref = sine_params(bounded=False)
    fitcore.minimize(sine_residual, ref, args=(x, data), engine="leastsq")
    for method in ("trf", "dogbox", "lm"):
        p = sine_params(bounded=method != "lm")
        fit = fitcore.Minimizer(sine_residual, p, fcn_args=(x, data)).minimize(engine="least_squares", method=method)
        assert fit.success and fit.engine_objective is None
        for name in ref:
            assert p[name].value == pytest.approx(ref[name].value, rel=1e-6)
            assert p[name].stderr == pytest.approx(ref[name].stderr, rel=1e-4)


def test_least_squares_sparse_jacobian_with_hundreds_of_parameters():
    """300 parameters, each moving 4 residuals: jac_sparsity with tr_solver='lsmr' fits them in few evaluations."""
    npar, per = 300, 4
    rng = np.random.default_rng(7)
    t = np.tile(np.linspace(0.0, 1.0, per), npar)
    group = np.repeat(np.arange(npar), per)
    truth = rng.uniform(0.5, 2.0, npar)
    y = np.exp(-truth[group] * t) + rng.normal(scale=1e-3, size=t.size)
    names = [f"k{i}" for i in range(npar)]
    sparsity = np.zeros((t.size, npar), dtype=int)
    sparsity[np.arange(t.size), group] = 1

    def residual(p):
        k = np.array([p[n].value for n in names])
        return np.exp(-k[group] * t) - y

    p = fitcore.Parameters()
    for n in names:
        p.add(n, value=1.0, min=0.0, max=10.0)
    fit = fitcore.Minimizer(residual, p).minimize(engine="least_squares", jac_sparsity=sparsity, tr_solver="lsmr")
    assert fit.success, fit.message
    got = np.array([p[n].value for n in names])
    assert np.allclose(got, truth, atol=5 * 1e-3 / 0.3)
    assert fit.nfev < 200  # grouped differences: a Jacobian costs 2 evaluations, not 300
    calls = []
    with pytest.raises(EngineOptionError, match=r"jac_sparsity has shape \(1200, 299\); expected \(ndata, 300\)"):
        fitcore.minimize(lambda p: calls.append(1) or residual(p), p, engine="least_squares",
                         jac_sparsity=sparsity[:, 1:], tr_solver="lsmr")
    assert calls == []
    with pytest.raises(EngineOptionError, match=r"shape \(1199, 300\); this fit needs \(ndata, nvar\) = \(1200, 300\)"):
        fitcore.minimize(residual, p, engine="least_squares", jac_sparsity=sparsity[1:], tr_solver="lsmr")


def test_scipy_status_and_message_are_carried(damped_sine):
    """A method stopped by its own iteration limit says so in scipy's words, with scipy's status, success False."""
    x, data, _ = damped_sine
    p = sine_params()
    fit = fitcore.Minimizer(sine_residual, p, fcn_args=(x, data)).minimize(engine="nelder", maxiter=5)
    assert not fit.success
    assert "Maximum number of iterations has been exceeded" in fit.message
    assert fit.ier == 2
    fit = fitcore.Minimizer(sine_residual, sine_params(), fcn_args=(x, data)).minimize(engine="least_squares",
                                                                                       maxfev=3)
    assert not fit.success and fit.ier == 0 and "maximum number of function evaluations" in fit.message.lower()


@pytest.mark.skipif(not nist_strd.available(), reason=nist_strd.SOURCE)
def test_success_is_refused_at_a_degenerate_limit():
    """SLSQP stops on NIST Misra1b (start 2) where b2 ran off and the model saturated: scipy says converged."""
    prob = nist_strd.load("Misra1b")
    p = fitcore.Parameters()
    for n, v in zip(prob.names, prob.starts[1]):
        p.add(n, value=v)
    fit = fitcore.minimize(prob.residual, p, engine="slsqp")
    off = max(abs(p[n].value / c - 1) for n, c in zip(prob.names, prob.certified))
    assert off > 0.01 and "Optimization terminated successfully" in fit.message
    assert not fit.success and "singular" in fit.message


def test_brute_keeps_grid_and_objective_for_plotting():
    """brute_grid and brute_Jout hold every grid point and its chi-square; the grid minimum is brute_x0."""
    x = np.linspace(0, 5, 30)
    data = 2.0 * np.exp(-x / 1.3)

    def residual(p):
        return p["a"].value * np.exp(-x / p["t"].value) - data

    p = fitcore.Parameters()
    p.add("a", value=1.0, min=0.5, max=4.0)
    p.add("t", value=1.0, min=0.5, max=3.0)
    fit = fitcore.Minimizer(residual, p).minimize(engine="brute", Ns=11)
    grid, jout = fit.engine_extras["brute_grid"], fit.engine_extras["brute_Jout"]
    assert grid.shape == (2, 11, 11) and jout.shape == (11, 11)
    assert np.allclose(grid[0][:, 0], np.linspace(0.5, 4.0, 11)) and np.allclose(grid[1][0], np.linspace(0.5, 3.0, 11))
    i, j = 3, 7
    r = grid[0][i, j] * np.exp(-x / grid[1][i, j]) - data
    assert jout[i, j] == pytest.approx(float(r @ r), rel=1e-12)
    k = np.unravel_index(np.argmin(jout), jout.shape)
    assert np.allclose(fit.engine_extras["brute_x0"], [grid[0][k], grid[1][k]])
    assert fit.success and p["a"].value == pytest.approx(2.0, rel=1e-6) and p["t"].value == pytest.approx(1.3, rel=1e-6)
    unfinished = fitcore.Minimizer(residual, p).minimize(engine="brute", Ns=11, finish=False)
    assert not unfinished.success  # a grid point is not a minimum


@pytest.mark.parametrize("engine", ["differential_evolution", "basinhopping"])
def test_stochastic_global_engines_are_reproducible(engine):
    """The same seed gives the same evaluations and answer."""
    x = np.linspace(0, 5, 30)
    data = 2.0 * np.exp(-x / 1.3)
    runs = []
    for _ in range(2):
        seen = []

        def residual(p, seen=seen):
            seen.append((p["a"].value, p["t"].value))
            return p["a"].value * np.exp(-x / p["t"].value) - data

        p = fitcore.Parameters()
        p.add("a", value=1.0, min=0.5, max=4.0)
        p.add("t", value=1.0, min=0.5, max=3.0)
        kws = {"maxiter": 20} if engine == "differential_evolution" else {"niter": 5}
        fitcore.minimize(residual, p, engine=engine, seed=11, **kws)
        runs.append(seen)
    assert runs[0] == runs[1]


def test_cost_fit_with_scalar_engines():
    """A Poisson negative log-likelihood (errordef=0.5) reaches scipy's own minimum with each scalar engine."""
    x = np.linspace(0.0, 4.0, 40)
    counts = np.random.default_rng(7).poisson(30.0 * np.exp(-x / 1.2) + 5.0)

    def nll(v):
        mu = v[0] * np.exp(-x / v[1]) + v[2]
        return float(np.sum(mu - counts * np.log(mu)))

    bounds = [(0.1, 100.0), (0.1, 10.0), (0.01, 20.0)]
    best = minimize(nll, [20.0, 1.7, 2.0], method="L-BFGS-B", bounds=bounds, options={"ftol": 1e-15, "gtol": 1e-10})
    assert best.success and all(lo < v < hi for v, (lo, hi) in zip(best.x, bounds))
    for engine in ("nelder", "powell", "bfgs", "tnc", "slsqp", "trust-constr"):
        p = fitcore.Parameters()
        p.add("n0", value=10.0, min=0.1, max=100.0)
        p.add("tau", value=1.0, min=0.1, max=10.0)
        p.add("bkg", value=1.0, min=0.01, max=20.0)
        fit = fitcore.minimize(lambda p: nll([p["n0"].value, p["tau"].value, p["bkg"].value]), p, engine=engine,
                               errordef=0.5)
        assert fit.objective == "cost" and fit.success, (engine, fit.message)
        got = np.array([p["n0"].value, p["tau"].value, p["bkg"].value])
        assert np.allclose(got, best.x, rtol=1e-4), engine
        assert fit.chisqr == pytest.approx(best.fun, rel=1e-9)


BAD_OPTIONS = [
    ("least_squares", {"loss": "bogus"}, EngineOptionError, "loss"),
    ("least_squares", {"method": "lm"}, EngineCapabilityError, r"method='lm' \(MINPACK\) takes no bounds.*'amp'"),
    ("least_squares", {"jac": "cs"}, EngineOptionError, "jac='cs'"),
    ("least_squares", {"tr_solver": "nope"}, EngineOptionError, "tr_solver"),
    ("nelder", {"initial_simplex": [[1.0, 2.0]]}, EngineOptionError, "initial_simplex"),
    ("powell", {"maxfev": 0}, EngineOptionError, "maxfev=0"),
    ("tnc", {"maxfun": -3}, EngineOptionError, "maxfun=-3"),
    ("trust-constr", {"factorization_method": "nope"}, EngineOptionError, "factorization_method|nope"),
    ("differential_evolution", {"strategy": "nope"}, EngineOptionError, "strategy|nope"),
    ("differential_evolution", {"mutation": 3.0}, EngineOptionError, "mutation"),
    ("differential_evolution", {"workers": 0}, EngineOptionError, "workers=0"),
    ("differential_evolution", {"polish": "yes"}, EngineOptionError, "polish='yes'"),
    ("basinhopping", {"target_accept_rate": 2.0}, EngineOptionError, "target_accept_rate"),
    ("basinhopping", {"stepsize": -1.0}, EngineOptionError, "stepsize=-1.0"),
    ("shgo", {"sampling_method": "nope"}, EngineOptionError, "sampling_method|nope"),
    ("brute", {"Ns": 1}, EngineOptionError, "Ns=1"),
    ("brute", {"Ns": 100}, EngineCapabilityError, "grid of 1e\\+08 points"),
]


@pytest.mark.parametrize(("engine", "kws", "exc", "match"), BAD_OPTIONS,
                         ids=[f"{e}-{next(iter(k))}" for e, k, _, _ in BAD_OPTIONS])
def test_bad_options_refused_before_any_evaluation(damped_sine, engine, kws, exc, match):
    """scipy's own refusal (or the engine's) comes before the user's function is called once."""
    x, data, _ = damped_sine
    fcn = Counter(x, data)
    seed = {"seed": 1} if fitcore.plugins.get_engine(engine).spec.stochastic else {}
    with pytest.raises(exc, match=match) as caught:
        fitcore.minimize(fcn, sine_params(), engine=engine, **seed, **kws)
    assert fcn.calls == 0
    assert caught.value.engine == engine


def test_transform_engines_respect_bounds(damped_sine):
    """cg and bfgs see the core's transform: an optimum beyond omega <= 2.95 ends on that bound."""
    x, data, _ = damped_sine
    for engine in ("cg", "bfgs"):
        p = sine_params()
        p["omega"].set(value=2.9, max=2.95)
        fitcore.minimize(sine_residual, p, args=(x, data), engine=engine)
        assert p["omega"].value <= 2.95 and p["omega"].value == pytest.approx(2.95, abs=1e-4)


def _decay(p):
    """A module-level residual: worker processes must be able to import it."""
    x = np.linspace(0, 5, 30)
    return p["a"].value * np.exp(-x / p["t"].value) - 2.0 * np.exp(-x / 1.3)


def test_workers_run_the_same_search_in_other_processes():
    """differential_evolution with workers=2 (deferred updating) evaluates the same population as workers=1."""
    answers = []
    for workers in (1, 2):
        p = fitcore.Parameters()
        p.add("a", value=1.0, min=0.5, max=4.0)
        p.add("t", value=1.0, min=0.5, max=3.0)
        fit = fitcore.minimize(_decay, p, engine="differential_evolution", seed=5, workers=workers,
                               updating="deferred", maxiter=30, polish=False)
        answers.append((p["a"].value, p["t"].value, fit.engine_extras["de_nfev"]))
    assert answers[0] == answers[1]
    p = fitcore.Parameters()
    p.add("a", value=1.0, min=0.5, max=4.0)
    p.add("t", value=1.0, min=0.5, max=3.0)
    with pytest.raises(EngineCapabilityError, match="max_nfev=50 cannot be honoured"):
        fitcore.minimize(_decay, p, engine="brute", workers=2, max_nfev=50)


@pytest.mark.skipif(not nist_strd.available(), reason=nist_strd.SOURCE)
@pytest.mark.parametrize(("engine", "kws"), [("differential_evolution", {"seed": 1}), ("shgo", {}), ("brute", {})])
def test_global_polish_reaches_certified_values_on_badly_scaled_parameters(engine, kws):
    """NIST Misra1a (b1 ~ 240, b2 ~ 5.5e-4) in a box: the unit-box polish reaches the certified values."""
    prob = nist_strd.load("Misra1a")
    p = fitcore.Parameters()
    p.add("b1", value=500.0, min=100.0, max=1000.0)
    p.add("b2", value=1e-4, min=1e-5, max=1e-2)
    fit = fitcore.minimize(prob.residual, p, engine=engine, **kws)
    assert fit.success, fit.message
    for name, cert in zip(prob.names, prob.certified):
        assert p[name].value == pytest.approx(cert, rel=1e-6)
