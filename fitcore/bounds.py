"""MINUIT-style bound transforms between external (bounded) and internal (free) values.

An engine that declares ``bounds="transform"`` sees an unbounded problem in
*internal* coordinates. Each bounded parameter maps as in MINUIT:

* two bounds: ``ext = min + (sin(int) + 1) * (max - min) / 2``
* lower bound only: ``ext = min - 1 + sqrt(int**2 + 1)``
* upper bound only: ``ext = max + 1 - sqrt(int**2 + 1)``

A fit has a handful of free parameters, so the transform is a table of the
bounded ones, built once per fit and applied per parameter with :mod:`math`:
for a few parameters several times faster than numpy's per-call overhead.
Uncertainties are never computed through this transform (its derivative
vanishes at a bound, which collapses the back-transformed covariance): see
:mod:`fitcore.uncertainty`.

Two bounds are computed region by region so that no digit is lost to
cancellation: in the middle half of the range as ``mid + h * sin(int)`` (exact
at the middle, so the ``+-1e300`` often written for "no bound" fits as well as
no bound at all; wider ranges would overflow the engine's Jacobian, which is the
model's times ``h cos(int)``, and are refused), next to a bound as that bound plus or minus
``2 h sin(int/2 + pi/4)**2`` (resp. ``cos``), which is ``h (1 +- sin(int))``
without the cancellation. A value far from the middle and from every bound,
relative to the range (``[0, 1e300]`` with a start of 1), still cannot be
represented: :meth:`BoundsTransform.start` refuses such a start before the fit
evaluates anything, naming the parameter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import ParameterError

__all__ = ["BoundsTransform", "RESOLUTION", "MAX_SCALE"]

Array = NDArray[np.float64]
_sin, _cos, _asin, _hypot, _sqrt = math.sin, math.cos, math.asin, math.hypot, math.sqrt
_INF = math.inf
_HALF_PI = math.pi / 2
_QUARTER_PI = math.pi / 4
_BOTH, _LOWER, _UPPER = 0, 1, 2
#: the transform must resolve a change of ``RESOLUTION * max(|v|, 1)`` at a fit's start value ``v``
RESOLUTION = 1.0e-6
#: largest derivative ``d external / d internal`` at a start: the engine's Jacobian is the model's times
#: this, so a model derivative up to about 1e8 stays finite (half ranges up to 1e300 pass)
MAX_SCALE = 1.0e300


def _floats(values: ArrayLike) -> list[float]:
    if isinstance(values, np.ndarray):
        return values.astype(float, copy=False).ravel().tolist()
    return list(map(float, values))  # type: ignore[arg-type]


class BoundsTransform:
    """Internal <-> external transform for a vector of free parameters.

    Parameters
    ----------
    lower, upper : array_like
        Bounds of each free parameter, ``-inf``/``inf`` where unbounded (kept
        as lists of floats in the attributes of the same names).
    names : sequence of str, optional
        The parameters' names, for error messages.

    Raises
    ------
    ValueError
        When the lengths differ or a lower bound is not below its upper bound.
    """

    __slots__ = ("lower", "upper", "identity", "names", "_table", "_n")

    def __init__(self, lower: ArrayLike, upper: ArrayLike, names: Sequence[str] | None = None) -> None:
        if not (type(lower) is list and type(upper) is list) and (np.ndim(lower) != 1 or np.ndim(upper) != 1):
            raise ValueError("lower and upper must be 1-d arrays of the same length")
        lo, hi = _floats(lower), _floats(upper)
        if len(lo) != len(hi):
            raise ValueError("lower and upper must be 1-d arrays of the same length")
        # (index, kind, bound, half range, max): kind 0 two bounds, 1 lower only, 2 upper only;
        # the half range is formed from halves, so it is finite for any finite bounds
        table: list[tuple[int, int, float, float, float]] = []
        for j, (a, b) in enumerate(zip(lo, hi)):
            if not a < b:
                raise ValueError("every lower bound must be less than its upper bound")
            if a > -_INF:
                table.append((j, _BOTH, a, 0.5 * b - 0.5 * a, b) if b < _INF else (j, _LOWER, a, 0.0, 0.0))
            elif b < _INF:
                table.append((j, _UPPER, b, 0.0, 0.0))
        self._table = table
        self._n = len(lo)
        self.names = [f"#{j}" for j in range(len(lo))] if names is None else list(names)
        self.identity = not table
        self.lower = lo  # plain floats
        self.upper = hi

    def to_external(self, x: Array) -> Array:
        """Map internal values to external (bounded) values."""
        return x if self.identity else np.array(self.external_values(x.tolist()))

    def external_values(self, xs: list[float]) -> list[float]:
        """External values of internal values ``xs`` (plain floats; the hot path's form of :meth:`to_external`).

        Values never cross their bounds.
        """
        out = list(xs)
        for j, kind, a, h, c in self._table:
            xj = out[j]
            if kind == _BOTH:  # a = min, h = half range, c = max
                s = _sin(xj)
                if -0.5 <= s <= 0.5:  # from the middle: exact at the middle, digits kept near it
                    v = (a + h) + h * s
                else:  # from the nearer bound, with 1 + sin(u) = 2 sin(phi)^2 and 1 - sin(u) = 2 cos(phi)^2,
                    phi = 0.5 * xj + _QUARTER_PI  # which keep their digits where 1 +- sin(u) would cancel
                    v = a + h * (2.0 * _sin(phi) ** 2) if s < 0.0 else c - h * (2.0 * _cos(phi) ** 2)
                out[j] = a if v < a else (v if v < c else c)
            else:  # one bound a (kind 1: min, 2: max): sqrt(u^2 + 1) - 1 as u*u / (hypot(u, 1) + 1),
                t = abs(xj)  # no cancellation, no overflow, never negative: cannot round across a
                d = t * (t / (_hypot(t, 1.0) + 1.0))
                out[j] = a + d if kind == _LOWER else a - d
        return out

    def to_internal(self, v: ArrayLike) -> Array:
        """Map external values (inside the bounds) to internal values.

        Values on or outside a bound are clipped to it first.
        """
        return np.array(self._internal(_floats(v)))

    def _internal(self, out: list[float]) -> list[float]:
        for j, kind, a, h, c in self._table:
            if kind == _BOTH:  # inverse of external_values, region by region
                v = out[j]
                if v - a < 0.5 * h:
                    out[j] = 2.0 * _asin(_sqrt(0.5 * (max(v - a, 0.0) / h))) - _HALF_PI
                elif c - v < 0.5 * h:
                    out[j] = _HALF_PI - 2.0 * _asin(_sqrt(0.5 * (max(c - v, 0.0) / h)))
                else:
                    out[j] = _asin(min(max((v - (a + h)) / h, -1.0), 1.0))
            else:  # sqrt((w + 1)^2 - 1) = sqrt(w) sqrt(w + 2) (no overflow), w = distance from the bound
                w = max(out[j] - a if kind == _LOWER else a - out[j], 0.0)
                out[j] = _sqrt(w) * _sqrt(w + 2.0)
        return out

    def nudge(self, x: Array, step: float = 1e-2) -> Array:
        """Move internal values whose transform derivative is zero (a start on a bound) inwards.

        Starting exactly on a bound puts a transformed parameter where
        ``d external / d internal = 0`` and a gradient-based engine could not
        move it; ``step`` radians (or units) inwards it can.
        """
        return np.array(self._nudge(_floats(x), step))

    def _nudge(self, out: list[float], step: float = 1e-2) -> list[float]:
        for j, kind, *_ in self._table:
            out[j] = self._nudge_one(kind, out[j], step)
        return out

    @staticmethod
    def _nudge_one(kind: int, xj: float, step: float = 1e-2) -> float:
        if kind == _BOTH:
            return math.copysign(_HALF_PI - step, xj) if abs(_cos(xj)) < step / 10 else xj
        return step if abs(xj) < step / 10 else xj

    def start(self, values: list[float]) -> Array:
        """Map a fit's starting values (plain floats) to internal values, moved inwards where on a bound.

        A start on a bound (within the resolution below) is nudged as :meth:`nudge`
        does; a start merely near one, relative to a wide range, is kept: the
        transform's derivative there is small but not zero.

        Raises
        ------
        ParameterError
            When a finite bound is so far from the start value ``v`` that the
            transform cannot tell ``v`` from ``v +- RESOLUTION * max(|v|, 1)``
            (or a quarter of a narrower range): the round trip of either misses
            by more than half that step; or when the transform's derivative at
            the start exceeds :data:`MAX_SCALE` (a half range beyond 1e300).
        """
        start = list(map(float, values))
        out = self._internal(list(start))
        # every bounded value and a probe a resolution step away, through the transform and back (the
        # coordinates are independent, so one pass moves them all)
        steps, probes = {}, list(start)
        for j, kind, a, _, c in self._table:
            v = start[j]
            steps[j] = min(RESOLUTION * max(abs(v), 1.0), (c - a) / 4 if kind == _BOTH else _INF)
            room = (c if kind == _BOTH else (_INF if kind == _LOWER else a)) - v
            probes[j] = v + steps[j] if room >= steps[j] else v - steps[j]
        back = self.external_values(list(out))
        back_probe = self.external_values(self._internal(list(probes)))
        scale = self.derivative(np.array(out)).tolist()
        for j, kind, a, _, c in self._table:
            v, step, name = start[j], steps[j], self.names[j]
            if not (abs(back[j] - v) <= step / 2 and abs((back_probe[j] - back[j]) - (probes[j] - v)) <= step / 2):
                bounds = f"min={a!r}, max={c!r}" if kind == _BOTH else (
                    f"min={a!r}" if kind == _LOWER else f"max={a!r}")
                raise ParameterError(
                    f"parameter {name!r}: the bound {bounds} is too far from the start value {v!r} for the bound "
                    f"transform, which cannot resolve a change of {step:.3g} there (the start would become "
                    f"{back[j]!r}). For no bound use min=None / max=None (or -inf / inf); otherwise give bounds "
                    "nearer the value, or choose an engine with native bounds (e.g. 'lbfgsb')", name)
            if kind == _BOTH and not abs(scale[j]) <= MAX_SCALE:
                raise ParameterError(
                    f"parameter {name!r}: the range min={a!r}, max={c!r} is too wide for the bound transform, "
                    f"which would multiply the model's derivatives by {scale[j]:.3g} there and overflow them. For "
                    f"no bound use min=None / max=None (or -inf / inf); otherwise keep the half range within "
                    f"{MAX_SCALE:g}, or choose an engine with native bounds (e.g. 'lbfgsb')", name)
            if min(v - a, c - v) <= step if kind == _BOTH else abs(v - a) <= step:
                out[j] = self._nudge_one(kind, out[j])  # on a bound, to the resolution: the derivative vanishes
        return np.array(out)

    def derivative(self, x: Array) -> Array:
        """Return ``d external / d internal`` at internal values ``x`` (the diagonal)."""
        d = [1.0] * self._n
        xs = _floats(x)
        for j, kind, _, h, _ in self._table:
            xj = xs[j]
            if kind == _BOTH:
                d[j] = _cos(xj) * h
            else:
                d[j] = (xj if kind == _LOWER else -xj) / _hypot(xj, 1.0)
        return np.array(d)
