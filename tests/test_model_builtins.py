"""Built-in models: guess on synthetic data recovers the truth; derived fwhm and height are the curve's."""

import importlib.util

import numpy as np
import pytest

import fitcore
import fitcore.model_support
from fitcore import models as M

X = np.linspace(-6.0, 8.0, 401)
XPOS = np.linspace(0.2, 10.0, 300)

# model name -> (constructor keywords, true values, x); each a shape its guess can start from
TRUTH = {
    "constant": ({}, dict(c=2.5), X),
    "linear": ({}, dict(slope=0.7, intercept=-1.2), X),
    "quadratic": ({}, dict(a=0.3, b=-0.5, c=2.0), X),
    "polynomial": ({"degree": 3}, dict(c0=1.0, c1=-0.5, c2=0.2, c3=0.05), X),
    "sine": ({}, dict(amplitude=2.0, frequency=1.3, shift=0.7), X),
    "exponential": ({}, dict(amplitude=3.0, decay=2.5), XPOS),
    "powerlaw": ({}, dict(amplitude=1.5, exponent=0.8), XPOS),
    "gaussian": ({}, dict(amplitude=5.0, center=1.0, sigma=0.8), X),
    "lorentzian": ({}, dict(amplitude=5.0, center=1.0, sigma=0.6), X),
    "split_lorentzian": ({}, dict(amplitude=5.0, center=1.0, sigma=0.6, sigma_r=0.9), X),
    "voigt": ({}, dict(amplitude=5.0, center=1.0, sigma=0.6), X),
    "pvoigt": ({}, dict(amplitude=5.0, center=1.0, sigma=0.7, fraction=0.3), X),
    "moffat": ({}, dict(amplitude=5.0, center=1.0, sigma=0.9, beta=1.5), X),
    "pearson7": ({}, dict(amplitude=5.0, center=1.0, sigma=0.9, expon=1.8), X),
    "students_t": ({}, dict(amplitude=5.0, center=1.0, sigma=2.5), X),
    "breit_wigner": ({}, dict(amplitude=5.0, center=1.0, sigma=1.2, q=3.0), X),
    "damped_oscillator": ({}, dict(amplitude=2.0, center=4.0, sigma=0.1), XPOS),
    "expgaussian": ({}, dict(amplitude=5.0, center=0.5, sigma=0.6, gamma=1.2), X),
    "skewed_gaussian": ({}, dict(amplitude=5.0, center=1.0, sigma=1.0, gamma=1.5), X),
    "step": ({"form": "erf"}, dict(amplitude=3.0, center=1.0, sigma=0.8), X),
    "rectangle": ({"form": "erf"}, dict(amplitude=3.0, center1=-1.0, sigma1=0.5, center2=3.0, sigma2=0.7), X),
}


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_guess_on_synthetic_data_recovers_the_truth(name):
    kws, truth, x = TRUTH[name]
    model = fitcore.Model(name, **kws)
    y = model.eval(x=x, **truth)
    y = y + np.random.default_rng(7).normal(scale=1e-3 * np.ptp(y), size=x.size)
    result = model.fit(y, model.guess(y, x=x), x=x)
    assert result.success, result.message
    for pname, val in truth.items():
        assert result.params[pname].value == pytest.approx(val, rel=2e-2, abs=2e-2), pname


def _measured_fwhm(x, y):
    half = y.max() / 2
    above = np.where(y >= half)[0]
    i0, i1 = above[0], above[-1]
    left = np.interp(half, [y[i0 - 1], y[i0]], [x[i0 - 1], x[i0]])
    right = np.interp(half, [y[i1 + 1], y[i1]], [x[i1 + 1], x[i1]])
    return right - left


@pytest.mark.parametrize("cls, values, rel", [
    (M.GaussianModel, dict(amplitude=3.0, center=0.5, sigma=0.8), 1e-4),
    (M.LorentzianModel, dict(amplitude=3.0, center=0.5, sigma=0.8), 1e-4),
    (M.VoigtModel, dict(amplitude=3.0, center=0.5, sigma=0.5, gamma=0.4), 3e-4),
    (M.PseudoVoigtModel, dict(amplitude=3.0, center=0.5, sigma=0.8, fraction=0.4), 1e-4),
    (M.MoffatModel, dict(amplitude=3.0, center=0.5, sigma=0.8, beta=2.0), 1e-4),
    (M.Pearson7Model, dict(amplitude=3.0, center=0.5, sigma=0.8, expon=2.0), 1e-4),
    (M.StudentsTModel, dict(amplitude=3.0, center=0.5, sigma=3.0), 1e-4),
])
def test_derived_fwhm_and_height_are_the_curves(cls, values, rel):
    model = cls(prefix="p_")
    x = np.linspace(-15, 15, 300001)
    params = model.make_params(**values)
    if "gamma" in values:
        params["p_gamma"].set(expr="", value=values["gamma"], vary=True)
        fitcore.model_support.update_expressions(params)
    y = model.eval(params, x=x)
    assert params["p_height"].value == pytest.approx(y.max(), rel=1e-6)
    assert params["p_fwhm"].value == pytest.approx(_measured_fwhm(x, y), rel=rel)


def test_polynomial_degree_and_step_form_are_checked():
    with pytest.raises(TypeError, match="degree must be an integer from 0 to 7"):
        M.PolynomialModel(degree=8)
    with pytest.raises(ValueError, match="form='smooth'"):
        M.StepModel(form="smooth")
    assert M.PolynomialModel(degree=1).param_names == ["c0", "c1"]


