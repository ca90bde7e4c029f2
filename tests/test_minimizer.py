"""minimize() and Minimizer as the manual's sections 3.1-3.5, with the leastsq engine plugin."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import SpecPlugin, sine_residual
from scipy.optimize import leastsq as scipy_leastsq

from fitcore import (
    EngineNotFoundError,
    EngineOptionError,
    EngineResult,
    EngineSpec,
    Minimizer,
    Parameter,
    Parameters,
    ResidualError,
    minimize,
    plugins,
)

NAMES = ("amp", "omega", "shift", "decay")


def _params(bounded: bool = False) -> Parameters:
    p = Parameters()
    p.add("amp", value=10, min=0 if bounded else None, max=30 if bounded else None)
    p.add("omega", value=3.05)
    p.add("shift", value=0.0, min=-1 if bounded else None, max=1 if bounded else None)
    p.add("decay", value=0.02, min=0 if bounded else None)
    return p


def _jac(p, x, data):
    """Analytic Jacobian of data - amp*sin(omega*x+shift)*exp(-x*x*decay), columns in NAMES order."""
    a, w, s, d = (p[k].value for k in NAMES)
    E, S, C = np.exp(-x * x * d), np.sin(w * x + s), np.cos(w * x + s)
    return -np.column_stack([S * E, a * x * C * E, a * C * E, -a * x * x * S * E])


# -- 3.1 minimize() --------------------------------------------------------------------------------
def test_minimize_returns_the_minimizer_and_updates_params(damped_sine):
    """minimize(function, params, args, kws, engine) returns the Minimizer; params hold the best fit."""
    x, data, truth = damped_sine
    p = _params()
    out = minimize(sine_residual, p, args=(x,), kws={"data": data}, engine="leastsq")
    assert isinstance(out, Minimizer) and out.params is p and out.engine == "leastsq"
    assert out.success and out.errorbars
    ref, _ = scipy_leastsq(lambda v: sine_residual(dict(zip(NAMES, map(_V, v))), x, data),
                           [10, 3.05, 0.0, 0.02], xtol=1e-10, ftol=1e-10)
    for name, val in zip(NAMES, ref):
        assert p[name].value == pytest.approx(val, abs=1e-3 * p[name].stderr)
        assert abs(p[name].value - truth[name]) < 4 * p[name].stderr


class _V:
    """Stand-in for a Parameter: only .value, so the same residual runs on plain numbers."""

    def __init__(self, value: float) -> None:
        self.value = value


def test_minimizer_signature_fcn_args_fcn_kws_and_leastsq(damped_sine):
    """Minimizer(function, params, fcn_args, fcn_kws).leastsq() fits and returns success."""
    x, data, _ = damped_sine
    p = _params()
    m = Minimizer(sine_residual, p, fcn_args=(x,), fcn_kws={"data": data})
    assert m.leastsq().success is True
    q = _params()
    minimize(sine_residual, q, args=(x, data))
    for name in NAMES:
        assert p[name].value == pytest.approx(q[name].value, rel=1e-9)


def test_generic_minimize_method_by_engine_name(damped_sine):
    """Minimizer.minimize(engine='leastsq', **kws) is the same fit as .leastsq(**kws)."""
    x, data, _ = damped_sine
    p1, p2 = _params(), _params()
    m1, m2 = Minimizer(sine_residual, p1, (x, data)), Minimizer(sine_residual, p2, (x, data))
    assert m1.minimize(engine="leastsq", xtol=1e-9) and m2.leastsq(xtol=1e-9)
    assert m1.nfev == m2.nfev and m1.chisqr == m2.chisqr
    assert [p1[n].value for n in NAMES] == [p2[n].value for n in NAMES]


def test_refit_from_the_optimum_is_an_honest_success(damped_sine):
    """Re-running a fit from its own optimum succeeds: the start is a minimum."""
    x, data, _ = damped_sine
    p = _params()
    m = Minimizer(sine_residual, p, (x, data))
    m.leastsq()
    best = [p[n].value for n in NAMES]
    assert m.leastsq().success is True
    assert m.init_vals == pytest.approx(best, rel=1e-12)
    assert [p[n].value for n in NAMES] == pytest.approx(best, rel=1e-7)


# -- 3.2 the fitting function -------------------------------------------------------------------
def test_manual_residual_with_period_guards(rng):
    """The section 3.2 residual (period, shift guards; model - data) fits generated data."""
    def residual(pars, x, data=None):
        amp, period = pars["amp"].value, pars["period"].value
        shift, decay = pars["shift"].value, pars["decay"].value
        if abs(shift) > math.pi / 2:
            shift = shift - np.sign(shift) * math.pi
        if abs(period) < 1.0e-10:
            period = np.sign(period) * 1.0e-10
        model = amp * np.sin(shift + x / period) * np.exp(-x * x * decay * decay)
        return model if data is None else model - data

    x = np.linspace(0, 20, 401)
    truth = {"amp": 5.0, "period": 1.3, "shift": 0.4, "decay": 0.09}
    data = residual({k: _V(v) for k, v in truth.items()}, x) + rng.normal(0, 0.05, x.size)
    p = Parameters()
    p.add("amp", value=4.0)
    p["period"] = Parameter(value=1.25, min=1.0e-10)
    p.add("shift", value=0.2)
    p.add("decay", value=0.1)
    out = minimize(residual, p, args=(x,), kws={"data": data})
    assert out.success and out.errorbars
    for name, val in truth.items():
        assert abs(abs(p[name].value) - val) < 5 * p[name].stderr, name
    assert np.allclose(residual(p, x), residual({k: _V(p[k].value) for k in truth}, x))


def test_residual_length_change_is_an_error_and_params_are_restored(damped_sine):
    """A residual whose length changes mid-fit raises ResidualError; params keep their start values."""
    x, data, _ = damped_sine
    calls = []

    def shrinking(p, x, data):
        calls.append(1)
        r = sine_residual(p, x, data)
        return r if len(calls) < 4 else r[:-1]

    p = _params()
    before = [(p[n].value, p[n].stderr, p[n].init_value) for n in NAMES]
    with pytest.raises(ResidualError, match=r"returned 300 values.*but 301 before.*must not change"):
        minimize(shrinking, p, args=(x, data))
    assert [(p[n].value, p[n].stderr, p[n].init_value) for n in NAMES] == before


def test_exception_in_residual_propagates_and_restores_params(damped_sine):
    """A user error mid-fit propagates unchanged and leaves the parameters as they were."""
    x, data, _ = damped_sine
    calls = []

    def failing(p, x, data):
        calls.append(1)
        if len(calls) == 7:
            raise KeyError("boom")
        return sine_residual(p, x, data)

    p = _params()
    with pytest.raises(KeyError, match="boom"):
        minimize(failing, p, args=(x, data))
    assert [p[n].value for n in NAMES] == [10.0, 3.05, 0.0, 0.02]


# -- 3.4 the table of fit results --------------------------------------------------------------------
def test_results_table(damped_sine):
    """nfev ... redchi, aic, bic, covar, var_names, init_vals, engine hold the manual's quantities."""
    x, data, _ = damped_sine
    calls = []

    def counted(p, x, data):
        calls.append(1)
        return sine_residual(p, x, data)

    p = _params()
    p["decay"].vary = False
    p.add("half_period", expr="pi / omega")
    m = minimize(counted, p, args=(x, data))
    assert m.success is True and m.errorbars is True
    assert isinstance(m.message, str) and m.message
    assert m.ier in (1, 2, 3, 4) and isinstance(m.lmdif_message, str) and m.lmdif_message
    assert m.nfev == m.engine_extras["minpack_nfev"]
    assert m.nfev + m.nfev_errorbars <= len(calls) <= m.nfev + m.nfev_errorbars + 1
    assert m.var_names == ["amp", "omega", "shift"] and m.nvarys == 3
    assert m.init_vals == [10.0, 3.05, 0.0]
    assert m.ndata == x.size and m.nfree == x.size - 3
    expected = sine_residual(p, x, data)
    assert np.allclose(m.residual, expected, rtol=0, atol=1e-12)
    assert m.chisqr == pytest.approx(float(expected @ expected), rel=1e-12)
    assert m.redchi == pytest.approx(m.chisqr / m.nfree, rel=1e-12)
    n, k = m.ndata, m.nvarys
    assert m.aic == pytest.approx(n * math.log(m.chisqr / n) + 2 * k, rel=1e-12)
    assert m.bic == pytest.approx(n * math.log(m.chisqr / n) + math.log(n) * k, rel=1e-12)
    assert m.covar.shape == (3, 3) and np.allclose(m.covar, m.covar.T)
    assert np.allclose(np.sqrt(np.diag(m.covar)), [p[v].stderr for v in m.var_names], rtol=1e-12)
    assert m.engine == "leastsq"
    assert p["decay"].stderr == 0.0 and p["decay"].value == 0.02
    assert p["half_period"].value == pytest.approx(math.pi / p["omega"].value, rel=1e-14)


