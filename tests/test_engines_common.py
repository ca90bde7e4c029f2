"""What every shipped engine must do: recover known values, respect bounds, agree on error bars.

Stopping and failing fits are tested once for every engine in ``test_engine_stop_restore.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import sine_residual

import fitcore

#: one configuration per engine and per nlopt family (LN, LD, GN, needing a local optimizer)
CONFIGS = [
    pytest.param("lbfgsb", {}, id="lbfgsb"),
    pytest.param("anneal", {"seed": 7}, id="anneal"),
    pytest.param("nlopt", {"algorithm": "LN_BOBYQA"}, id="nlopt-LN_BOBYQA"),
    pytest.param("nlopt", {"algorithm": "LN_SBPLX"}, id="nlopt-LN_SBPLX"),
    pytest.param("nlopt", {"algorithm": "LD_LBFGS"}, id="nlopt-LD_LBFGS"),
    pytest.param("nlopt", {"algorithm": "GN_DIRECT_L"}, id="nlopt-GN_DIRECT_L"),
    pytest.param("nlopt", {"algorithm": "GN_CRS2_LM", "seed": 3}, id="nlopt-GN_CRS2_LM"),
    pytest.param("nlopt", {"algorithm": "G_MLSL_LDS", "seed": 3, "maxeval": 1500}, id="nlopt-G_MLSL_LDS"),
    pytest.param("nlopt", {"algorithm": "AUGLAG", "local_algorithm": "LD_LBFGS"}, id="nlopt-AUGLAG"),
]
#: engines and algorithms that accept a parameter without finite bounds
UNBOUNDED = [
    pytest.param("lbfgsb", {}, id="lbfgsb"),
    pytest.param("nlopt", {"algorithm": "LN_BOBYQA"}, id="nlopt-LN_BOBYQA"),
    pytest.param("nlopt", {"algorithm": "LN_NEWUOA"}, id="nlopt-LN_NEWUOA"),
]
NAMES = ("amp", "shift", "omega", "decay")


def make_params(bounded: bool, omega_max: float = 3.5) -> fitcore.Parameters:
    """The damped-sine parameters started away from the truth, optionally in a finite box."""
    p = fitcore.Parameters()
    if bounded:
        p.add("amp", value=13.0, min=5.0, max=20.0)
        p.add("shift", value=0.0, min=-1.0, max=1.0)
        p.add("omega", value=2.9, min=2.5, max=omega_max)
        p.add("decay", value=0.02, min=0.001, max=0.1)
    else:
        p.add("amp", value=13.0)
        p.add("shift", value=0.1)
        p.add("omega", value=3.02)
        p.add("decay", value=0.015)
    return p


@pytest.fixture(scope="module")
def sine_data():
    """Damped-sine data with known truth, and leastsq's fit of it as the reference."""
    rng = np.random.default_rng(12345)
    x = np.linspace(0.0, 15.0, 301)
    truth = {"amp": 14.0, "shift": 0.21, "omega": 3.0, "decay": 0.01}
    data = sine_residual_model(x, truth) + rng.normal(scale=0.2, size=x.size)
    ref = make_params(False)
    fit = fitcore.minimize(sine_residual, ref, args=(x, data))
    assert fit.success and fit.errorbars
    return x, data, truth, ref, fit


def sine_residual_model(x, v):
    """The damped sine for a dict of values."""
    return v["amp"] * np.sin(v["omega"] * x + v["shift"]) * np.exp(-x * x * v["decay"])


def check_matches_reference(params, fit, ref, reffit, truth):
    """Values within 4 sigma of the truth and equal to leastsq's; stderr within 1% of leastsq's."""
    assert fit.success, fit.message
    assert fit.errorbars, fit.errorbars_reason
    assert fit.chisqr == pytest.approx(reffit.chisqr, rel=1e-7)
    for name in NAMES:
        p, r = params[name], ref[name]
        assert abs(p.value - truth[name]) < 4 * r.stderr
        assert p.value == pytest.approx(r.value, abs=1e-3 * r.stderr)
        assert p.stderr == pytest.approx(r.stderr, rel=0.01)
        assert p.correl["omega" if name != "omega" else "decay"] == pytest.approx(
            r.correl["omega" if name != "omega" else "decay"], abs=0.01)


