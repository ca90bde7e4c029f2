"""Honest success: whether a fit ended at a minimum, judged from what the fit produced.

An engine's own convergence flag is necessary, not sufficient. :func:`judge`
is a pure function of the evidence: the engine's flag and message, whether the
core stopped the fit, the chi-square, whether any value moved, and (for
least-squares fits) the Jacobian and residual at the answer, the standard
errors and the Gauss-Newton step still pointing away from it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Evidence", "judge", "moved", "STATIONARY_COS", "GN_STEP_STDERR", "MOVED_RTOL"]

Array = NDArray[np.float64]

#: largest cosine between a Jacobian column and the residual at a minimum (the gradient is J^T r)
STATIONARY_COS = 1e-4
#: a converged fit whose Gauss-Newton step is longer than this many standard errors is not at a minimum
GN_STEP_STDERR = 1.0
#: a fit none of whose values changed by more than this fraction "did not move"
MOVED_RTOL = 1e-6


def moved(values: Sequence[float], start: Sequence[float]) -> bool:
    """Whether some value changed by more than :data:`MOVED_RTOL` of its start."""
    return any(abs(a - b) > MOVED_RTOL * abs(b) for a, b in zip(values, start))


@dataclass(frozen=True)
class Evidence:
    """What a fit produced that bears on its success.

    Attributes
    ----------
    engine_success, engine_message
        The engine's own flag and account.
    stop_reason : str or None
        Why the core stopped the fit (``iter_cb``, ``max_nfev``), if it did.
    chisqr : float
        Chi-square (or cost) at the answer.
    names, values, start, lower, upper
        The varied parameters: names, values at the answer, starting values and bounds.
    stayed : bool
        Whether the answer is the starting point (no value moved, or the engine returned its start).
    jacobian, residual : ndarray or None
        Jacobian (external coordinates) and residual at the answer, for least-squares fits.
    stderr : sequence of float or None
        Standard errors of the varied parameters, when estimated.
    gn_step : ndarray or None
        The Gauss-Newton step from the answer, when estimated.
    """

    engine_success: bool
    engine_message: str
    stop_reason: str | None
    chisqr: float
    names: Sequence[str]
    values: Sequence[float]
    start: Sequence[float]
    lower: Sequence[float]
    upper: Sequence[float]
    stayed: bool
    jacobian: Array | None = None
    residual: Array | None = None
    stderr: Sequence[float] | None = None
    gn_step: Array | None = None


def judge(ev: Evidence) -> tuple[bool, str]:
    """Return ``(success, message)`` for a fit.

    A fit is not a success when the core stopped it, the engine did not
    converge, chi-square is not finite, it never left a start that is not a
    minimum, a parameter moved to where it has no effect on the residual, the
    gradient at an answer without error bars is not zero, or a Gauss-Newton
    step would still move some value by more than :data:`GN_STEP_STDERR`
    standard errors without leaving the bounds.
    """
    said = ev.engine_message
    if ev.stop_reason is not None:
        return False, f"fit stopped: {ev.stop_reason}; parameters hold the best values seen"
    if not ev.engine_success:
        return False, said
    if not math.isfinite(ev.chisqr):
        return False, f"the objective at the solution is not finite (engine said: {said})"
    jac, r = ev.jacobian, ev.residual
    if ev.stayed:
        # an engine may "converge" by shrinking its steps to nothing, e.g. after rejected trial steps
        if jac is None or r is None or gradient_cosine(jac, r) > STATIONARY_COS:
            return False, f"the fit did not move from its starting point, which is not a minimum (engine said: {said})"
    elif jac is not None and r is not None and ev.stderr is None:
        dead = _dead(jac, ev.names, ev.values, ev.start)
        if dead:
            return False, (f"parameter(s) {', '.join(map(repr, dead))} moved to where they have no effect on the "
                           f"residual (e.g. an exponential term vanished); that is not a minimum (engine said: {said})")
        cos = gradient_cosine(jac, r)
        if cos > STATIONARY_COS:
            return False, (f"the gradient at the answer is not zero (largest cosine between a Jacobian column and "
                           f"the residual {cos:.2g}): not a minimum (engine said: {said})")
    if ev.gn_step is not None and ev.stderr is not None:
        worst = _gn_excess(ev)
        if worst is not None:
            name, ratio = worst
            return False, (f"the engine stopped where a Gauss-Newton step would still move {name!r} by {ratio:.3g} "
                           f"standard errors: not a minimum; try engine='leastsq' or tighter tolerances "
                           f"(engine said: {said})")
    return True, said


def gradient_cosine(jac: Array, r: Array) -> float:
    """Largest |cosine| between a column of ``jac`` and ``r`` (0 for a zero residual)."""
    rn = float(np.linalg.norm(r))
    if rn == 0.0:
        return 0.0
    norms = np.linalg.norm(jac, axis=0)
    norms[norms == 0] = 1.0
    return float(np.max(np.abs(jac.T @ r) / (norms * rn)))


def _dead(jac: Array, names: Sequence[str], values: Sequence[float], start: Sequence[float]) -> list[str]:
    """Parameters that moved and whose Jacobian column is exactly zero."""
    norms = np.einsum("ij,ij->j", jac, jac)
    return [n for n, d, a, b in zip(names, norms.tolist(), values, start) if d == 0 and a != b]


def _gn_excess(ev: Evidence) -> tuple[str, float] | None:
    """The parameter a Gauss-Newton step moves by most standard errors, when over the limit.

    None when the step would leave the bounds (a minimum on a bound) or moves
    every value by rounding only.
    """
    assert ev.gn_step is not None and ev.stderr is not None
    worst, largest = "", 0.0
    for name, s, a, lo, hi, err in zip(ev.names, ev.gn_step.tolist(), ev.values, ev.lower, ev.upper, ev.stderr):
        if not lo <= a + s <= hi:
            return None
        ratio = abs(s) / (err or math.inf) if abs(s) > MOVED_RTOL * abs(a) else 0.0
        if ratio > largest:
            worst, largest = name, ratio
    return (worst, largest) if largest > GN_STEP_STDERR else None
