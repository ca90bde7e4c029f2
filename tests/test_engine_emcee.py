"""The emcee engine (fitcore-engine-emcee): posterior medians and widths against leastsq, cost fits, refusals."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import fitcore
from fitcore.errors import EngineOptionError, EngineUnavailableError

pytest.importorskip("emcee")

X = np.linspace(0.0, 10.0, 101)
SIGMA = 0.3
Y = 1.7 * X - 4.0 + np.random.default_rng(42).normal(scale=SIGMA, size=X.size)


class Line:
    """A straight-line residual counting its calls; ``weight`` divides by the noise."""

    def __init__(self, weight: float = 1.0) -> None:
        self.weight, self.calls = weight, 0

    def __call__(self, p):
        self.calls += 1
        return (p["slope"].value * X + p["offset"].value - Y) / self.weight


def line_params(slope=1.0, offset=0.0, slope_max=np.inf):
    p = fitcore.Parameters()
    p.add("slope", value=slope, max=slope_max)
    p.add("offset", value=offset)
    return p


@pytest.mark.parametrize(("weighted", "scale_covar"), [(None, True), (True, False)])
def test_medians_and_widths_match_leastsq(weighted, scale_covar):
    """Well-determined line: medians within 0.1 sigma and 1-sigma half-widths within 10% of leastsq's stderr.

    With the noise scale sampled (is_weighted None/False) the reference is leastsq's default,
    scaled covariance; with residuals divided by the true noise (is_weighted=True) the unscaled one.
    """
    weight = SIGMA if weighted else 1.0
    ref = line_params()
    fitcore.minimize(Line(weight), ref, engine="leastsq", scale_covar=scale_covar)
    p = line_params(ref["slope"].value, ref["offset"].value)  # started from the previous fit
    opts = {} if weighted is None else {"is_weighted": weighted}
    fit = fitcore.Minimizer(Line(weight), p).minimize(engine="emcee", seed=1, steps=2000, burn=300, **opts)
    assert fit.success, fit.message
    assert fit.samples is not None and fit.samples.shape[1] == 2
    for name in ("slope", "offset"):
        sigma = ref[name].stderr
        assert abs(p[name].value - ref[name].value) < 0.1 * sigma
        assert p[name].stderr == pytest.approx(sigma, rel=0.10)
        column = fit.samples[:, fit.var_names.index(name)]
        assert p[name].value == pytest.approx(float(np.median(column)), rel=1e-12)
        lo, hi = np.percentile(column, [15.865, 84.135])
        assert p[name].stderr == pytest.approx((hi - lo) / 2, rel=1e-3)
    corr = ref["slope"].correl["offset"]
    assert p["slope"].correl["offset"] == pytest.approx(corr, abs=0.05)
    assert fit.polished == 0


def test_chain_acceptance_and_autocorrelation_kept():
    """extras: the chain after burn (thinned), acceptance per walker, autocorrelation per dimension, __lnsigma."""
    p = line_params(1.7, -4.0)
    fit = fitcore.Minimizer(Line(), p).minimize(engine="emcee", seed=5, nwalkers=20, steps=600, burn=100, thin=5)
    ex = fit.engine_extras
    assert ex["chain"].shape == (100, 20, 3)  # (600 - 100) / 5 steps, 20 walkers, slope, offset, __lnsigma
    assert ex["var_names"] == ["slope", "offset", "__lnsigma"]
    assert ex["acceptance_fraction"].shape == (20,) and 0.2 < float(np.mean(ex["acceptance_fraction"])) < 0.9
    assert ex["autocorr_time"].shape == (3,) and np.all(ex["autocorr_time"] > 1)
    r = Line()(p)
    assert ex["lnsigma"] == pytest.approx(0.5 * np.log(float(r @ r) / X.size), abs=0.05)  # the data's own noise
    assert fit.samples.shape == (100 * 20, 2)
    assert "autocorrelation times long" in fit.message


def test_starts_in_a_small_ball_around_the_current_values():
    """The first step's walkers sit within 1e-3 (relative) of the values the parameters hold."""
    p = line_params(1.7, -4.0)
    fit = fitcore.Minimizer(Line(), p).minimize(engine="emcee", seed=2, steps=50, burn=0, is_weighted=False)
    first = fit.engine_extras["chain"][0]
    assert np.allclose(first[:, 0], 1.7, rtol=1e-3) and np.allclose(first[:, 1], -4.0, rtol=1e-3)


def test_flat_prior_inside_the_bounds():
    """No sample leaves [min, max]; a bound near the posterior truncates it."""
    ref = line_params()
    fitcore.minimize(Line(), ref)
    cap = ref["slope"].value + 0.5 * ref["slope"].stderr
    p = line_params(ref["slope"].value, ref["offset"].value, slope_max=cap)
    fit = fitcore.Minimizer(Line(), p).minimize(engine="emcee", seed=3, steps=1500, burn=300)
    column = fit.samples[:, fit.var_names.index("slope")]
    assert column.max() <= cap
    assert p["slope"].value < ref["slope"].value  # the truncated posterior's median moves away from the bound


