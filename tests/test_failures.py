"""Failing and interrupted fits lose nothing, on every installed engine.

A fit that raises (the user's function, the engine, KeyboardInterrupt, a non-finite residual)
leaves the Parameters exactly as they were. A fit stopped by iter_cb or max_nfev writes the
best values seen, says success=False, aborted=True and why. Engines are listed at collection
time; an engine that is installed but unavailable is checked to refuse before evaluating.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SHIPPED_ENGINES

import fitcore
from fitcore import hookimpl
from fitcore.errors import EngineUnavailableError, NonFiniteResidualError
from fitcore.parameters import Parameter

X = np.linspace(0.0, 5.0, 40)
DATA = 3.0 * np.exp(-X / 1.5) + 0.5


class Boom(Exception):
    """The user's own exception."""


def make_params(info) -> fitcore.Parameters:
    """Start values away from the answer; finite bounds where the engine requires them."""
    finite = info.spec.bounds == "required_finite"
    p = fitcore.Parameters()
    p.add("amp", value=1.0, min=0.0, max=10.0 if finite else None)
    p.add("tau", value=1.0, min=0.1, max=10.0)
    p.add("off", value=0.0, min=-5.0 if finite else None, max=5.0 if finite else None)
    p.add("half", expr="amp / 2")
    for par in p.values():  # prior fit results that must survive a failed fit
        par.stderr, par.correl, par.init_value = 0.125, {"other": 0.5}, -1.0
    return p


def engine_kws(info) -> dict:
    """Whatever the engine needs from the caller (a seed for stochastic engines)."""
    return {"seed": 7} if info.spec.stochastic else {}


def state(params: fitcore.Parameters) -> dict:
    """Everything a Parameter holds, for exact before/after comparison."""
    return {name: {k: getattr(par, k) for k in Parameter.__slots__} for name, par in params.items()}


class Recorder:
    """A residual function recording every call, failing as told."""

    def __init__(self, fail_at: int | None = None, exc: BaseException | None = None, nan_at: int | None = None):
        self.calls = 0
        self.seen: list[tuple[float, dict]] = []
        self.fail_at, self.exc, self.nan_at = fail_at, exc, nan_at

    def __call__(self, p, x, data):
        self.calls += 1
        if self.fail_at is not None and self.calls >= self.fail_at:
            raise self.exc
        r = p["amp"].value * np.exp(-x / p["tau"].value) + p["off"].value - data
        if self.nan_at is not None and self.calls >= self.nan_at:
            r = r.copy()
            r[3] = np.nan
        self.seen.append((float(r @ r), {k: v.value for k, v in p.items()}))
        return r


def fit_or_unavailable(info, fcn, params, **kws):
    """Run the fit; for an unavailable engine assert the refusal instead and return None."""
    if info.status != "available":
        before = state(params)
        with pytest.raises(EngineUnavailableError):
            fitcore.minimize(fcn, params, args=(X, DATA), engine=info.name, **kws)
        assert fcn.calls == 0 and state(params) == before
        return None
    return fitcore.minimize(fcn, params, args=(X, DATA), engine=info.name, **engine_kws(info), **kws)


def test_engines_are_listed():
    """The parametrization below sees at least the leastsq engine."""
    assert "leastsq" in SHIPPED_ENGINES


@pytest.mark.parametrize("info", SHIPPED_ENGINES, indirect=True)
def test_user_exception_propagates_unchanged_and_restores(info):
    """The user's exception object reaches the caller as is; the Parameters are exactly as before."""
    p = make_params(info)
    before = state(p)
    err = Boom("bad model")
    fcn = Recorder(fail_at=5, exc=err)
    if info.status != "available":
        fit_or_unavailable(info, fcn, p)
        return
    with pytest.raises(Boom) as caught:
        fitcore.minimize(fcn, p, args=(X, DATA), engine=info.name, **engine_kws(info))
    assert caught.value is err and fcn.calls == 5
    assert state(p) == before


@pytest.mark.parametrize("info", SHIPPED_ENGINES, indirect=True)
def test_keyboard_interrupt_restores(info):
    """Ctrl-C in the middle of a fit propagates and leaves the Parameters exactly as before."""
    p = make_params(info)
    before = state(p)
    fcn = Recorder(fail_at=6, exc=KeyboardInterrupt())
    if info.status != "available":
        fit_or_unavailable(info, fcn, p)
        return
    with pytest.raises(KeyboardInterrupt):
        fitcore.minimize(fcn, p, args=(X, DATA), engine=info.name, **engine_kws(info))
    assert fcn.calls == 6 and state(p) == before