def test_params_get_best_values_stderr_and_symmetric_correl(damped_sine):
    """Each varied Parameter gets stderr and a correl dict over the other varied ones, symmetric."""
    x, data, _ = damped_sine
    p = _params()
    m = minimize(sine_residual, p, args=(x, data))
    for a in NAMES:
        assert p[a].stderr > 0 and set(p[a].correl) == set(NAMES) - {a}
        assert p[a].init_value == dict(zip(NAMES, m.init_vals))[a]
        for b in p[a].correl:
            assert p[a].correl[b] == pytest.approx(p[b].correl[a], abs=1e-12)
            i, j = m.var_names.index(a), m.var_names.index(b)
            assert p[a].correl[b] == pytest.approx(m.covar[i, j] / math.sqrt(m.covar[i, i] * m.covar[j, j]))
            assert -1 <= p[a].correl[b] <= 1


# -- 3.5 prepare_fit ------------------------------------------------------------------------------
def test_prepare_fit_then_call_the_residual_yourself(damped_sine):
    """After prepare_fit() the residual can be called with consistent expression values (section 3.5)."""
    x, data, _ = damped_sine

    def my_residual(p, x, data=None):
        v = {n: p[n] for n in NAMES}
        v["omega"] = p["omega2"]  # the model uses the expression parameter
        return sine_residual(v, x, data)

    p_fit = _params()
    p_fit["omega"].value = 1.5
    p_fit.add("omega2", expr="2 * omega")
    myfit = Minimizer(my_residual, p_fit, fcn_args=(x,), fcn_kws={"data": data})
    assert p_fit["omega2"].value is None
    myfit.prepare_fit()
    assert p_fit["omega2"].value == 3.0
    init = my_residual(p_fit, x)
    assert np.allclose(init, 10 * np.sin(3.0 * x) * np.exp(-x * x * 0.02))
    assert myfit.leastsq()
    assert p_fit["omega2"].value == pytest.approx(3.0, abs=1e-3)


