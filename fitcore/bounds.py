"""MINUIT-style bound transforms between external (bounded) and internal (free) values.

An engine that declares ``bounds="transform"`` sees an unbounded problem in
*internal* coordinates. Each bounded parameter maps as in MINUIT:

* two bounds: ``ext = min + (sin(int) + 1) * (max - min) / 2``
* lower bound only: ``ext = min - 1 + sqrt(int**2 + 1)``
* upper bound only: ``ext = max + 1 - sqrt(int**2 + 1)``

All transforms are vectorized over the free parameters and built once per fit.
Uncertainties are never computed through this transform (its derivative
vanishes at a bound, which collapses the back-transformed covariance): see
:mod:`fitcore.uncertainty`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["BoundsTransform"]

Array = NDArray[np.float64]
_sin, _hypot = math.sin, math.hypot


class BoundsTransform:
    """Vectorized internal <-> external transform for a vector of free parameters.

    Parameters
    ----------
    lower, upper : array_like
        Bounds of each free parameter, ``-inf``/``inf`` where unbounded.
    """

    __slots__ = ("lower", "upper", "_both", "_lo", "_hi", "_lo_b", "_hi_b", "_half", "_lo_o", "_hi_o", "identity", "_table")

    def __init__(self, lower: ArrayLike, upper: ArrayLike) -> None:
        self.lower = np.asarray(lower, dtype=float).copy()
        self.upper = np.asarray(upper, dtype=float).copy()
        if self.lower.shape != self.upper.shape or self.lower.ndim != 1:
            raise ValueError("lower and upper must be 1-d arrays of the same length")
        if np.any(self.lower >= self.upper):
            raise ValueError("every lower bound must be less than its upper bound")
        has_lo = np.isfinite(self.lower)
        has_hi = np.isfinite(self.upper)
        self._both = np.flatnonzero(has_lo & has_hi)
        self._lo = np.flatnonzero(has_lo & ~has_hi)
        self._hi = np.flatnonzero(~has_lo & has_hi)
        self._lo_b = self.lower[self._both]
        self._hi_b = self.upper[self._both]
        self._half = (self._hi_b - self._lo_b) / 2.0
        self._lo_o = self.lower[self._lo]
        self._hi_o = self.upper[self._hi]
        self.identity = not (self._both.size or self._lo.size or self._hi.size)
        self._table: list[tuple[int, int, float, float, float]] = []  # (index, kind, bound, half range, max)
        for j, (lo, hi) in enumerate(zip(self.lower.tolist(), self.upper.tolist())):
            if lo > -math.inf and hi < math.inf:
                self._table.append((j, 0, lo, (hi - lo) / 2.0, hi))
            elif lo > -math.inf:
                self._table.append((j, 1, lo, 0.0, 0.0))
            elif hi < math.inf:
                self._table.append((j, 2, hi, 0.0, 0.0))

    def to_external(self, x: Array) -> Array:
        """Map internal values to external (bounded) values."""
        return x if self.identity else np.array(self.external_list(x))

    def external_list(self, x: Array) -> list[float]:
        """External values of ``x`` as plain floats (the hot path's form of :meth:`to_external`).

        Evaluated per parameter with :mod:`math`: for the few parameters of a
        fit several times faster than numpy's fancy indexing. Values never
        cross their bounds.
        """
        out = x.tolist()
        for j, kind, a, h, c in self._table:
            xj = out[j]
            if kind == 0:  # two bounds: a = min, h = half range, c = max; rounding may pass c by an ulp
                v = a + (_sin(xj) + 1.0) * h
                out[j] = v if v < c else c
            else:  # one bound a (kind 1: min, 2: max): sqrt(u^2 + 1) - 1 as u*u / (hypot(u, 1) + 1),
                t = abs(xj)  # no cancellation, no overflow, never negative: cannot round across a
                d = t * (t / (_hypot(t, 1.0) + 1.0))
                out[j] = a + d if kind == 1 else a - d
        return out

    def to_internal(self, v: ArrayLike) -> Array:
        """Map external values (inside the bounds) to internal values.

        Values on or outside a bound are clipped to it first.
        """
        v = np.asarray(v, dtype=float)
        if self.identity:
            return v.copy()
        out = np.array(v, dtype=float)
        b, lo, hi = self._both, self._lo, self._hi
        if b.size:
            t = np.clip((v[b] - self._lo_b) / self._half - 1.0, -1.0, 1.0)
            out[b] = np.arcsin(t)
        if lo.size:  # sqrt((w + 1)^2 - 1) = sqrt(w * (w + 2)), w = distance from the bound
            w = np.maximum(v[lo] - self._lo_o, 0.0)
            out[lo] = np.sqrt(w * (w + 2.0))
        if hi.size:
            w = np.maximum(self._hi_o - v[hi], 0.0)
            out[hi] = np.sqrt(w * (w + 2.0))
        return out

    def nudge(self, x: Array, step: float = 1e-2) -> Array:
        """Move internal values whose transform derivative is zero (a start on a bound) inwards.

        Starting exactly on a bound puts a transformed parameter where
        ``d external / d internal = 0`` and a gradient-based engine could not
        move it; ``step`` radians (or units) inwards it can.
        """
        x = np.array(x, dtype=float)
        b, lo, hi = self._both, self._lo, self._hi
        if b.size:
            xb = x[b]
            at = np.abs(np.cos(xb)) < step / 10
            x[b] = np.where(at, np.sign(xb) * (np.pi / 2 - step), xb)
        for idx in (lo, hi):
            if idx.size:
                x[idx] = np.where(np.abs(x[idx]) < step / 10, step, x[idx])
        return x

    def derivative(self, x: Array) -> Array:
        """Return ``d external / d internal`` at internal values ``x`` (the diagonal)."""
        d = np.ones_like(np.asarray(x, dtype=float))
        if self.identity:
            return d
        b, lo, hi = self._both, self._lo, self._hi
        if b.size:
            d[b] = np.cos(x[b]) * self._half
        if lo.size:
            d[lo] = x[lo] / np.hypot(x[lo], 1.0)
        if hi.size:
            d[hi] = -x[hi] / np.hypot(x[hi], 1.0)
        return d
