"""The hot path (Objective) and the leastsq engine's handling of non-finite trial steps."""

from __future__ import annotations

import numpy as np
import pytest

import fitcore
from fitcore.bounds import BoundsTransform
from fitcore.errors import NonFiniteResidualError, ResidualError
from fitcore.objective import Objective

X = np.linspace(0.0, 4.0, 50)
Y = 3.0 * np.exp(-0.8 * X) + np.random.default_rng(5).normal(scale=0.01, size=X.size)


def _params(a=1.0, b=0.3, **kw):
    p = fitcore.Parameters()
    p.add("a", value=a)
    p.add("b", value=b, **kw)
    return p


class Counting:
    """Residual of y = a*exp(-b*x) that counts its calls and can misbehave on chosen calls."""

    def __init__(self, nan_on=()):
        self.calls = 0
        self.nan_on = set(nan_on)

    def __call__(self, params):
        self.calls += 1
        r = Y - params["a"].value * np.exp(-params["b"].value * X)
        if self.calls in self.nan_on:
            r = r.copy()
            r[3] = np.nan
        return r


def test_start_is_evaluated_once():
    """The core's validating call at the start is reused by the engine: user calls = nfev + error-bar calls."""
    f = Counting()
    fit = fitcore.minimize(f, _params())
    assert fit.success
    assert f.calls == fit.nfev + fit.nfev_errorbars
    assert fit.nfev_errorbars in (0, 2)  # 0 when MINPACK's last Jacobian is reused (test_stencil.py)


def test_iter_cb_sees_fit_evaluations_only():
    """iter_cb is called once per counted evaluation with nfev 1, 2, ...; never for error bars."""
    seen = []
    fit = fitcore.minimize(Counting(), _params(), iter_cb=lambda p, it, r: seen.append(it))
    assert seen == list(range(1, fit.nfev + 1))


def test_max_nfev_keeps_best_values():
    """A fit stopped by max_nfev holds the best values seen and says so."""
    f = Counting()
    p = _params()
    fit = fitcore.minimize(f, p, max_nfev=6)
    assert fit.aborted and not fit.success and fit.nfev == 6
    assert "best values" in fit.message
    assert fit.chisqr == pytest.approx(float(fit.residual @ fit.residual))
    r = Y - p["a"].value * np.exp(-p["b"].value * X)
    assert r @ r == pytest.approx(fit.chisqr, rel=1e-12)


def test_best_residual_is_a_copy_of_a_reused_buffer():
    """A residual function that fills one buffer in place does not corrupt the best residual."""
    buf = np.empty_like(Y)

    def resid(params):
        np.subtract(Y, params["a"].value * np.exp(-params["b"].value * X), out=buf)
        return buf

    p = _params()
    fit = fitcore.minimize(resid, p, max_nfev=7)
    r = Y - p["a"].value * np.exp(-p["b"].value * X)
    assert fit.residual == pytest.approx(r, rel=1e-12, abs=1e-15)


def test_reused_buffer_gives_the_same_fit_and_error_bars():
    """A function returning one buffer, refilled at every call, fits exactly like one returning new arrays.

    (MINPACK through scipy aliases a reused buffer, so this uses L-BFGS-B; leastsq's case is aborted fits, above.)
    """
    buf = np.empty_like(Y)

    def fresh(params):
        return Y - params["a"].value * np.exp(-params["b"].value * X)

    def reused(params):
        buf[:] = fresh(params)
        return buf

    p1, p2 = _params(), _params()
    f1, f2 = fitcore.minimize(fresh, p1, engine="lbfgsb"), fitcore.minimize(reused, p2, engine="lbfgsb")
    assert f1.success and f2.success and f2.errorbars
    for name in ("a", "b"):
        assert p2[name].value == p1[name].value and p2[name].stderr == p1[name].stderr
    assert f2.residual is not buf and np.array_equal(f2.residual, f1.residual)
    buf[:] = 0.0  # the user's buffer changing later leaves the result alone
    assert np.array_equal(f2.residual, f1.residual)