def test_cost_fit_samples_the_likelihood():
    """A Poisson NLL (errordef=0.5): medians near the MLE, widths near the Hessian errors of a scalar engine."""
    x = np.linspace(0.0, 4.0, 40)
    counts = np.random.default_rng(7).poisson(300.0 * np.exp(-x / 1.2) + 50.0)

    def nll(p):
        mu = p["n0"].value * np.exp(-x / p["tau"].value) + p["bkg"].value
        return float(np.sum(mu - counts * np.log(mu)))

    def params():
        p = fitcore.Parameters()
        p.add("n0", value=250.0, min=1.0, max=1000.0)
        p.add("tau", value=1.0, min=0.1, max=10.0)
        p.add("bkg", value=40.0, min=0.1, max=200.0)
        return p

    ref = params()
    mle = fitcore.minimize(nll, ref, engine="bfgs", errordef=0.5)
    assert mle.success and mle.errorbars
    p = params()
    for n in p:
        p[n].value = ref[n].value
    fit = fitcore.Minimizer(nll, p).minimize(engine="emcee", seed=4, steps=2000, burn=300, errordef=0.5)
    assert fit.objective == "cost" and "lnsigma" not in fit.engine_extras
    for n in p:
        assert abs(p[n].value - ref[n].value) < 0.15 * ref[n].stderr
        assert p[n].stderr == pytest.approx(ref[n].stderr, rel=0.15)
    with pytest.raises(EngineOptionError, match="is_weighted applies to least-squares fits"):
        fitcore.minimize(nll, params(), engine="emcee", seed=4, is_weighted=False, errordef=0.5)


@pytest.mark.parametrize(("kws", "match"), [
    ({"nwalkers": 4}, r"nwalkers=4 is too few for 2 parameters and __lnsigma.*2 \* 3 = 6"),
    ({"nwalkers": 3, "is_weighted": True}, r"nwalkers=3 is too few for 2 parameters: .*2 \* 2 = 4"),
    ({"steps": 100, "burn": 100}, "burn=100 discards every one of the 100 steps"),
    ({"steps": 100, "burn": 50, "thin": 60}, "thin=60 keeps no step"),
    ({"steps": 0}, "steps=0; expected an integer >= 1"),
    ({"is_weighted": "yes"}, "is_weighted='yes'"),
    ({"progress": 1}, "progress=1"),
])
def test_bad_options_refused_before_any_evaluation(kws, match):
    """Each is an EngineOptionError naming the problem, and the function is never called."""
    fcn = Line()
    with pytest.raises(EngineOptionError, match=match):
        fitcore.minimize(fcn, line_params(), engine="emcee", seed=1, **kws)
    assert fcn.calls == 0


def test_stopped_by_max_nfev_without_emcee_noise(capsys):
    """max_nfev stops sampling at exactly that evaluation; emcee prints no traceback."""
    fcn = Line()
    fit = fitcore.Minimizer(fcn, line_params()).minimize(engine="emcee", seed=1, max_nfev=50)
    assert fcn.calls == 50 and fit.aborted and not fit.success
    assert "emcee: Exception" not in capsys.readouterr().out


def test_listed_with_its_requirement():
    """The engine declares emcee as its requirement, with an install hint naming the distribution."""
    info = fitcore.plugins.get_engine("emcee")
    assert info.distribution == "fitcore-engine-emcee"
    assert info.spec.requires == ("emcee",) and "pip install fitcore-engine-emcee" in info.spec.install_hint
    assert info.spec.stochastic and info.spec.objective == "scalar" and info.spec.least_squares is False


def test_unavailable_without_emcee_says_what_to_install(monkeypatch):
    """Where emcee cannot be found, listing says so with the hint and a fit is refused before evaluating."""
    find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "emcee" else find(name, *a))
    info = fitcore.plugins.get_engine("emcee")
    assert info.status == ("unavailable: requires emcee; install emcee: pip install fitcore-engine-emcee "
                           "(or pip install emcee)")
    fcn = Line()
    with pytest.raises(EngineUnavailableError, match="pip install fitcore-engine-emcee"):
        fitcore.minimize(fcn, line_params(), engine="emcee", seed=1)
    assert fcn.calls == 0


def test_walkers_stuck_in_another_mode_are_no_success():
    """From omega=1 on a sine with many local minima, some walkers stay in poorer modes: success is False."""
    x = np.linspace(0.0, 10.0, 201)
    data = 1.5 * np.sin(2.7 * x) + np.random.default_rng(0).normal(scale=0.1, size=x.size)
    p = fitcore.Parameters()
    p.add("amp", value=1.0, min=0.1, max=5.0)
    p.add("omega", value=1.0, min=0.5, max=5.0)
    fit = fitcore.minimize(lambda p: data - p["amp"].value * np.sin(p["omega"].value * x), p, engine="emcee", seed=1)
    assert not fit.success and fit.engine_extras["stuck_walkers"] > 0
    assert "another mode" in fit.message