def test_spline_model_follows_smooth_data():
    x = np.linspace(0, 10, 200)
    y = np.sin(x / 2) + 0.1 * x
    model = M.SplineModel(xknots=np.linspace(0, 10, 9), prefix="s_")
    result = model.fit(y, model.guess(y, x), x=x)
    assert np.max(np.abs(result.best_fit - y)) < 5e-3


HAVE_LMFIT = importlib.util.find_spec("lmfit") is not None


@pytest.mark.skipif(not HAVE_LMFIT, reason="lmfit (the bench extra) is not installed")
@pytest.mark.parametrize("name", sorted(TRUTH))
def test_guess_and_fit_as_lmfit(name):
    """The same guess (1e-10) and best fit (values 1e-4, stderr 1e-2) as lmfit 1.3's model of that name."""
    import lmfit.models as lm

    kws, truth, x = TRUTH[name]
    ours = fitcore.Model(name, **kws)
    theirs = getattr(lm, type(ours).__name__)(**kws)
    y = ours.eval(x=x, **truth) + np.random.default_rng(11).normal(scale=0.02, size=x.size)
    gp, lp = ours.guess(y, x=x), theirs.guess(y, x=x)
    for pname in truth:
        assert gp[pname].value == pytest.approx(lp[pname].value, rel=1e-10, abs=1e-12), pname
    a, b = ours.fit(y, gp, x=x), theirs.fit(y, lp, x=x)
    for pname, par in b.params.items():
        assert a.params[pname].value == pytest.approx(par.value, rel=1e-4, abs=1e-9), pname
        if par.stderr:
            assert a.params[pname].stderr == pytest.approx(par.stderr, rel=1e-2), pname


@pytest.mark.parametrize("model, values", [
    (M.GaussianModel(), dict(amplitude=2, center=0.3, sigma=0.7)),
    (M.LorentzianModel(), dict(amplitude=2, center=0.3, sigma=0.7)),
    (M.SineModel(), dict(amplitude=2, frequency=1.3, shift=0.2)),
    (M.ExponentialModel(), dict(amplitude=2, decay=1.7)),
    (M.LinearModel(), dict(slope=2, intercept=1)),
    (M.QuadraticModel(), dict(a=1, b=2, c=3)),
    (M.ConstantModel(), dict(c=2)),
    (M.GaussianModel(prefix="g_") * M.LinearModel(prefix="l_"),
     dict(g_amplitude=2, g_center=0.3, g_sigma=0.7, l_slope=0.2, l_intercept=1)),
    (M.GaussianModel(prefix="g_") / M.ExponentialModel(prefix="e_") - M.ConstantModel(prefix="c_"),
     dict(g_amplitude=2, g_center=0.3, g_sigma=0.7, e_amplitude=2, e_decay=3, c_c=0.5)),
])
def test_analytic_derivatives_match_differences(model, values):
    x = np.linspace(-3, 4, 50)
    params = model.make_params(**values)
    derivs = model.derivatives(params, x=x)
    assert set(derivs) == set(values)
    for name in derivs:
        h = 1e-6 * max(1.0, abs(params[name].value))
        up, down = params.copy(), params.copy()
        up[name].value += h
        down[name].value -= h
        numeric = (model.eval(up, x=x) - model.eval(down, x=x)) / (2 * h)
        np.testing.assert_allclose(derivs[name], numeric, rtol=1e-6, atol=1e-8 * np.max(np.abs(numeric)))


def test_fits_use_analytic_derivatives_only_where_they_hold():
    x = np.linspace(-5, 5, 101)
    model = M.GaussianModel(prefix="a_") + M.GaussianModel(prefix="b_")
    y = model.eval(x=x, a_amplitude=3, a_center=-1, a_sigma=0.8, b_amplitude=2, b_center=1.5, b_sigma=0.6)
    params = model.make_params(a_amplitude=2, a_center=-0.8, a_sigma=1, b_amplitude=1, b_center=1.2, b_sigma=1)
    with_jac = model.fit(y, params, x=x)
    assert "Dfun" in with_jac.core_options and with_jac.params["b_sigma"].value == pytest.approx(0.6, rel=1e-6)
    params["b_sigma"].expr = "a_sigma"  # an expression feeds the function: differences, not the derivatives
    tied = model.fit(y, params, x=x)
    assert "Dfun" not in tied.core_options
    assert fitcore.Model(lambda x, a: a * x).derivatives(x=x, a=1.0) is None
    voigt = M.VoigtModel()
    assert "Dfun" not in voigt.fit(y, voigt.make_params(amplitude=3, center=-1, sigma=0.8), x=x).core_options


def test_profile_refits_with_analytic_derivatives():
    x = np.linspace(-5, 5, 201)
    model = M.GaussianModel(prefix="g_") + M.LinearModel(prefix="l_")
    y = model.eval(x=x, g_amplitude=6, g_center=0.5, g_sigma=0.8, l_slope=0.1, l_intercept=0.5)
    y = y + np.random.default_rng(1).normal(scale=0.02, size=x.size)
    result = model.fit(y, model.make_params(g_amplitude=5, g_center=0, g_sigma=1, l_slope=0, l_intercept=0), x=x)
    assert "Dfun" in result.core_options
    ci = result.conf_interval(p_names=["g_center", "l_slope"], sigmas=[0.6827])
    for name in ("g_center", "l_slope"):
        low, best, high = (v for _, v in ci[name])
        assert high - low == pytest.approx(2 * result.params[name].stderr, rel=0.02)
