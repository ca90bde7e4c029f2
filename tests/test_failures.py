"""Failing fits lose nothing: an engine that crashes, a failing expression, nan_policy, failed error bars.

The same for every installed engine (the user's exception, KeyboardInterrupt, a non-finite residual,
max_nfev and iter_cb) is tested once, in ``test_engine_stop_restore.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from failing_fit import DATA, Boom, Recorder, X, make_params, state

import fitcore
from fitcore import hookimpl
from fitcore.errors import NonFiniteResidualError


class _FaultyEngine:
    """A runtime plugin whose engine evaluates a few times, then fails inside itself."""

    @hookimpl
    def fitcore_engines(self):
        def engine(problem, **options):
            for k in range(3):
                problem.residual(problem.x0 + 0.1 * k)
            raise RuntimeError("engine crashed")

        yield fitcore.EngineSpec(name="faulty-test-engine", engine=engine, summary="raises after three evaluations")


def test_engine_exception_restores_and_names_engine():
    """An exception from inside an engine propagates with a note naming it; Parameters are as before."""
    plugin = _FaultyEngine()
    fitcore.plugins.register(plugin, name="faulty")
    try:
        p = make_params()
        before = state(p)
        fcn = Recorder()
        with pytest.raises(RuntimeError, match="engine crashed") as caught:
            fitcore.minimize(fcn, p, args=(X, DATA), engine="faulty-test-engine")
        assert any("faulty-test-engine" in note for note in getattr(caught.value, "__notes__", []))
        assert fcn.calls >= 3 and state(p) == before
    finally:
        fitcore.plugins.unregister(plugin)


def test_failure_during_preparation_restores_clipped_start():
    """A start moved inside its bounds, then a failing expression: the original start comes back."""
    p = fitcore.Parameters()
    p.add("a", value=20.0, max=10.0)
    p.add("b", expr="1 / (a - 10)")
    before = state(p)
    fcn = Recorder()
    with pytest.warns(fitcore.BoundsWarning), pytest.raises(fitcore.ConstraintError, match="ZeroDivisionError"):
        fitcore.minimize(fcn, p, args=(X, DATA))
    assert fcn.calls == 0 and state(p) == before and p["a"].value == 20.0


def test_nan_policy_omit_drops_initially_nonfinite_points():
    """nan_policy='omit' fits the finite points only, giving the same answer as removing them."""
    data = DATA.copy()
    data[[2, 17, 30]] = np.nan
    keep = np.isfinite(data)

    def residual(p, x, d):
        return p["amp"].value * np.exp(-x / p["tau"].value) + p["off"].value - d

    p1, p2 = make_params(), make_params()
    fit1 = fitcore.minimize(residual, p1, args=(X, data), nan_policy="omit")
    fit2 = fitcore.minimize(residual, p2, args=(X[keep], data[keep]))
    assert fit1.success and fit1.ndata == 37 == fit2.ndata
    for name in ("amp", "tau", "off"):
        assert p1[name].value == pytest.approx(p2[name].value, rel=1e-9)
    with pytest.raises(NonFiniteResidualError, match="nan_policy"):
        fitcore.minimize(residual, make_params(), args=(X, data))


def test_nan_policy_propagate_hands_nan_to_engine():
    """nan_policy='propagate' raises nothing itself; the result reports the non-finite chi-square."""
    def residual(p, x, d):
        r = p["amp"].value * np.exp(-x / p["tau"].value) + p["off"].value - d
        r[0] = np.nan
        return r

    p = make_params()
    fit = fitcore.minimize(residual, p, args=(X, DATA), nan_policy="propagate", max_nfev=20)
    assert fit.nfev >= 1 and np.isnan(fit.residual[0]) and not fit.success


def test_omit_with_all_points_nonfinite_is_a_clear_error():
    """nan_policy='omit' with no finite point at the start says so instead of fitting nothing."""
    fcn = lambda p: np.full(5, np.nan) * p["a"].value  # noqa: E731
    p = fitcore.Parameters()
    p.add("a", value=1.0)
    with pytest.raises(fitcore.ResidualError, match="no finite values"):
        fitcore.minimize(fcn, p, nan_policy="omit")
    assert p["a"].value == 1.0


def test_iter_cb_that_raises_restores():
    """An exception from iter_cb is the user's: it propagates unchanged and nothing is changed."""
    p = make_params()
    before = state(p)
    err = Boom("callback failed")

    def callback(params, it, resid, *args, **kws):
        if it == 3:
            raise err

    with pytest.raises(Boom) as caught:
        fitcore.minimize(Recorder(), p, args=(X, DATA), iter_cb=callback)
    assert caught.value is err and state(p) == before


def test_failed_error_bars_do_not_lose_the_fit():
    """A model that turns non-finite once the engine is done keeps the fit's answer; errorbars=False says why.

    lbfgsb offers no Jacobian of its own, so the error bars evaluate the model next to the answer.
    """
    reference = make_params()
    engine_calls = fitcore.minimize(Recorder(), reference, args=(X, DATA), engine="lbfgsb").nfev
    p = make_params()
    fit = fitcore.minimize(Recorder(nan_at=engine_calls + 1), p, args=(X, DATA), engine="lbfgsb")
    assert fit.success and not fit.errorbars and "not finite" in fit.errorbars_reason
    for name in ("amp", "tau", "off", "half"):
        assert p[name].value == reference[name].value
        assert p[name].stderr is None
