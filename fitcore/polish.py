"""Gauss-Newton polish: a few steps from an engine's least-squares answer to the minimum it stopped short of.

Engines stop at their own tolerances (MINPACK at the manual's
``ftol=xtol=1e-7``), which on hard problems leaves the answer some thousandths
of a standard error from the minimum of the sum of squares. The Jacobian the
error bars need anyway gives the Gauss-Newton step. It is tried when it is not
negligible (it moves some value by more than :data:`POLISH_RTOL` of it and is
longer than about 1e-7 standard errors, :data:`POLISH_TOLERANCE`), halved up to
:data:`HALVINGS` times, and kept only if the sum of squares really decreases;
then the Jacobian is brought to the new point (see ``refresh``) and the next
step tried, at most :data:`MAX_POLISH` times. Only the caller knows whether the
engine minimizes the plain sum of squares, which is what makes this valid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from .covariance import ScaledJacobian

__all__ = ["polish", "worth_a_step", "POLISH_TOLERANCE", "POLISH_RTOL", "MAX_POLISH", "HALVINGS"]

Array = NDArray[np.float64]
Bounds = Sequence[float] | Array
#: a step is tried when its predicted decrease of the sum of squares exceeds this times chi-square/nfree
#: (the step is then longer than about 1e-7 standard errors) ...
POLISH_TOLERANCE = 1.0e-14
#: ... and it moves some parameter by more than this fraction of its value
POLISH_RTOL = 1.0e-7
#: most Gauss-Newton steps (convergence is linear on large residuals)
MAX_POLISH = 40
#: step halvings tried before giving up
HALVINGS = 4


def worth_a_step(step: Array, predicted: float, chi: float, nfree: int, v: Array) -> bool:
    """Whether a Gauss-Newton ``step`` from ``v`` with ``predicted`` decrease is worth an evaluation."""
    return predicted > POLISH_TOLERANCE * chi / nfree and any(
        abs(s) > POLISH_RTOL * abs(a) for s, a in zip(step.tolist(), v.tolist()))


def _line_search(f: Callable[[Array], Array], v: Array, step: Array, chi: float, lower: Array,
                 upper: Array) -> tuple[Array, Array] | None:
    """``v + t step`` for t = 1, 1/2, ...: the first point inside the bounds with a lower sum of squares."""
    t = 1.0
    for _ in range(HALVINGS + 1):
        w = v + t * step
        t /= 2.0
        if not (np.all(w >= lower) and np.all(w <= upper)):
            continue
        r = f(w)
        if float(r @ r) < chi:  # False for NaN
            return w, r
    return None


def polish(f: Callable[[Array], Array], v: Array, r: Array, dec: ScaledJacobian,
           refresh: Callable[[Array, Array, Array, Array, ScaledJacobian], ScaledJacobian],
           lower: Bounds, upper: Bounds, nfree: int) -> tuple[Array, Array, ScaledJacobian, int]:
    """Gauss-Newton steps from ``v`` (residual ``r``, decomposed Jacobian ``dec``) while they pay.

    Parameters
    ----------
    f : callable
        ``f(v) -> residual`` (a fresh array; non-finite where the model is).
    v, r : ndarray
        The starting point (external coordinates) and its residual.
    dec : ScaledJacobian
        The Jacobian at ``v``.
    refresh : callable
        ``refresh(w, r_w, v, r, dec)``: the Jacobian at the accepted point ``w``,
        given the previous point's.
    lower, upper : array_like
        Bounds no trial point may leave.
    nfree : int
        Degrees of freedom (the step's threshold scales with chi-square/nfree).

    Returns
    -------
    v, r, dec, kept
        The final point, its residual and Jacobian, and the number of steps kept.
    """
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    chi = float(r @ r)
    kept = 0
    while kept < MAX_POLISH and chi > 0.0:
        gn = dec.gauss_newton(r)
        if gn is None or not worth_a_step(gn[0], gn[1], chi, nfree, v):
            break
        found = _line_search(f, v, gn[0], chi, lo, hi)
        if found is None:
            break
        w, rw = found
        dec = refresh(w, rw, v, r, dec)
        v, r, chi = w, rw, float(rw @ rw)
        kept += 1
    return v, r, dec, kept
