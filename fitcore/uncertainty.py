"""Error bars at a fit's answer, the same for every engine: least squares from the Jacobian, costs from the Hessian.

Least squares (:func:`least_squares_errorbars`): the Jacobian of the residual
in the user's (external) coordinates at the answer, never through the bound
transform (whose derivative vanishes at a bound), so the error bars are the
curvature of chi-square itself, as the same fit without the bound would give.
The Jacobian is, in this order of preference: the user's analytic one; the
engine's last forward differences (:class:`fitcore.Stencil`) when they predict
the residual at the answer to :data:`REUSE_RTOL`; else the core's own forward
differences (one evaluation per parameter). Where the column-scaled Jacobian is
ill-conditioned (condition number above :data:`REFINE_CONDITION`), the forward
differences' error would be amplified into the covariance, and the Jacobian is
recomputed by Richardson-extrapolated central differences (four evaluations per
parameter). With ``polish`` (only for engines that minimize the plain sum of
squares), Gauss-Newton steps follow (:mod:`fitcore.polish`); after each, the
Jacobian is kept when it still predicts the residual's change to
:data:`POLISH_REUSE_RTOL`, else taken again by central differences (Richardson
where ill-conditioned). The error bars belong to the point
finally reached (:mod:`fitcore.covariance`).

Costs (:func:`cost_errorbars`): ``2 errordef H^-1`` from central second
differences of the cost (:func:`fitcore.differences.hessian`), with steps
scaled to a first estimate of each error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from . import polish as _polish
from .covariance import (
    ErrorBars,
    ScaledJacobian,
    condition,
    covariance_from_hessian,
    errorbars_from_covariance,
    errorbars_from_samples,
    no_errorbars,
)
from .differences import (
    EPS,
    SECOND,
    central_jacobian,
    forward_jacobian,
    hessian,
    linear_prediction_error,
    step,
)
from .errors import NonFiniteResidualError
from .propagation import propagate

if TYPE_CHECKING:
    from .problem import Stencil

__all__ = ["ErrorBars", "least_squares_errorbars", "cost_errorbars", "errorbars_from_covariance",
           "errorbars_from_samples", "propagate", "condition", "stencil_jacobian", "REFINE_CONDITION",
           "REUSE_RTOL"]

Array = NDArray[np.float64]
Bounds = Sequence[float] | Array

#: condition number of the column-scaled Jacobian above which forward differences are replaced by
#: Richardson-extrapolated central differences
REFINE_CONDITION = 100.0
#: largest relative change of the Jacobian, estimated from how well it predicts the residual's change
#: (:func:`fitcore.differences.linear_prediction_error`), for a Jacobian taken at a nearby point (an
#: engine's stencil, or the previous point of the polish) to serve at the answer; the error bars then
#: agree with a fresh Jacobian's to about this
REUSE_RTOL = 2.0e-6
#: a polish step moves towards the minimum the Jacobian in hand predicts, biased by that Jacobian's error
#: times the residual: after a step the Jacobian is kept only where it predicts the residual's change to
#: this, else it is taken again by central differences (forward differences' truncation error, about
#: sqrt(eps), would bias the minimum of a large-residual fit)
POLISH_REUSE_RTOL = 1.0e-9


class _Counted:
    """The residual for differences: counts evaluations, and gives NaN where the model is not finite."""

    def __init__(self, evaluate: Callable[[Array], Array], size: int) -> None:
        self.evaluate = evaluate
        self.size = size
        self.nfev = 0

    def __call__(self, v: Array) -> Array:
        self.nfev += 1
        try:
            return np.asarray(self.evaluate(v), dtype=float)
        except NonFiniteResidualError:
            return np.full(self.size, np.nan)


def stencil_jacobian(stencil: Stencil, v: Array, r: Array,
                     to_external: Callable[[Array], Array] | None = None) -> Array | None:
    """Convert an engine's forward differences to the Jacobian at ``v`` (external), or None where they do not serve.

    Each column becomes a forward difference in external coordinates (the
    external step is what ``to_external``, applied coordinate by coordinate,
    made of the engine's step; it must be within a factor of ten of the core's
    own forward step). Where ``v`` is not the stencil's base point, the
    residual ``r`` at ``v`` must match the stencil's linear prediction to
    :data:`REUSE_RTOL` (:func:`fitcore.differences.linear_prediction_error`).
    Wrong shapes and non-finite values give None.
    """
    near = _stencil_columns(stencil, v, r.size, to_external)
    if near is None:
        return None
    jac, vb, base_r = near
    return jac if _serves_at(jac, vb, base_r, v, r) else None


def _stencil_columns(stencil: Stencil, v: Array, m: int,
                     to_external: Callable[[Array], Array] | None) -> tuple[Array, Array, Array] | None:
    """The stencil as forward differences in external coordinates: ``(jac, base point, base residual)``, or None.

    None for wrong shapes, non-finite values, or steps not within a factor of
    ten of the core's own forward step at ``v``.
    """
    n = v.size
    rows, base_r = np.asarray(stencil.rows, dtype=float), np.asarray(stencil.r, dtype=float)
    xb, steps = np.asarray(stencil.x, dtype=float), np.asarray(stencil.steps, dtype=float)
    if rows.shape != (n, m) or base_r.shape != (m,) or xb.shape != (n,) or steps.shape != (n,):
        return None
    vb, vp = xb, xb + steps
    if to_external is not None:
        vb, vp = np.asarray(to_external(vb), dtype=float), np.asarray(to_external(vp), dtype=float)
    dv = (vp - vb).tolist()  # the steps as the floats really moved
    for d, a in zip(dv, v.tolist()):
        own = step(a)  # the core's own forward step
        if not 0.1 * own <= abs(d) <= 10.0 * own:  # also refuses NaN
            return None
    with np.errstate(invalid="ignore", over="ignore"):
        jac = ((rows - base_r) / np.array(dv)[:, None]).T
    if not math.isfinite(float(jac.sum())):
        return None
    return jac, vb, base_r


def _serves_at(jac: Array, vb: Array, base_r: Array, v: Array, r: Array) -> bool:
    """Whether a Jacobian taken at ``vb`` (residual ``base_r``) serves at ``v`` (residual ``r``): :data:`REUSE_RTOL`."""
    if np.array_equal(v, vb):
        return np.array_equal(r, base_r)
    return linear_prediction_error(jac, v - vb, r - base_r) <= REUSE_RTOL


def _jacobian(f: _Counted, v: Array, r: Array, lower: Bounds, upper: Bounds, names: Sequence[str],
              analytic: Callable[[Array], Array] | None, order: int = 1) -> ScaledJacobian:
    """Return the user's Jacobian at ``v``, else differences of ``order`` 1 (forward), 2 (central) or 4 (Richardson).

    Forward or central differences that come out ill-conditioned are redone by Richardson's.
    """
    if analytic is not None:
        return ScaledJacobian(np.asarray(analytic(v), dtype=float), names)
    if order < 4:
        jac = forward_jacobian(f, v, r, lower, upper) if order == 1 else \
            central_jacobian(f, v, r, lower, upper, richardson=False)
        dec = ScaledJacobian(jac, names)
        if not dec.ill_conditioned(REFINE_CONDITION):
            return dec
    return ScaledJacobian(central_jacobian(f, v, r, lower, upper), names)


def least_squares_errorbars(
    evaluate: Callable[[Array], Array],
    v: Array,
    resid: Array,
    names: Sequence[str],
    lower: Bounds,
    upper: Bounds,
    *,
    nfree: int,
    scale_covar: bool,
    polish: bool,
    stencil: Stencil | None = None,
    to_external: Callable[[Array], Array] | None = None,
    jacobian: Callable[[Array], Array] | None = None,
) -> ErrorBars:
    """Covariance, stderr and correlations of a least-squares fit at external values ``v``.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(v) -> residual`` (a fresh array) at external values; may
        raise :class:`fitcore.errors.NonFiniteResidualError` (a non-finite
        column then gives no error bars, saying which parameter).
    v, resid : ndarray
        The engine's answer and its residual.
    names : sequence of str
        The free parameters.
    lower, upper : array_like
        Their bounds (external); no evaluation leaves them.
    nfree : int
        Degrees of freedom; no error bars when it is not positive.
    scale_covar : bool
        Scale the covariance by chi-square / nfree.
    polish : bool
        Try Gauss-Newton steps first (only for engines that minimize the plain sum of squares).
    stencil : Stencil, optional
        The engine's last forward differences, in its coordinates.
    to_external : callable, optional
        Engine coordinates -> external values, coordinate by coordinate (None
        when the engine works in external values).
    jacobian : callable, optional
        The user's analytic Jacobian ``(ndata, nvar)`` as a function of external ``v``.

    Returns
    -------
    ErrorBars
        At the polished point (``v``, ``resid``) or the one given; the
        parameters were last evaluated at some other point, so the caller
        writes ``v`` back.
    """
    v = np.array(v, dtype=float)
    resid = np.array(resid, dtype=float)
    if nfree <= 0:
        return no_errorbars(f"no degrees of freedom left (nfree = {nfree}): "
                            "need more data points than varied parameters", v=v, resid=resid)
    f = _Counted(evaluate, resid.size)
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    dec = None
    if jacobian is None and stencil is not None:
        jac = stencil_jacobian(stencil, v, resid, to_external)
        if jac is not None:
            dec = ScaledJacobian(jac, names)
            if dec.ill_conditioned(REFINE_CONDITION):
                dec = _jacobian(f, v, resid, lo, hi, names, None, order=4)
    if dec is None:
        dec = _jacobian(f, v, resid, lo, hi, names, jacobian)
    kept = 0
    if polish:
        def refresh(w: Array, rw: Array, v0: Array, r0: Array, old: ScaledJacobian) -> ScaledJacobian:
            order = 4 if old.ill_conditioned(REFINE_CONDITION) else 2
            if (jacobian is None and order < 4
                    and linear_prediction_error(old.jac, w - v0, rw - r0) <= POLISH_REUSE_RTOL):
                return old
            return _jacobian(f, w, rw, lo, hi, names, jacobian, order=order)

        v, resid, dec, kept = _polish.polish(f, v, resid, dec, refresh, lo, hi, nfree)
    chi = float(resid @ resid)
    gn = dec.gauss_newton(resid)
    factor = chi / nfree if scale_covar else 1.0  # an exact fit (chi = 0) has zero error bars, not none
    return dec.errorbars(factor, nfev=f.nfev, jacobian=dec.jac, v=v, resid=resid, polished=kept,
                         gn_step=None if gn is None else gn[0])


def cost_errorbars(cost: Callable[[Array], float], v: Array, names: Sequence[str], lower: Bounds,
                   upper: Bounds, *, errordef: float) -> ErrorBars:
    """Covariance ``2 errordef H^-1`` of a cost fit at external values ``v``, from the numerical Hessian.

    Parameters
    ----------
    cost : callable
        ``cost(v) -> float`` at external values.
    v : ndarray
        The answer.
    names : sequence of str
        The free parameters.
    lower, upper : array_like
        Their bounds; no evaluation leaves them.
    errordef : float
        The cost's rise that defines one standard error: 1 for chi-square-like
        costs, 0.5 for negative log-likelihoods.

    Returns
    -------
    ErrorBars
        ``gn_step`` is the Newton step ``-H^-1 g`` still pointing away from ``v``.

    Notes
    -----
    A first pass of second differences along each coordinate, with steps
    ``eps**(1/4) * |v|``, estimates each error ``sigma``; the Hessian is then
    taken with steps ``sigma * (eps * |cost| / errordef)**(1/4)``, where
    truncation and rounding errors balance for a cost that is nearly quadratic
    over a standard error; ``1 + 4 n + 2 n (n - 1)`` evaluations in all.
    """
    if not errordef > 0.0:
        raise ValueError(f"errordef must be positive (1 for chi-square, 0.5 for a negative log-likelihood), "
                         f"got {errordef}")
    v = np.array(v, dtype=float)
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    calls = [0]

    def counted(w: Array) -> float:
        calls[0] += 1
        return float(cost(w))

    f0 = counted(v)
    if not np.isfinite(f0):
        return no_errorbars("the cost at the answer is not finite", nfev=calls[0], v=v)
    steps = np.array([step(float(a), SECOND) for a in v])
    rel = (EPS * max(abs(f0), errordef) / errordef) ** 0.25
    for j in range(v.size):  # first pass: each error alone, from the curvature along its coordinate
        def along(w: Array, j: int = j) -> float:
            return counted(_embed(v, j, w))

        curv, _ = hessian(along, v[j:j + 1], f0, lo[j:j + 1], hi[j:j + 1], steps[j:j + 1])
        if np.isfinite(curv[0, 0]) and curv[0, 0] > 0.0:
            steps[j] = rel * np.sqrt(2.0 * errordef / curv[0, 0])
    hess, grad = hessian(counted, v, f0, lo, hi, steps)
    eb = covariance_from_hessian(hess, names, errordef, nfev=calls[0], v=v)
    if eb.covar is None:
        return eb
    newton = -(eb.covar @ grad) / (2.0 * errordef)
    return ErrorBars(eb.covar, eb.stderr, eb.correl, None, nfev=calls[0], v=v, gn_step=newton)


def _embed(v: Array, j: int, w: Array) -> Array:
    out = v.copy()
    out[j] = w[0]
    return out
