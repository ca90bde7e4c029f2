"""The lbfgsb engine: option spellings, refusals, analytic Jacobian, honest success."""

from __future__ import annotations

import numpy as np
import pytest

import fitcore
from fitcore.errors import EngineOptionError

X = np.linspace(0.0, 10.0, 101)
DATA = 3.0 * np.exp(-X / 2.5) + 0.5 + np.random.default_rng(1).normal(scale=0.01, size=X.size)


def residual(p):
    """Exponential decay residual."""
    return p["a"].value * np.exp(-X / p["t"].value) + p["c"].value - DATA


def jac(p):
    """Analytic Jacobian of residual."""
    a, t = p["a"].value, p["t"].value
    e = np.exp(-X / t)
    return np.column_stack([e, a * e * X / t**2, np.ones_like(X)])


def make_params():
    """Start away from the truth, with bounds."""
    p = fitcore.Parameters()
    p.add("a", value=1.0, min=0.0, max=10.0)
    p.add("t", value=1.0, min=0.1, max=10.0)
    p.add("c", value=0.0)
    return p


def test_minimizer_lbfgsb_method_fits():
    """Minimizer.lbfgsb() dispatches to the plugin and recovers the parameters."""
    p = make_params()
    m = fitcore.Minimizer(residual, p)
    assert m.lbfgsb().success is True
    assert m.engine == "lbfgsb"
    assert p["a"].value == pytest.approx(3.0, abs=0.02)
    assert p["t"].value == pytest.approx(2.5, abs=0.02)
    assert p["c"].value == pytest.approx(0.5, abs=0.01)
    assert m.errorbars and p["t"].stderr > 0


@pytest.mark.parametrize("spelling", [{"m": 5}, {"maxcor": 5}, {"factr": 1e5}, {"ftol": 1e-10}, {"pgtol": 1e-7},
                                      {"gtol": 1e-7}, {"epsilon": 1e-7}, {"eps": 1e-7}, {"maxls": 30},
                                      {"maxfun": 5000}, {"maxiter": 500}])
def test_both_spellings_accepted(spelling):
    """The manual's fmin_l_bfgs_b keywords and minimize()'s spellings both reach the minimum."""
    ref = make_params()
    fitcore.minimize(residual, ref, engine="leastsq")
    p = make_params()
    fit = fitcore.minimize(residual, p, engine="lbfgsb", **spelling)
    assert fit.success, fit.message
    assert fit.engine_options == spelling
    assert p["t"].value == pytest.approx(ref["t"].value, rel=1e-4)


def test_loose_factr_stops_earlier():
    """factr is really passed on: a loose tolerance spends fewer evaluations than the default."""
    tight = fitcore.minimize(residual, make_params(), engine="lbfgsb")
    loose = fitcore.minimize(residual, make_params(), engine="lbfgsb", factr=1e12)
    assert loose.nfev < tight.nfev
    assert loose.chisqr >= tight.chisqr * (1 - 1e-12)  # the core's Gauss-Newton polish may bring both to the minimum


@pytest.mark.parametrize(("kws", "match"), [
    ({"m": 5, "maxcor": 6}, "two spellings"),
    ({"factr": 1e7, "ftol": 1e-9}, "factr= and ftol="),
    ({"m": 0}, r"\bm=0; expected an integer from 1 to 1000"),
    ({"pgtol": -1.0}, "gtol=-1.0"),
    ({"epsilon": 0.0}, "epsilon=0.0"),
    ({"maxiter": 2.5}, "maxiter=2.5"),
])
def test_bad_options_refused_before_any_evaluation(kws, match):
    """Conflicting or invalid option values raise EngineOptionError before the residual is called."""
    calls = []

    def counted(p):
        calls.append(1)
        return residual(p)

    with pytest.raises(EngineOptionError, match=match):
        fitcore.minimize(counted, make_params(), engine="lbfgsb", **kws)
    assert calls == []


def test_unknown_option_lists_valid_ones():
    """An option lbfgsb does not have is refused with its option list and a suggestion."""
    with pytest.raises(EngineOptionError, match=r"no option 'pgtoll'.*Did you mean 'pgtol'.*factr"):
        fitcore.minimize(residual, make_params(), engine="lbfgsb", pgtoll=1e-6)


def test_analytic_jacobian_saves_evaluations():
    """With Dfun the gradient comes from the user's Jacobian: fewer residual evaluations, same minimum."""
    fd = fitcore.minimize(residual, make_params(), engine="lbfgsb")
    p = make_params()
    an = fitcore.minimize(residual, p, engine="lbfgsb", Dfun=jac)
    assert an.success
    assert an.nfev < fd.nfev / 2
    assert an.chisqr == pytest.approx(fd.chisqr, rel=1e-8)


def test_iteration_limit_reports_failure():
    """Stopping on maxiter is not convergence: success is False and the message says why."""
    p = make_params()
    fit = fitcore.minimize(residual, p, engine="lbfgsb", maxiter=2)
    assert not fit.success
    assert "ITERATIONS REACHED LIMIT" in fit.message.upper()
    assert fit.chisqr < float(np.sum(residual(make_params()) ** 2))


def test_seed_refused_for_deterministic_engine():
    """lbfgsb is deterministic; a seed is an error, not silently ignored."""
    with pytest.raises(EngineOptionError, match="deterministic"):
        fitcore.minimize(residual, make_params(), engine="lbfgsb", seed=1)
