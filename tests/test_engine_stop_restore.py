"""Stopping and failing fits, on every installed engine: the one place this behaviour is tested.

A fit stopped by ``max_nfev`` or by ``iter_cb`` returning True writes the best values seen and
says ``aborted=True``, ``success=False`` and why. A fit that raises (the user's exception,
``KeyboardInterrupt``, a non-finite residual) leaves the Parameters exactly as they were.
Each configuration below is one engine (for nlopt one per algorithm family, including the
algorithms that swallow exceptions raised in their callback); collection loads no plugin, and
:func:`test_every_installed_engine_is_exercised` fails when an installed engine has no entry.
"""

from __future__ import annotations

import pytest
from failing_fit import DATA, Boom, Recorder, X, make_params, state

import fitcore
from fitcore.errors import EngineUnavailableError, NonFiniteResidualError

#: (engine, options, needs a finite box)
CONFIGS = [
    pytest.param("leastsq", {}, False, id="leastsq"),
    pytest.param("lbfgsb", {}, False, id="lbfgsb"),
    pytest.param("anneal", {"seed": 7}, True, id="anneal"),
    pytest.param("nlopt", {"algorithm": "LN_BOBYQA"}, False, id="nlopt-LN_BOBYQA"),
    pytest.param("nlopt", {"algorithm": "LN_SBPLX"}, False, id="nlopt-LN_SBPLX"),
    pytest.param("nlopt", {"algorithm": "LD_LBFGS"}, False, id="nlopt-LD_LBFGS"),
    pytest.param("nlopt", {"algorithm": "LD_TNEWTON"}, False, id="nlopt-LD_TNEWTON"),
    pytest.param("nlopt", {"algorithm": "GN_DIRECT_L"}, True, id="nlopt-GN_DIRECT_L"),
    pytest.param("nlopt", {"algorithm": "GN_CRS2_LM", "seed": 3}, True, id="nlopt-GN_CRS2_LM"),
    pytest.param("nlopt", {"algorithm": "GD_STOGO"}, True, id="nlopt-GD_STOGO"),
    pytest.param("nlopt", {"algorithm": "G_MLSL_LDS", "seed": 3}, True, id="nlopt-G_MLSL_LDS"),
    pytest.param("nlopt", {"algorithm": "AUGLAG", "local_algorithm": "LD_LBFGS"}, False, id="nlopt-AUGLAG"),
    pytest.param("least_squares", {}, False, id="least_squares"),
    pytest.param("nelder", {}, False, id="nelder"),
    pytest.param("powell", {}, False, id="powell"),
    pytest.param("cg", {}, False, id="cg"),
    pytest.param("bfgs", {}, False, id="bfgs"),
    pytest.param("tnc", {}, False, id="tnc"),
    pytest.param("slsqp", {}, False, id="slsqp"),
    pytest.param("trust-constr", {}, False, id="trust-constr"),
    pytest.param("differential_evolution", {"seed": 7}, True, id="differential_evolution"),
    pytest.param("basinhopping", {"seed": 7}, False, id="basinhopping"),
    pytest.param("shgo", {}, True, id="shgo"),
    pytest.param("brute", {}, True, id="brute"),
    pytest.param("emcee", {"seed": 7}, False, id="emcee"),
]
def run(engine, options, finite, fcn, **kws):
    """Fit ``fcn``: the Parameters and the fit, or ``(params, None)`` once the refusal of an unavailable engine
    (before any evaluation, nothing changed) is checked."""
    p = make_params(finite)
    info = {e.name: e for e in fitcore.list_engines()}[engine]
    if info.status != "available":
        before = state(p)
        with pytest.raises(EngineUnavailableError):
            fitcore.minimize(fcn, p, args=(X, DATA), engine=engine, **options, **kws)
        assert fcn.calls == 0 and state(p) == before
        return p, None
    return p, fitcore.minimize(fcn, p, args=(X, DATA), engine=engine, **options, **kws)