@pytest.mark.parametrize("info", SHIPPED_ENGINES, indirect=True)
def test_nonfinite_residual_names_evaluation_and_values(info):
    """nan_policy='raise': the error names the evaluation number and the values; nothing is changed."""
    p = make_params(info)
    before = state(p)
    fcn = Recorder(nan_at=4)
    if info.status != "available":
        fit_or_unavailable(info, fcn, p)
        return
    with pytest.raises(NonFiniteResidualError) as caught:
        fitcore.minimize(fcn, p, args=(X, DATA), engine=info.name, **engine_kws(info))
    err = caught.value
    assert err.nfev == 4 and "evaluation 4" in str(err)
    assert err.values == fcn.seen[3][1]
    assert "amp" in str(err) and repr(fcn.seen[3][1]["tau"]) in str(err)
    assert state(p) == before


@pytest.mark.parametrize("info", SHIPPED_ENGINES, indirect=True)
def test_iter_cb_abort_keeps_best_values(info):
    """iter_cb returning True stops the fit: best values seen are written, success False, reason given."""
    p = make_params(info)
    fcn = Recorder()
    calls = []

    def stop(params, it, resid, *args, **kws):
        calls.append((it, resid.size, len(args)))
        return it >= 8

    fit = fit_or_unavailable(info, fcn, p, iter_cb=stop)
    if fit is None:
        return
    assert [c[0] for c in calls] == list(range(1, 9)) and calls[0][1:] == (40, 2)
    assert fit.aborted and not fit.success and fit.nfev == 8
    assert "iter_cb" in fit.message and not fit.errorbars
    best_chi, best_values = min(fcn.seen[:8], key=lambda s: s[0])
    assert fit.chisqr == pytest.approx(best_chi, rel=1e-12)
    for name, val in best_values.items():
        assert p[name].value == pytest.approx(val, rel=1e-12, abs=1e-15), name


@pytest.mark.parametrize("info", SHIPPED_ENGINES, indirect=True)
def test_max_nfev_keeps_best_values(info):
    """max_nfev stops the fit after exactly that many evaluations, keeping the best values seen."""
    p = make_params(info)
    fcn = Recorder()
    fit = fit_or_unavailable(info, fcn, p, max_nfev=12)
    if fit is None:
        return
    assert fit.aborted and not fit.success and fit.nfev == 12
    assert "max_nfev" in fit.message
    best_chi, best_values = min(fcn.seen[:12], key=lambda s: s[0])
    assert fit.chisqr == pytest.approx(best_chi, rel=1e-12)
    for name, val in best_values.items():
        assert p[name].value == pytest.approx(val, rel=1e-12, abs=1e-15), name
    assert p["half"].value == pytest.approx(p["amp"].value / 2, rel=1e-15)


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
        p = make_params(fitcore.plugins.get_engine("faulty-test-engine"))
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

    leastsq = fitcore.plugins.get_engine("leastsq")
    p1, p2 = make_params(leastsq), make_params(leastsq)
    fit1 = fitcore.minimize(residual, p1, args=(X, data), nan_policy="omit")
    fit2 = fitcore.minimize(residual, p2, args=(X[keep], data[keep]))
    assert fit1.success and fit1.ndata == 37 == fit2.ndata
    for name in ("amp", "tau", "off"):
        assert p1[name].value == pytest.approx(p2[name].value, rel=1e-9)
    with pytest.raises(NonFiniteResidualError, match="nan_policy"):
        fitcore.minimize(residual, make_params(fitcore.plugins.get_engine("leastsq")), args=(X, data))


def test_nan_policy_propagate_hands_nan_to_engine():
    """nan_policy='propagate' raises nothing itself; the result reports the non-finite chi-square."""
    def residual(p, x, d):
        r = p["amp"].value * np.exp(-x / p["tau"].value) + p["off"].value - d
        r[0] = np.nan
        return r

    p = make_params(fitcore.plugins.get_engine("leastsq"))
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
    info = fitcore.plugins.get_engine("leastsq")
    p = make_params(info)
    before = state(p)
    err = Boom("callback failed")

    def callback(params, it, resid, *args, **kws):
        if it == 3:
            raise err

    with pytest.raises(Boom) as caught:
        fitcore.minimize(Recorder(), p, args=(X, DATA), iter_cb=callback)
    assert caught.value is err and state(p) == before


def test_failed_error_bars_do_not_lose_the_fit():
    """A model that turns non-finite once the engine is done keeps the fit's answer; errorbars=False says why."""
    reference = make_params(fitcore.plugins.get_engine("leastsq"))
    engine_calls = fitcore.minimize(Recorder(), reference, args=(X, DATA)).nfev  # the user's function's calls
    p = make_params(fitcore.plugins.get_engine("leastsq"))  # until the engine returned
    fit = fitcore.minimize(Recorder(nan_at=engine_calls + 1), p, args=(X, DATA))
    assert fit.success and not fit.errorbars and "not finite" in fit.errorbars_reason
    for name in ("amp", "tau", "off", "half"):
        assert p[name].value == reference[name].value
        assert p[name].stderr is None