def test_prepare_fit_without_varied_parameters_is_an_error():
    """No varied parameter: a clear error before any evaluation."""
    p = Parameters()
    p.add("a", value=1, vary=False)
    with pytest.raises(Exception, match="no parameter is varied"):
        Minimizer(lambda q: np.zeros(2), p).prepare_fit()


def test_max_nfev_stop_is_not_a_success_and_keeps_best_values(damped_sine):
    """fitcore's own max_nfev stops the fit: success False, params hold the best values seen."""
    x, data, _ = damped_sine
    p = _params()
    start_chi = float(np.sum(sine_residual(p, x, data) ** 2))
    m = minimize(sine_residual, p, args=(x, data), max_nfev=12)
    assert m.success is False and m.aborted and m.nfev == 12 and "max_nfev" in m.message
    assert m.chisqr < start_chi
    assert float(np.sum(sine_residual(p, x, data) ** 2)) == pytest.approx(m.chisqr, rel=1e-12)


def test_not_moving_from_a_non_minimum_start_is_not_a_success(damped_sine):
    """With tolerances so loose MINPACK stops at once, the unmoved fit is reported as a failure."""
    x, data, _ = damped_sine
    p = _params()
    m = minimize(sine_residual, p, args=(x, data), ftol=1e10, xtol=1e10)
    assert m.ier in (1, 2, 3, 4)  # MINPACK itself claims convergence
    assert m.success is False and "did not move" in m.message
    assert p["omega"].value == pytest.approx(3.05, rel=1e-6)


def test_start_at_the_exact_minimum_is_a_success():
    """Noise-free data and a start at the truth: not moving is correct, and success is True."""
    x = np.linspace(0, 10, 50)
    y = 3.0 * np.exp(-x / 2.0)
    p = Parameters()
    p.add("a", value=3.0)
    p.add("t", value=2.0)
    m = minimize(lambda q: q["a"].value * np.exp(-x / q["t"].value) - y, p)
    assert m.success is True and m.chisqr == 0.0