def check_best_values_written(p, fit, fcn, n):
    """The fit stopped after ``n`` evaluations and holds the best of them; no error bars, not a success."""
    if fit is None:
        return
    assert fit.aborted and not fit.success and fit.nfev == n
    assert not fit.errorbars
    best_chi, best_values = min(fcn.seen[:n], key=lambda s: s[0])
    assert fit.chisqr == pytest.approx(best_chi, rel=1e-12)
    for name, val in best_values.items():
        assert p[name].value == pytest.approx(val, rel=1e-12, abs=1e-15), name
    assert p["half"].value == pytest.approx(p["amp"].value / 2, rel=1e-15)


def test_every_installed_engine_is_exercised():
    """Each installed engine has a configuration here (add one for a new engine)."""
    covered = {c.values[0] for c in CONFIGS}
    assert {e.name for e in fitcore.list_engines(batched=False)} <= covered  # batched: test_engine_batch_lm.py


@pytest.mark.parametrize(("engine", "options", "finite"), CONFIGS)
def test_max_nfev_stops_and_keeps_best_values(engine, options, finite):
    """max_nfev stops the fit after exactly that many evaluations, keeping the best values seen."""
    fcn = Recorder()
    p, fit = run(engine, options, finite, fcn, max_nfev=12)
    check_best_values_written(p, fit, fcn, 12)
    assert fit is None or "max_nfev=12" in fit.message


@pytest.mark.parametrize(("engine", "options", "finite"), CONFIGS)
def test_iter_cb_returning_true_stops_and_keeps_best_values(engine, options, finite):
    """iter_cb sees (params, 1, 2, ..., resid, *args); returning True stops at once with the best values."""
    fcn = Recorder()
    calls = []

    def stop(params, it, resid, *args, **kws):
        calls.append((it, resid.size, len(args)))
        return it >= 8

    p, fit = run(engine, options, finite, fcn, iter_cb=stop)
    check_best_values_written(p, fit, fcn, 8)
    if fit is not None:
        assert [c[0] for c in calls] == list(range(1, 9)) and calls[0][1:] == (40, 2)
        assert "iter_cb" in fit.message


@pytest.mark.parametrize(("engine", "options", "finite"), CONFIGS)
@pytest.mark.parametrize("stop", [{"max_nfev": 1}, {"iter_cb": lambda *args: True}], ids=["max_nfev=1", "iter_cb"])
def test_stop_at_the_first_evaluation_is_an_abort(engine, options, finite, stop):
    """Stopping at the very first evaluation is an ordinary abort with the start values."""
    fcn = Recorder()
    p, fit = run(engine, options, finite, fcn, **stop)
    check_best_values_written(p, fit, fcn, 1)


@pytest.mark.parametrize(("engine", "options", "finite"), CONFIGS)
@pytest.mark.parametrize("exc", [Boom("bad model"), KeyboardInterrupt()], ids=["exception", "KeyboardInterrupt"])
def test_exception_in_the_residual_propagates_and_restores(engine, options, finite, exc):
    """The user's exception (or Ctrl-C) reaches the caller as is; the Parameters are exactly as before."""
    fcn = Recorder(fail_at=6, exc=exc)
    p = make_params(finite)
    before = state(p)
    if {e.name: e for e in fitcore.list_engines()}[engine].status != "available":
        run(engine, options, finite, fcn)
        return
    with pytest.raises(type(exc)) as caught:
        fitcore.minimize(fcn, p, args=(X, DATA), engine=engine, **options)
    assert caught.value is exc and fcn.calls == 6
    assert state(p) == before


@pytest.mark.parametrize(("engine", "options", "finite"), CONFIGS)
def test_nonfinite_residual_names_evaluation_and_values_and_restores(engine, options, finite):
    """nan_policy='raise': the error names the evaluation and the values; the Parameters are as before."""
    fcn = Recorder(nan_at=4)
    p = make_params(finite)
    before = state(p)
    if {e.name: e for e in fitcore.list_engines()}[engine].status != "available":
        run(engine, options, finite, fcn)
        return
    with pytest.raises(NonFiniteResidualError) as caught:
        fitcore.minimize(fcn, p, args=(X, DATA), engine=engine, **options)
    err = caught.value
    assert err.nfev == 4 and "evaluation 4" in str(err)
    assert err.values == fcn.seen[3][1]
    assert state(p) == before
