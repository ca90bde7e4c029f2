"""Scripts as lmfit 1.3 users write them, run with lmfit and with fitcore side by side (lmfit: the bench extra).

Each scenario is written once as a function of the library module, so that the very
same code runs under ``lmfit`` and under ``fitcore``; best values must agree to 1e-4
and standard errors to 1e-2 (relative).
"""

import importlib.util

import numpy as np
import pytest

import fitcore

pytestmark = pytest.mark.skipif(importlib.util.find_spec("lmfit") is None,
                                reason="lmfit (the bench extra) is not installed")

RNG_SEED = 20261204


def _data():
    rng = np.random.default_rng(RNG_SEED)
    x = np.linspace(0, 20, 301)
    return x, rng


def peak_function_model(lib):
    """A user's own peak function wrapped in Model, starting values given to fit."""
    x, rng = _data()

    def bump(x, amp, cen, wid):
        return amp * np.exp(-((x - cen) ** 2) / (2 * wid**2)) / (np.sqrt(2 * np.pi) * wid)

    y = bump(x, 9.0, 8.5, 1.4) + rng.normal(scale=0.1, size=x.size)
    return lib.Model(bump).fit(y, x=x, amp=5, cen=7, wid=1)


def two_peaks_sharing_a_width(lib):
    """Two built-in peaks and a line; the second peak's width tied to the first by an expression."""
    x, rng = _data()
    truth = lib.models.GaussianModel(prefix="a_").eval(x=x, amplitude=20, center=6, sigma=1.1)
    truth = truth + lib.models.LorentzianModel(prefix="b_").eval(x=x, amplitude=12, center=13, sigma=1.1)
    y = truth + 0.05 * x + 1.0 + rng.normal(scale=0.08, size=x.size)
    model = (lib.models.GaussianModel(prefix="a_") + lib.models.LorentzianModel(prefix="b_")
             + lib.models.LinearModel(prefix="l_"))
    params = model.make_params(a_amplitude=10, a_center=5.5, a_sigma=dict(value=1, min=0.1),
                               b_amplitude=10, b_center=12.5, l_slope=0, l_intercept=0)
    params["b_sigma"].set(expr="a_sigma")
    return model.fit(y, params, x=x)


def step_on_a_line_from_guesses(lib):
    """A step on a sloping background, starting values from guess(), Parameters added with +=."""
    x, rng = _data()
    y = lib.lineshapes.step(x, 8.0, 9.0, 1.3, form="erf") + 0.2 * x + rng.normal(scale=0.1, size=x.size)
    step = lib.models.StepModel(form="erf", prefix="s_")
    line = lib.models.LinearModel(prefix="l_")
    params = line.make_params(intercept=float(y.min()), slope=0)
    params += step.guess(y, x=x, center=8.0)
    return (step + line).fit(y, params, x=x)


def minimizer_with_created_params(lib):
    """A residual written with Parameter arithmetic, parameters from create_params, Minimizer.minimize."""
    x, rng = _data()
    y = 5.0 * np.sin(0.8 * x - 0.2) * np.exp(-0.01 * x * x) + rng.normal(scale=0.2, size=x.size)

    def residual(p, x, y):
        return p["amp"] * np.sin(x * p["omega"] + p["shift"]) * np.exp(-x * x * p["decay"]) - y

    params = lib.create_params(amp=dict(value=4, min=0), omega=0.75, decay=0.02,
                               shift=dict(value=0.0, min=-np.pi / 2, max=np.pi / 2))
    result = lib.Minimizer(residual, params, fcn_args=(x, y)).minimize()
    return result


def bounded_expression_clips(lib):
    """An expression parameter with bounds: its value is clipped onto them (lmfit's documented rule)."""
    x, rng = _data()
    y = 1.5 * x + 1.2 + rng.normal(scale=0.5, size=x.size)
    params = lib.create_params(slope=1.0, offset=dict(expr="slope - 0.3", max=1.2))
    model = lib.Model(lambda x, slope, offset: slope * x + offset)
    return model.fit(y, params, x=x)


@pytest.mark.parametrize("scenario", [peak_function_model, two_peaks_sharing_a_width, step_on_a_line_from_guesses,
                                      minimizer_with_created_params, bounded_expression_clips])
def test_same_answer_as_lmfit(scenario):
    import lmfit
    import lmfit.lineshapes
    import lmfit.models

    ours, theirs = scenario(fitcore), scenario(lmfit)
    assert set(ours.params) == set(theirs.params)
    for name, par in theirs.params.items():
        assert ours.params[name].value == pytest.approx(par.value, rel=1e-4, abs=1e-10), name
        if par.expr is not None and par.value in (par.min, par.max):
            # clipped onto a bound, the expression does not move with the fit: fitcore's stderr is 0 there
            # (lmfit propagates the unclipped expression's)
            assert ours.params[name].stderr == 0.0
        elif par.stderr:
            assert ours.params[name].stderr == pytest.approx(par.stderr, rel=1e-2), name
    if hasattr(theirs, "best_fit"):
        np.testing.assert_allclose(ours.best_fit, theirs.best_fit, rtol=1e-4, atol=1e-8)
        np.testing.assert_allclose(ours.eval_uncertainty(sigma=2), theirs.eval_uncertainty(sigma=2), rtol=2e-2)


def voigt_with_gamma_freed(lib):
    """A Voigt fitted with gamma tied to sigma, then refitted with vary=True set on gamma (frees its expression)."""
    x, rng = _data()
    y = lib.lineshapes.voigt(x, 30.0, 9.0, 0.8, 1.4) + rng.normal(scale=0.05, size=x.size)
    model = lib.models.VoigtModel()
    params = model.guess(y, x=x)
    model.fit(y, params, x=x)
    params["gamma"].vary = True
    return model.fit(y, params, x=x)


def conf_interval2d_chi_square_grid(lib):
    """lmfit's conf_interval2d(minimizer, result, ...) form with chi2_out: the refitted chi-square grid."""
    x = np.linspace(1, 10, 250)
    rng = np.random.default_rng(RNG_SEED)
    y = 3.0 * np.exp(-x / 2) - 5.0 * np.exp(-(x - 0.1) / 10.0) + 0.1 * rng.normal(size=x.size)

    def residual(p):
        return p["a1"] * np.exp(-x / p["t1"]) + p["a2"] * np.exp(-(x - 0.1) / p["t2"]) - y

    mini = lib.Minimizer(residual, lib.create_params(a1=4, a2=-4, t1=3, t2=9))
    result = mini.minimize()
    return lib.conf_interval2d(mini, result, "a1", "t2", 4, 3, ((3.3, 2.7), (10.6, 9.4)), chi2_out=True)


def test_freed_expression_parameter_as_lmfit():
    """vary=True on an expression parameter gives lmfit's fit (values 1e-4, stderr 1e-2)."""
    import lmfit
    import lmfit.lineshapes
    import lmfit.models

    ours, theirs = voigt_with_gamma_freed(fitcore), voigt_with_gamma_freed(lmfit)
    assert ours.params["gamma"].expr is None and ours.params["gamma"].vary
    for name, par in theirs.params.items():
        assert ours.params[name].value == pytest.approx(par.value, rel=1e-4), name
        if par.stderr:
            assert ours.params[name].stderr == pytest.approx(par.stderr, rel=1e-2), name


def test_conf_interval2d_lmfit_form_as_lmfit():
    """lmfit's conf_interval2d call, with chi2_out=True, gives lmfit's grid and chi-square values."""
    import lmfit

    ours, theirs = conf_interval2d_chi_square_grid(fitcore), conf_interval2d_chi_square_grid(lmfit)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-4)