@pytest.mark.parametrize(("engine", "kws"), CONFIGS)
def test_recovers_truth_with_bounds_and_leastsq_error_bars(sine_data, engine, kws):
    """Inside a finite box, every engine reaches leastsq's minimum with stderr within 1% of leastsq's."""
    x, data, truth, ref, reffit = sine_data
    params = make_params(True)
    fit = fitcore.minimize(sine_residual, params, args=(x, data), engine=engine, **kws)
    assert fit.engine == engine
    check_matches_reference(params, fit, ref, reffit, truth)


@pytest.mark.parametrize(("engine", "kws"), UNBOUNDED)
def test_recovers_truth_without_bounds(sine_data, engine, kws):
    """Engines that allow infinite bounds recover the truth on an unbounded problem."""
    x, data, truth, ref, reffit = sine_data
    params = make_params(False)
    fit = fitcore.minimize(sine_residual, params, args=(x, data), engine=engine, **kws)
    check_matches_reference(params, fit, ref, reffit, truth)


@pytest.mark.parametrize(("engine", "kws"), CONFIGS)
def test_respects_bounds(sine_data, engine, kws):
    """With omega's max below its best value, no evaluation leaves the box and omega ends on the bound."""
    x, data, *_ = sine_data
    params = make_params(True, omega_max=2.99)
    seen = []

    def residual(p, x, data):
        seen.append([p[n].value for n in NAMES])
        return sine_residual(p, x, data)

    fit = fitcore.minimize(residual, params, args=(x, data), engine=engine, **kws)
    vals = np.array(seen)
    lo = np.array([params[n].min for n in NAMES])
    hi = np.array([params[n].max for n in NAMES])
    assert np.all(vals >= lo) and np.all(vals <= hi)
    assert params["omega"].value == pytest.approx(2.99, abs=1e-6)
    assert fit.success, fit.message


COST_CONFIGS = [
    pytest.param("lbfgsb", {}, id="lbfgsb"),
    pytest.param("lbfgsb", {"epsilon": 1e-8}, id="lbfgsb-epsilon"),
    pytest.param("anneal", {"seed": 3}, id="anneal"),
    pytest.param("nlopt", {"algorithm": "LN_BOBYQA"}, id="nlopt-LN_BOBYQA"),
    pytest.param("nlopt", {"algorithm": "LD_LBFGS"}, id="nlopt-LD_LBFGS"),
]


@pytest.fixture(scope="module")
def poisson():
    """Poisson counts of a decay on a background, their negative log-likelihood and its minimum (Nelder-Mead)."""
    from scipy.optimize import minimize as scipy_minimize
    from scipy.special import gammaln

    x = np.linspace(0.0, 4.0, 60)
    counts = np.random.default_rng(2).poisson(20.0 * np.exp(-x / 1.5) + 5.0)

    def nll(v):
        mu = v[0] * np.exp(-x / v[1]) + v[2]
        return float(np.sum(mu - counts * np.log(mu) + gammaln(counts + 1)))

    ref = scipy_minimize(nll, [10.0, 1.0, 1.0], method="Nelder-Mead",
                         options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000, "maxfev": 20000})
    assert ref.success
    return nll, ref


@pytest.mark.parametrize(("engine", "kws"), COST_CONFIGS)
def test_scalar_engines_minimize_a_cost(poisson, engine, kws):
    """A function returning a negative log-likelihood is minimized by every scalar engine: the values of an
    independent minimization, and the cost at them."""
    nll, ref = poisson
    p = fitcore.Parameters()
    p.add("a", value=10.0, min=0.1, max=100.0)
    p.add("t", value=1.0, min=0.1, max=10.0)
    p.add("c", value=1.0, min=0.01, max=20.0)
    fit = fitcore.minimize(lambda q: nll([q["a"].value, q["t"].value, q["c"].value]), p, engine=engine,
                           errordef=0.5, **kws)
    assert fit.success, fit.message
    assert [p["a"].value, p["t"].value, p["c"].value] == pytest.approx(ref.x, rel=1e-4)
    assert fit.result.objective == "cost" and fit.chisqr == pytest.approx(ref.fun, rel=1e-9)  # chisqr: the cost
