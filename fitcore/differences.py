"""Finite differences inside the bounds: the core's one step rule, Jacobians of a residual, a cost's Hessian.

Every difference the core takes (the engines' ``Problem.jacobian`` and
``Problem.gradient``, the error bars, the Hessian of a cost) steps
``rel * max(|x|, scale)`` from ``x`` (:func:`step`), with ``rel`` chosen for the
formula: ``sqrt(eps)`` for forward differences, ``eps**(1/3)`` for central,
``eps**(1/5)`` for Richardson-extrapolated central differences, ``eps**(1/4)``
for second differences. ``scale`` is 1 in an engine's coordinates, which
cross zero on the way (a purely relative step there would shrink to rounding
noise), and 0 at an answer in the user's values, which may be of any
magnitude (MINPACK's rule; a step of 1e-8 would swamp a parameter of 1e-12).
Next to a bound a step turns inwards (:func:`inward_step`), so the function is
never evaluated outside the bounds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["FORWARD", "CENTRAL", "RICHARDSON", "SECOND", "step", "inward_step", "forward_jacobian",
           "central_jacobian", "central_gradient", "hessian", "linear_prediction_error"]

Array = NDArray[np.float64]
Bounds = Sequence[float] | Array

EPS = float(np.finfo(float).eps)
#: relative step of forward differences (error about sqrt(eps) relative)
FORWARD = EPS ** 0.5
#: relative step of central differences (error about eps**(2/3))
CENTRAL = EPS ** (1.0 / 3.0)
#: relative step of Richardson-extrapolated central differences (truncation h**4 and rounding eps/h balance)
RICHARDSON = EPS ** 0.2
#: relative step of second differences (truncation h**2 and rounding eps/h**2 balance)
SECOND = EPS ** 0.25


def step(x: float, rel: float = FORWARD, scale: float = 0.0) -> float:
    """Return the difference step at ``x``: ``rel * max(|x|, scale)``, or ``rel`` where that is 0."""
    size = max(abs(x), scale)
    return rel * size if size != 0.0 else rel


def inward_step(h: float, x: float, lower: float, upper: float) -> float:
    """Return a step of size up to ``h`` from ``x`` within ``[lower, upper]``: forwards if it fits, else backwards.

    Where the interval is narrower than ``h`` on both sides, the larger side, all of it.
    """
    up, down = upper - x, x - lower
    if up >= h:
        return h
    if down >= h:
        return -h
    return up if up >= down else -down


def _moved(v: Array, j: int, h: float) -> tuple[Array, float]:
    """``v`` with ``h`` added to coordinate ``j``, and the step as the floats really moved."""
    w = v.copy()
    w[j] += h
    return w, float(w[j] - v[j])


def forward_jacobian(f: Callable[[Array], Array], v: Array, r0: Array, lower: Bounds, upper: Bounds) -> Array:
    """Forward-difference Jacobian ``(len(r0), len(v))`` of ``f`` at ``v`` (``r0 = f(v)``); ``len(v)`` evaluations.

    A step that underflows to zero gives a non-finite column.
    """
    values = v.tolist()
    probes = v + np.diag([inward_step(step(x), x, lower[j], upper[j]) for j, x in enumerate(values)])
    taken = probes.diagonal() - v  # the steps as the floats really moved (zero where one underflowed)
    rows = np.empty((v.size, r0.size))  # one row per parameter: contiguous writes, transposed at the end
    for j in range(v.size):
        np.subtract(f(probes[j]), r0, out=rows[j])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rows /= taken[:, None]
    return rows.T


def central_jacobian(f: Callable[[Array], Array], v: Array, r0: Array, lower: Bounds, upper: Bounds,
                     richardson: bool = True) -> Array:
    """Central-difference Jacobian of ``f`` at ``v``, one-sided (second order, inwards) next to a bound.

    With ``richardson`` two step sizes are extrapolated to fourth order (four
    evaluations per column, error about ``1e-12`` relative); without, plain
    central differences (two per column). One-sided columns take two.
    """
    jac = np.empty((r0.size, v.size))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for j in range(v.size):
            jac[:, j] = _central_column(f, v, r0, j, float(lower[j]), float(upper[j]), richardson)
    return jac


def _central_column(f: Callable[[Array], Array], v: Array, r0: Array, j: int, lo: float, hi: float,
                    richardson: bool) -> Array:
    x = float(v[j])
    h = step(x, RICHARDSON if richardson else CENTRAL)
    lo_room, hi_room = x - lo, hi - x
    if lo_room >= h and hi_room >= h:
        d1 = (f(_moved(v, j, h)[0]) - f(_moved(v, j, -h)[0])) / (2.0 * h)
        if not richardson:
            return d1
        d2 = (f(_moved(v, j, h / 2)[0]) - f(_moved(v, j, -h / 2)[0])) / h
        return (4.0 * d2 - d1) / 3.0
    # one-sided, second order: (-3 f(x) + 4 f(x + s) - f(x + 2s)) / 2s with s pointing inwards
    s = _one_sided(min(h, step(x, CENTRAL)), x, lo, hi)
    return (-3.0 * r0 + 4.0 * f(_moved(v, j, s)[0]) - f(_moved(v, j, 2.0 * s)[0])) / (2.0 * s)


def central_gradient(cost: Callable[[Array], float], x: Array, lower: Bounds, upper: Bounds,
                     scale: float = 1.0) -> Array:
    """Gradient of a scalar ``cost`` at ``x`` by central differences, one-sided (second order, inwards) at a bound.

    Two evaluations per coordinate (and one at ``x`` when some coordinate is
    next to a bound); ``scale`` as in :func:`step` (1 in an engine's coordinates).
    """
    x = np.asarray(x, dtype=float)
    f0: float | None = None
    grad = np.empty(x.size)
    for j in range(x.size):
        xj, lo, hi = float(x[j]), float(lower[j]), float(upper[j])
        h = step(xj, CENTRAL, scale)
        if xj - lo >= h and hi - xj >= h:
            up, h_up = _moved(x, j, h)
            down, h_down = _moved(x, j, -h)
            grad[j] = (float(cost(up)) - float(cost(down))) / (h_up - h_down)
        else:
            if f0 is None:
                f0 = float(cost(x))
            s = _one_sided(h, xj, lo, hi)
            f1, f2 = float(cost(_moved(x, j, s)[0])), float(cost(_moved(x, j, 2.0 * s)[0]))
            grad[j] = (-3.0 * f0 + 4.0 * f1 - f2) / (2.0 * s)
    return grad


def _one_sided(h: float, x: float, lo: float, hi: float) -> float:
    """Return the step ``s`` of a one-sided difference over ``x + s``, ``x + 2 s``, pointing inwards."""
    lo_room, hi_room = x - lo, hi - x
    if hi_room >= 2.0 * h or hi_room >= lo_room:
        return min(h, hi_room / 2.0)
    return -min(h, lo_room / 2.0)


def linear_prediction_error(jac: Array, dv: Array, dr: Array) -> float:
    """``2 |dr - J dv| / |J dv|``: how far a Jacobian at one point predicts the residual's change ``dr`` over ``dv``.

    The mismatch is the curvature along the move, so the ratio estimates the
    relative change of the Jacobian between the two points. ``inf`` when
    ``J dv`` vanishes or anything is not finite.
    """
    pred = jac @ dv
    miss = dr - pred
    num, den = float(miss @ miss), float(pred @ pred)
    if not (math.isfinite(num) and math.isfinite(den)) or den == 0.0:  # also NaN
        return 0.0 if num == 0.0 and den == 0.0 else math.inf
    return 2.0 * math.sqrt(num / den)


def hessian(cost: Callable[[Array], float], v: Array, f0: float, lower: Bounds, upper: Bounds,
            steps: Array) -> tuple[Array, Array]:
    """Hessian and gradient of ``cost`` at ``v`` (``f0 = cost(v)``) from differences with absolute ``steps``.

    Central differences where the step fits inside the bounds on both sides
    (``2n + 2n(n - 1)`` evaluations for ``n`` parameters); a coordinate
    whose step does not fit is differenced one-sided inwards (the second
    derivative to second order from four points, the mixed ones to first
    order).
    """
    n = v.size
    sign = np.zeros(n)  # 0: central; +1/-1: one-sided in that direction
    h = np.empty(n)
    for j in range(n):
        hj = abs(float(steps[j]))
        room_up, room_down = float(upper[j]) - float(v[j]), float(v[j]) - float(lower[j])
        if room_up >= hj and room_down >= hj:
            h[j] = hj
        elif room_up >= room_down:
            sign[j], h[j] = 1.0, min(hj, room_up / 3.0)
        else:
            sign[j], h[j] = -1.0, min(hj, room_down / 3.0)

    def at(*moves: tuple[int, float]) -> float:
        w = v.copy()
        for j, d in moves:
            w[j] += d
        return float(cost(w))

    hess = np.empty((n, n))
    grad = np.empty(n)
    # the offsets each coordinate is differenced over (central: -h, +h; one-sided: 0, s h) and their weights
    offsets: list[tuple[tuple[float, float], tuple[float, float]]] = []
    for j in range(n):
        hj, sj = float(h[j]), float(sign[j])
        if sj == 0.0:
            fp, fm = at((j, hj)), at((j, -hj))
            hess[j, j] = (fp - 2.0 * f0 + fm) / (hj * hj)
            grad[j] = (fp - fm) / (2.0 * hj)
            offsets.append(((-hj, hj), (-1.0 / (2.0 * hj), 1.0 / (2.0 * hj))))
        else:
            s = sj * hj
            f1, f2, f3 = at((j, s)), at((j, 2.0 * s)), at((j, 3.0 * s))
            hess[j, j] = (2.0 * f0 - 5.0 * f1 + 4.0 * f2 - f3) / (hj * hj)
            grad[j] = (-3.0 * f0 + 4.0 * f1 - f2) / (2.0 * s)
            offsets.append(((0.0, s), (-1.0 / s, 1.0 / s)))
    for i in range(n):
        for j in range(i + 1, n):
            total = 0.0
            for di, wi in zip(*offsets[i]):
                for dj, wj in zip(*offsets[j]):
                    if di == 0.0 and dj == 0.0:
                        value = f0
                    elif di == 0.0:
                        value = at((j, dj))
                    elif dj == 0.0:
                        value = at((i, di))
                    else:
                        value = at((i, di), (j, dj))
                    total += wi * wj * value
            hess[i, j] = hess[j, i] = total
    return hess, grad