# -- Dfun ----------------------------------------------------------------------------------
@pytest.mark.parametrize("bounded", [False, True])
def test_dfun_gives_the_same_answer_with_fewer_evaluations(damped_sine, bounded):
    """A user Jacobian (mapped through the bound transform) reaches the same optimum in fewer nfev."""
    x, data, _ = damped_sine
    p_fd, p_an = _params(bounded), _params(bounded)
    m_fd = minimize(sine_residual, p_fd, args=(x, data))
    m_an = minimize(sine_residual, p_an, args=(x, data), Dfun=_jac)
    assert m_fd.success and m_an.success
    assert m_an.nfev < m_fd.nfev and m_an.engine_extras["minpack_njev"] > 0
    for n in NAMES:
        assert p_an[n].value == pytest.approx(p_fd[n].value, abs=1e-4 * p_fd[n].stderr)
        assert p_an[n].stderr == pytest.approx(p_fd[n].stderr, rel=1e-4)


def test_dfun_col_deriv(damped_sine):
    """col_deriv=True: Dfun returns (nvar, ndata) and the fit is the same."""
    x, data, _ = damped_sine
    p1, p2 = _params(True), _params(True)
    minimize(sine_residual, p1, args=(x, data), Dfun=_jac)
    minimize(sine_residual, p2, args=(x, data), Dfun=lambda p, x, d: _jac(p, x, d).T, col_deriv=True)
    assert [p1[n].value for n in NAMES] == pytest.approx([p2[n].value for n in NAMES], rel=1e-10)


def test_dfun_internal_jacobian_matches_finite_differences(damped_sine, fresh_registry):
    """The Jacobian a transform engine receives under bounds is d residual / d internal (chain rule applied)."""
    x, data, _ = damped_sine
    checked = []

    def engine(problem, **options):
        u = problem.x0 + 0.05
        jac = problem.jacobian(u)
        r0 = problem.residual(u).copy()
        fd = np.empty_like(jac)
        for j in range(u.size):
            h = 1e-7 * max(1.0, abs(u[j]))
            v = u.copy()
            v[j] += h
            fd[:, j] = (problem.residual(v) - r0) / h
        checked.append(np.max(np.abs(jac - fd)) / np.max(np.abs(fd)))
        return EngineResult(x=problem.x0, success=False, message="checked the Jacobian")

    plugins.register(SpecPlugin(EngineSpec(name="jacobian-probe", engine=engine, summary="checks problem.jacobian")),
                     name="jacobian-probe")
    minimize(sine_residual, _params(True), args=(x, data), Dfun=_jac, engine="jacobian-probe")
    assert checked and checked[0] < 1e-5


def test_dfun_wrong_shape_is_an_error(damped_sine):
    """A Dfun returning the wrong shape is a clear error."""
    x, data, _ = damped_sine
    with pytest.raises(ValueError, match=r"Dfun returned shape \(3, 301\); expected \(ndata, 4\)"):
        minimize(sine_residual, _params(), args=(x, data), Dfun=lambda p, x, d: np.zeros((3, x.size)))


# -- engines and options ----------------------------------------------------------------------
def test_unknown_engine_lists_installed_engines_with_did_you_mean(damped_sine):
    """engine='leastsqq' raises EngineNotFoundError naming 'leastsq' as installed and as the guess."""
    x, data, _ = damped_sine
    p = _params()
    with pytest.raises(EngineNotFoundError, match=r"unknown engine 'leastsqq'\. Did you mean 'leastsq'\?"
                                                  r" Installed engines: .*leastsq") as info:
        minimize(sine_residual, p, args=(x, data), engine="leastsqq")
    assert "leastsq" in info.value.available
    assert p["amp"].value == 10.0


@pytest.mark.parametrize("where", ["minimize", "Minimizer", "leastsq"])
def test_unknown_engine_option_is_an_error(damped_sine, where):
    """A misspelt leastsq option is refused (with the right spelling), never ignored."""
    x, data, _ = damped_sine
    calls = []

    def counted(p, x, data):
        calls.append(1)
        return sine_residual(p, x, data)

    with pytest.raises(EngineOptionError, match=r"no option 'xtoll'\. Did you mean 'xtol'\?") as info:
        if where == "minimize":
            minimize(counted, _params(), args=(x, data), xtoll=1e-8)
        elif where == "Minimizer":
            Minimizer(counted, _params(), (x, data), xtoll=1e-8).leastsq()
        else:
            Minimizer(counted, _params(), (x, data)).leastsq(xtoll=1e-8)
    assert info.value.option == "xtoll" and calls == []