def test_changing_length_is_an_error():
    """A residual whose length changes mid-fit raises ResidualError saying so."""
    n = [0]

    def resid(params):
        n[0] += 1
        r = Y - params["a"].value * np.exp(-params["b"].value * X)
        return r if n[0] < 4 else r[:-1]

    p = _params()
    with pytest.raises(ResidualError, match="must not change"):
        fitcore.minimize(resid, p)
    assert p["a"].value == 1.0 and p["b"].value == 0.3  # restored


def test_scalar_transform_equals_bounds_transform():
    """The objective's per-parameter transform matches BoundsTransform.to_external to rounding, inside bounds."""
    lo = np.array([0.0, -1.5, -np.inf, -np.inf, 2.0])
    hi = np.array([np.inf, 1.5, np.inf, 2.0, 2.5])
    bt = BoundsTransform(lo, hi)
    obj = Objective(lambda p: 0, fitcore.Parameters(), [], bt, None)
    rng = np.random.default_rng(0)
    for scale in (1e-6, 1.0, 1e3):
        for _ in range(200):
            x = rng.normal(size=5) * scale
            got = obj.external(x)
            np.testing.assert_allclose(got, bt.to_external(x), rtol=4 * np.finfo(float).eps, atol=1e-300)
            assert np.all(got >= lo) and np.all(got <= hi)


def test_nonfinite_at_start_raises_naming_evaluation():
    """nan_policy='raise': a NaN at the start raises before any engine work, parameters untouched."""
    p = _params()
    with pytest.raises(NonFiniteResidualError, match="evaluation 1"):
        fitcore.minimize(Counting(nan_on={1}), p)
    assert p["a"].value == 1.0 and p["a"].stderr is None


def test_nonfinite_trial_step_is_a_rejected_step():
    """leastsq: a NaN at a trial step (not at the start or in the Jacobian) shortens the step, fit succeeds."""
    # calls: 1 = start (validated by the core), 2-3 = the Jacobian's two columns, 4 = first trial step
    f = Counting(nan_on={4})
    p = _params()
    fit = fitcore.minimize(f, p)
    assert fit.success and fit.engine_extras["nonfinite_trials"] == 1
    ref = fitcore.minimize(Counting(), q := _params())
    assert p["a"].value == pytest.approx(q["a"].value, rel=1e-7)
    assert p["b"].value == pytest.approx(q["b"].value, rel=1e-7)
    assert ref.success


def test_nonfinite_in_jacobian_raises():
    """leastsq: a NaN in a finite-difference column cannot be a rejected step; it raises, values restored."""
    p = _params()
    with pytest.raises(NonFiniteResidualError):
        fitcore.minimize(Counting(nan_on={3}), p)
    assert p["a"].value == 1.0 and p["b"].value == 0.3


def test_nan_policy_propagate_hands_nan_to_engine():
    """nan_policy='propagate' does not raise: the engine gets the NaN (and MINPACK gives up honestly)."""
    p = _params()
    fit = fitcore.minimize(Counting(nan_on={4}), p, nan_policy="propagate")
    assert np.isfinite(fit.chisqr)  # the best values seen are finite


def test_fit_stuck_at_start_is_not_success():
    """Every real step is rejected (NaN): MINPACK shrinks its steps to nothing; that is not a success."""
    def resid(params):
        a, b = params["a"].value, params["b"].value
        r = Y - a * np.exp(-b * X)
        if abs(a - 1.0) > 1e-6 or abs(b - 0.3) > 1e-6:  # a model defined only next to its start
            r = r * np.nan
        return r

    p = _params()
    fit = fitcore.minimize(resid, p)
    assert fit.ier in (1, 2, 3, 4)  # MINPACK itself claims convergence
    assert not fit.success and "did not move" in fit.message
    assert fit.engine_extras["nonfinite_trials"] > 0
