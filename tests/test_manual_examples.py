"""Every example of the manual's chapters 2, 3 and 5, in Python 3, checked against truth and scipy.

Each fit runs on generated data with known true values, and is compared with an
independent computation: ``scipy.optimize.leastsq`` on the equivalent plain
function of a vector (values, and standard errors from ``cov_x * redchi``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import leastsq as scipy_leastsq

from fitcore import Minimizer, Parameter, Parameters, minimize


def scipy_fit(fun, x0):
    """Best values and standard errors from scipy.optimize.leastsq on a plain residual of a vector."""
    best, cov, _, mesg, ier = scipy_leastsq(fun, np.asarray(x0, dtype=float), full_output=True,
                                            xtol=1e-12, ftol=1e-12)
    assert ier in (1, 2, 3, 4), mesg
    r = fun(best)
    return best, np.sqrt(np.diag(cov) * float(r @ r) / (r.size - len(x0))), cov * float(r @ r) / (r.size - len(x0))


def agree(params, names, best, errs, value_tol=0.01):
    """fitcore's values within value_tol standard errors of scipy's, and the same standard errors."""
    for name, v, e in zip(names, best, errs):
        assert params[name].value == pytest.approx(v, abs=value_tol * e), name
        assert params[name].stderr == pytest.approx(e, rel=2e-3), name


def near_truth(params, truth, nsigma=4.0):
    """Each fitted value within nsigma standard errors of the value that generated the data."""
    for name, val in truth.items():
        assert abs(params[name].value - val) < nsigma * params[name].stderr, (name, params[name].value, val)


# -- chapter 2 ------------------------------------------------------------------------------------
@pytest.fixture
def sine_data():
    """x, data for the chapter 2 damped sine: amp*sin(x*freq + phase)*exp(-x*x*decay) + noise."""
    rng = np.random.default_rng(2012)
    x = np.linspace(0.0, 15.0, 301)
    truth = {"amp": 12.0, "phase": 0.25, "frequency": 3.0, "decay": 0.008}
    data = truth["amp"] * np.sin(x * truth["frequency"] + truth["phase"]) * np.exp(-x * x * truth["decay"])
    return x, data + rng.normal(scale=0.3, size=x.size), truth


def plain_residual(vars, x, data):
    """The chapter 2 opening residual of a list of variables, as written for scipy."""
    amp, phaseshift, freq, decay = vars
    model = amp * np.sin(x * freq + phaseshift) * np.exp(-x * x * decay)
    return data - model


def residual(params, x, data):
    """The section 2.1 residual of Parameters."""
    amp = params["amp"].value
    pshift = params["phase"].value
    freq = params["frequency"].value
    decay = params["decay"].value
    model = amp * np.sin(x * freq + pshift) * np.exp(-x * x * decay)
    return data - model


def test_ch2_scipy_version_and_parameters_version_agree(sine_data):
    """The chapter opening: leastsq on vars=[10, 0.2, 3, 0.007] and minimize on Parameters agree."""
    x, data, truth = sine_data
    vars = [10.0, 0.2, 3.0, 0.007]
    best, errs, _ = scipy_fit(lambda v: plain_residual(v, x, data), vars)
    params = Parameters()
    params.add("amp", value=10)
    params.add("decay", value=0.007)
    params.add("phase", value=0.2)
    params.add("frequency", value=3.0)
    out = minimize(residual, params, args=(x, data))
    assert out.success and out.errorbars
    agree(params, ["amp", "phase", "frequency", "decay"], best, errs)
    near_truth(params, truth)


def test_ch2_1_fixed_and_bounded_then_changed_later(sine_data):
    """Section 2.1: amp fixed, decay min=0, frequency max=10; then amp.vary=True, decay.max=0.1."""
    x, data, truth = sine_data
    params = Parameters()
    params.add("amp", value=10, vary=False)
    params.add("decay", value=0.007, min=0.0)
    params.add("phase", value=0.2)
    params.add("frequency", value=3.0, max=10)
    out = minimize(residual, params, args=(x, data))
    assert out.success and out.nvarys == 3 and params["amp"].value == 10.0
    best, errs, _ = scipy_fit(lambda v: plain_residual([10.0, v[0], v[1], v[2]], x, data), [0.2, 3.0, 0.007])
    agree(params, ["phase", "frequency", "decay"], best, errs)

    params["amp"].vary = True
    params["decay"].max = 0.10
    for name, start in (("amp", 10), ("decay", 0.007), ("phase", 0.2), ("frequency", 3.0)):
        params[name].value = start
    out = minimize(residual, params, args=(x, data))
    assert out.success and out.nvarys == 4
    assert 0.0 <= params["decay"].value <= 0.10 and params["frequency"].value <= 10
    best, errs, _ = scipy_fit(lambda v: plain_residual(v, x, data), [10.0, 0.2, 3.0, 0.007])
    agree(params, ["amp", "phase", "frequency", "decay"], best, errs)
    near_truth(params, truth)


def test_ch2_1_params_copy_gives_independent_variants(sine_data):
    """'the params object can be copied and modified': a fixed-frequency copy fits on its own."""
    x, data, _ = sine_data
    params = Parameters()
    params.add("amp", value=10)
    params.add("decay", value=0.007)
    params.add("phase", value=0.2)
    params.add("frequency", value=3.0)
    variant = params.copy()
    variant["frequency"].vary = False
    minimize(residual, variant, args=(x, data))
    assert params["amp"].value == 10 and params["amp"].stderr is None
    best, errs, _ = scipy_fit(lambda v: plain_residual([v[0], v[1], 3.0, v[2]], x, data), [10.0, 0.2, 0.007])
    agree(variant, ["amp", "phase", "decay"], best, errs)


def _gauss(x, amp, cen, wid):
    return amp * np.exp(-((x - cen) ** 2) / (2 * wid * wid))


def test_ch2_3_add_and_add_many_two_peaks():
    """Section 2.3: p.add('myvar', ...) and the add_many table with wid2 = 2*wid1/3, fitted to two peaks."""
    p = Parameters()
    p.add("myvar", value=1, vary=True)
    assert p["myvar"].value == 1 and p["myvar"].vary

    rng = np.random.default_rng(23)
    x = np.linspace(-2, 5, 351)
    truth = {"amp1": 9.0, "cen1": 1.1, "wid1": 0.6, "amp2": 6.0, "cen2": 2.3}
    data = (_gauss(x, truth["amp1"], truth["cen1"], truth["wid1"])
            + _gauss(x, truth["amp2"], truth["cen2"], 2 * truth["wid1"] / 3) + rng.normal(0, 0.1, x.size))
    p = Parameters()
    #      (Name,   Value,   Vary,   Min,   Max,   Expr)
    p.add_many(("amp1", 10, True, None, None, None),
               ("cen1", 1.2, True, 0.5, 2.0, None),
               ("wid1", 0.8, True, 0.1, None, None),
               ("amp2", 7.5, True, None, None, None),
               ("cen2", 1.9, True, 1.0, 3.0, None),
               ("wid2", None, False, None, None, "2*wid1/3"))

    def two_peaks(p, x, data):
        v = p.valuesdict()
        return data - _gauss(x, v["amp1"], v["cen1"], v["wid1"]) - _gauss(x, v["amp2"], v["cen2"], v["wid2"])

    out = minimize(two_peaks, p, args=(x, data))
    assert out.success and out.nvarys == 5

    def plain(v):
        a1, c1, w1, a2, c2 = v
        return data - _gauss(x, a1, c1, w1) - _gauss(x, a2, c2, 2 * w1 / 3)

    names = ["amp1", "cen1", "wid1", "amp2", "cen2"]
    best, errs, _ = scipy_fit(plain, [10, 1.2, 0.8, 7.5, 1.9])
    agree(p, names, best, errs)
    near_truth(p, truth)
    assert p["wid2"].value == pytest.approx(2 * p["wid1"].value / 3, rel=1e-14)
    assert p["wid2"].stderr == pytest.approx(2 * p["wid1"].stderr / 3, rel=1e-5)


def test_ch2_4_simple_example(capsys):
    """Section 2.4: decay fixed at 0.007; the printed loop shows each value +/- stderr."""
    rng = np.random.default_rng(24)
    x = np.linspace(0.0, 15.0, 301)
    truth = {"amp": 14.0, "phase_shift": 0.21, "omega": 3.0}
    data = 14.0 * np.sin(x * 3.0 + 0.21) * np.exp(-x * x * 0.007) + rng.normal(0, 0.2, x.size)

    def residual(params, x, data=None):
        amp = params["amp"].value
        shift = params["phase_shift"].value
        omega = params["omega"].value
        decay = params["decay"].value
        model = amp * np.sin(x * omega + shift) * np.exp(-x * x * decay)
        return data - model

    params = Parameters()
    params.add("amp", value=10)
    params.add("decay", value=0.007, vary=False)
    params.add("phase_shift", value=0.2)
    params.add("omega", value=3.0)
    result = minimize(residual, params, args=(x, data))
    print(result.chisqr)
    print("Best-Fit Values:")
    for name, par in params.items():
        print(" %s = %.4f +/- %.4f " % (name, par.value, par.stderr))  # noqa: UP031 - the manual's line
    out = capsys.readouterr().out.splitlines()
    assert float(out[0]) == pytest.approx(result.chisqr) and out[1] == "Best-Fit Values:"
    assert out[3] == " decay = 0.0070 +/- 0.0000 "
    best, errs, _ = scipy_fit(lambda v: residual({"amp": _P(v[0]), "phase_shift": _P(v[1]), "omega": _P(v[2]),
                                                  "decay": _P(0.007)}, x, data), [10, 0.2, 3.0])
    agree(params, ["amp", "phase_shift", "omega"], best, errs)
    near_truth(params, truth)
    assert result.chisqr == pytest.approx(float(np.sum(residual(params, x, data) ** 2)), rel=1e-12)
    assert result.redchi == pytest.approx(0.2**2, rel=0.25)  # the noise that was added


class _P:
    """Only .value, so a Parameters-style residual runs on plain numbers for scipy."""

    def __init__(self, value):
        self.value = value


# -- chapter 3 ------------------------------------------------------------------------------------
def test_ch3_1_minimize_with_args_kws_engine_and_leastsq_kws(sine_data):
    """Section 3.1: minimize(function, params, args=, kws=, engine='leastsq', **leastsq_kws)."""
    x, data, truth = sine_data

    def resid(params, x, data=None, scale=1.0):
        return residual(params, x, data) / scale

    params = Parameters()
    for name, val in (("amp", 10), ("decay", 0.007), ("phase", 0.2), ("frequency", 3.0)):
        params.add(name, value=val)
    out = minimize(resid, params, args=(x,), kws={"data": data, "scale": 0.3}, engine="leastsq", xtol=1e-9, ftol=1e-9)
    assert isinstance(out, Minimizer) and out.success
    assert out.redchi == pytest.approx(1.0, rel=0.2)  # residual divided by the true noise
    best, errs, _ = scipy_fit(lambda v: plain_residual(v, x, data) / 0.3, [10.0, 0.2, 3.0, 0.007])
    agree(params, ["amp", "phase", "frequency", "decay"], best, errs, value_tol=1e-3)
    near_truth(params, truth)


def test_ch3_2_writing_a_fitting_function():
    """Section 3.2: the period/shift residual, x positional and data optional (model when None)."""
    def residual(pars, x, data=None):
        amp = pars["amp"].value
        period = pars["period"].value
        shift = pars["shift"].value
        decay = pars["decay"].value
        if abs(shift) > math.pi / 2:
            shift = shift - np.sign(shift) * math.pi
        if abs(period) < 1.0e-10:
            period = np.sign(period) * 1.0e-10
        model = amp * np.sin(shift + x / period) * np.exp(-x * x * decay * decay)
        if data is None:
            return model
        return model - data

    rng = np.random.default_rng(32)
    x = np.linspace(0, 20, 401)
    truth = {"amp": 5.0, "period": 1.3, "shift": 0.4, "decay": 0.09}
    data = residual({k: _P(v) for k, v in truth.items()}, x) + rng.normal(0, 0.05, x.size)
    params = Parameters()
    params.add("amp", value=4.0)
    params["period"] = Parameter(value=1.25, min=1.0e-10)
    params.add("shift", value=0.2)
    params.add("decay", value=0.1)
    out = minimize(residual, params, args=(x,), kws={"data": data})
    assert out.success
    assert np.array_equal(residual(params, x), residual({k: _P(params[k].value) for k in truth}, x))
    names = ["amp", "period", "shift", "decay"]
    best, errs, _ = scipy_fit(lambda v: residual(dict(zip(names, map(_P, v))), x, data), [4.0, 1.25, 0.2, 0.1])
    agree(params, names, best, np.abs(errs))
    params["decay"].value = abs(params["decay"].value)  # decay enters squared: its sign is not identified
    near_truth(params, truth)


def test_ch3_5_prepare_fit_then_initial_residual():
    """Section 3.5: Minimizer(..., fcn_args=(x,), fcn_kws={'data': data}); prepare_fit(); my_residual(p_fit, x)."""
    rng = np.random.default_rng(35)
    x = np.linspace(0, 10, 201)
    data = 3.0 * np.exp(-x / 2.5) + 0.5 + rng.normal(0, 0.02, x.size)

    def my_residual(p, x, data=None):
        model = p["amp"].value * np.exp(-x / p["tau"].value) + p["offset"].value
        return model if data is None else model - data

    p_fit = Parameters()
    p_fit.add("amp", value=2.0)
    p_fit.add("rate", value=0.3, min=0.01)
    p_fit.add("tau", expr="1 / rate")
    p_fit.add("offset", value=0.0)
    myfit = Minimizer(my_residual, p_fit, fcn_args=(x,), fcn_kws={"data": data})
    myfit.prepare_fit()
    init = my_residual(p_fit, x)
    assert np.allclose(init, 2.0 * np.exp(-x * 0.3))
    assert myfit.leastsq()
    best, errs, _ = scipy_fit(lambda v: v[0] * np.exp(-x * v[1]) + v[2] - data, [2.0, 0.3, 0.0])
    agree(p_fit, ["amp", "rate", "offset"], best, errs)
    assert p_fit["tau"].value == pytest.approx(2.5, abs=4 * p_fit["tau"].stderr)
    assert p_fit["tau"].stderr == pytest.approx(errs[1] / best[1] ** 2, rel=2e-3)  # d(1/r)/dr = -1/r^2


# -- chapter 5 ------------------------------------------------------------------------------------
def test_ch5_1_fractions_add_to_one():
    """Section 5.1: frac_curve2 = 1 - frac_curve1 in a two-component mixture fit."""
    rng = np.random.default_rng(51)
    x = np.linspace(0, 10, 301)
    c1, c2 = np.exp(-x / 1.5), 1 / (1 + (x - 6) ** 2)
    data = 0.35 * c1 + 0.65 * c2 + rng.normal(0, 0.01, x.size)

    def resid(p):
        return p["frac_curve1"].value * c1 + p["frac_curve2"].value * c2 - data

    pars = Parameters()
    pars.add("frac_curve1", value=0.5, min=0, max=1)
    pars.add("frac_curve2", expr="1-frac_curve1")
    out = minimize(resid, pars)
    assert out.success and out.nvarys == 1
    best, errs, _ = scipy_fit(lambda v: v[0] * c1 + (1 - v[0]) * c2 - data, [0.5])
    agree(pars, ["frac_curve1"], best, errs)
    assert pars["frac_curve1"].value + pars["frac_curve2"].value == pytest.approx(1.0, abs=1e-15)
    assert pars["frac_curve2"].stderr == pytest.approx(pars["frac_curve1"].stderr, rel=1e-6)
    near_truth(pars, {"frac_curve1": 0.35, "frac_curve2": 0.65})


def test_ch5_2_peak_expressions():
    """Section 5.2: amp_2 = 2 - amp_1**2, cen_2 = cen_1*wid_2/max(wid_1, 0.001), wid_2 = sqrt(pi)*wid_1."""
    rng = np.random.default_rng(52)
    x = np.linspace(0, 6, 401)
    a1, c1, w1 = 0.6, 2.0, 0.25
    w2 = math.sqrt(math.pi) * w1
    truth = {"amp_1": a1, "cen_1": c1, "wid_1": w1, "amp_2": 2 - a1**2, "cen_2": c1 * w2 / w1, "wid_2": w2}
    data = _gauss(x, a1, c1, w1) + _gauss(x, truth["amp_2"], truth["cen_2"], w2) + rng.normal(0, 0.01, x.size)

    pars = Parameters()
    pars.add("amp_1", value=0.5, min=0, max=1)
    pars.add("cen_1", value=2.2)
    pars.add("wid_1", value=0.2)
    pars.add("amp_2", expr="(2.0 - amp_1**2)")
    pars.add("cen_2", expr="cen_1 * wid_2 / max(wid_1, 0.001)")
    pars.add("wid_2", expr="sqrt(pi)*wid_1")

    def resid(p):
        v = p.valuesdict()
        return _gauss(x, v["amp_1"], v["cen_1"], v["wid_1"]) + _gauss(x, v["amp_2"], v["cen_2"], v["wid_2"]) - data

    out = minimize(resid, pars)
    assert out.success and out.nvarys == 3

    def plain(v):
        am, ce, wi = v
        wi2 = math.sqrt(math.pi) * wi
        return _gauss(x, am, ce, wi) + _gauss(x, 2 - am**2, ce * wi2 / max(wi, 0.001), wi2) - data

    best, errs, cov = scipy_fit(plain, [0.5, 2.2, 0.2])
    agree(pars, ["amp_1", "cen_1", "wid_1"], best, errs)
    near_truth(pars, truth)
    g = np.array([-2 * best[0], 0.0, 0.0])  # amp_2's gradient: independent first-order propagation
    assert pars["amp_2"].stderr == pytest.approx(math.sqrt(g @ cov @ g), rel=2e-3)
    assert pars["wid_2"].stderr == pytest.approx(math.sqrt(math.pi) * errs[2], rel=2e-3)


def test_ch5_2_if_expression_in_a_fit():
    """Section 5.2: bounded = param_a if test_val/2. > 100 else param_b, used by a model."""
    rng = np.random.default_rng(53)
    x = np.linspace(0, 4, 81)
    y = 1.5 + 0.75 * x + rng.normal(0, 0.05, x.size)

    def resid(p):
        return p["intercept"].value + p["bounded"].value * x - y

    for test_val, slope_name in ((150.0, "param_b"), (300.0, "param_a")):
        pars = Parameters()
        pars.add("intercept", value=0.0)
        pars.add("param_a", value=1.0)
        pars.add("param_b", value=1.0)
        pars.add("test_val", value=test_val, vary=False)
        pars.add("bounded", expr="param_a if test_val/2. > 100 else param_b")
        pars["param_b" if slope_name == "param_a" else "param_a"].vary = False
        minimize(resid, pars)
        slope, intercept = np.polyfit(x, y, 1)
        assert pars[slope_name].value == pytest.approx(slope, rel=1e-6)
        assert pars["bounded"].value == pars[slope_name].value
        assert pars["intercept"].value == pytest.approx(intercept, rel=1e-6)


def lorentzian(x, amp, cen, wid):
    "lorentzian function: wid = half-width at half-max"
    return amp / (1 + ((x - cen) / wid) ** 2)


def test_ch5_3_lorentzian_in_the_asteval_symtable():
    """Section 5.3: fitter.asteval.symtable['lorentzian'] = lorentzian, then used in a constraint."""
    rng = np.random.default_rng(54)
    x = np.linspace(-4, 6, 401)
    truth = {"amp": 3.0, "cen": 0.5, "wid": 0.8}
    # the second peak's height is tied to the first peak's value at x = 2
    h2 = lorentzian(2.0, **truth)
    data = lorentzian(x, **truth) + lorentzian(x, h2, 3.5, 0.4) + rng.normal(0, 0.01, x.size)

    def resid(p):
        v = p.valuesdict()
        return lorentzian(x, v["amp"], v["cen"], v["wid"]) + lorentzian(x, v["amp2"], 3.5, 0.4) - data

    params = Parameters()
    params.add("amp", value=2.0)
    params.add("cen", value=0.0)
    params.add("wid", value=1.0, min=0.05)
    params.add("amp2", expr="lorentzian(2.0, amp, cen, wid)")
    fitter = Minimizer(resid, params)
    fitter.asteval.symtable["lorentzian"] = lorentzian
    assert fitter.leastsq()

    def plain(v):
        return lorentzian(x, *v) + lorentzian(x, lorentzian(2.0, *v), 3.5, 0.4) - data

    best, errs, _ = scipy_fit(plain, [2.0, 0.0, 1.0])
    agree(params, ["amp", "cen", "wid"], best, errs)
    near_truth(params, truth)
    assert params["amp2"].value == pytest.approx(lorentzian(2.0, *best), rel=1e-6)