_HIDDEN = textwrap.dedent("""
    import numpy as np, fitcore
    p = fitcore.Parameters(); p.add('a', value=1.0)
    m = fitcore.Minimizer(lambda q: np.array([q['a'].value - 2.0, 0.0]), p)
    print(sorted(e.name for e in fitcore.list_engines()))
    for method in ('lbfgsb', 'anneal'):
        try:
            getattr(m, method)()
        except fitcore.EngineError as exc:
            print(method, 'ERR', type(exc).__name__, exc)
        else:
            print(method, 'RAN')
    print('a', p['a'].value)
""")


def test_lbfgsb_and_anneal_raise_a_clear_error_while_not_installed():
    """With only the core and leastsq loaded, .lbfgsb()/.anneal() raise saying why, before any evaluation."""
    env = dict(os.environ, FITCORE_LOAD_PLUGINS="fitcore,fitcore-engine-leastsq")
    out = subprocess.run([sys.executable, "-c", _HIDDEN], env=env, capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "['leastsq']"
    for line, method in zip(lines[1:3], ("lbfgsb", "anneal")):
        assert line.startswith(f"{method} ERR EngineUnavailableError engine '{method}'")
        assert "blocked" in line and "FITCORE_LOAD_PLUGINS" in line
    assert lines[3] == "a 1.0"


def test_engine_methods_dispatch_by_name(monkeypatch):
    """Minimizer.lbfgsb/anneal/leastsq ask for exactly the engine of their name."""
    asked = []

    def fake(self, engine="leastsq", **kws):
        asked.append((engine, kws))
        return True

    monkeypatch.setattr(Minimizer, "minimize", fake)
    m = Minimizer(lambda q: np.zeros(2), Parameters())
    m.leastsq(xtol=1)
    m.lbfgsb(factr=2)
    m.anneal(seed=3)
    assert asked == [("leastsq", {"xtol": 1}), ("lbfgsb", {"factr": 2}), ("anneal", {"seed": 3})]


def test_bad_constructor_arguments():
    """A non-callable function or a plain dict of params is refused at construction."""
    with pytest.raises(TypeError, match="callable"):
        Minimizer(3.0, Parameters())
    with pytest.raises(TypeError, match="Parameters"):
        Minimizer(lambda p: np.zeros(2), {"a": 1.0})


def test_bounds_on_an_expression_parameter_clip_its_value():
    """Bounds on an expression parameter clip the expression's value (lmfit's behaviour), with no warning."""
    import warnings as _w

    p = Parameters()
    p.add("a", value=2.0)
    p.add("b", expr="a*2", max=1.0)
    with _w.catch_warnings():
        _w.simplefilter("error")
        Minimizer(lambda q: np.array([q["a"].value - 2.45, q["b"].value - 4.9, 0.0]), p).leastsq()
    assert p["a"].value == pytest.approx(2.45, rel=1e-6)
    assert p["b"].value == 1.0  # 2 * 2.45 clipped onto max


def test_refit_keeps_the_original_init_value(toy_4_2):
    """Manual 4.2: ``mi = minimize(...)`` then ``mi.leastsq()`` reports ``initial=`` the first start."""
    x, y = toy_4_2
    p = Parameters()
    p.add_many(("a", 0.1), ("b", 1))

    def residual(q):
        return 1 / (q["a"].value * x) + q["b"].value - y

    mi = minimize(residual, p)
    first = [p["a"].value, p["b"].value]
    assert mi.leastsq()
    assert (p["a"].init_value, p["b"].init_value) == (0.1, 1.0)
    assert mi.init_vals == first  # where this fit itself started
    p["b"].value = 1.5  # a value set by hand starts anew; the untouched one keeps its start
    assert mi.leastsq()
    assert (p["a"].init_value, p["b"].init_value) == (0.1, 1.5)
    other = minimize(residual, p)  # another Minimizer starts from what it is given
    assert other.success and p["a"].init_value == other.init_vals[0]
