"""The hot path: engine point -> parameter values -> constraints -> the user's function.

One :class:`Objective` is built per fit. Everything that can be done once per
fit (the bound transform, the constraint plan, the user's call with its
arguments bound, the residual's length) is done in the constructor or at the
first evaluation (:meth:`Objective.prime`); each engine call then does the
transform, the writes, the expressions, the user's call, a check of what it
returned, the chi-square, and the bookkeeping of the best point and the stop
conditions.

The user's function returns either a residual array (a least-squares fit,
minimizing the sum of squares) or a scalar (a cost fit: a negative
log-likelihood or any cost); the first evaluation decides which.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from .errors import NonFiniteResidualError, ResidualError
from .options import NAN_POLICIES
from .parameters import write_values

if TYPE_CHECKING:
    from .bounds import BoundsTransform
    from .constraints import Constraints
    from .parameters import Parameter, Parameters

__all__ = ["Objective", "StopFit", "NAN_POLICIES"]

Array = NDArray[np.float64]
_F64 = np.dtype(np.float64)
_INF = float("inf")


def _is_real_number(out: Any) -> bool:
    """Whether ``out`` is a real scalar (a cost), not a residual array."""
    if isinstance(out, (bool, np.bool_)):
        return False
    if isinstance(out, (int, float, np.integer, np.floating)):
        return True
    return isinstance(out, np.ndarray) and out.ndim == 0 and out.dtype.kind in "iuf"


class StopFit(Exception):
    """Raised through the engine to stop a fit (``iter_cb`` asked, or ``max_nfev`` spent)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Objective:
    """Residual (or cost) of one fit as a function of the free parameters.

    Parameters
    ----------
    fcn : callable
        ``fcn(params, *args, **kws)`` returning the residual array or a scalar cost.
    params : Parameters
        Written in place at every evaluation.
    free : sequence of Parameter
        The varied parameters, in vector order.
    transform : BoundsTransform or None
        Engine (internal) -> external map, or None when the engine works in external values.
    constraints : Constraints or None
        Expressions evaluated after the free values are written.
    args, kws
        Extra arguments of ``fcn``.
    nan_policy : {'raise', 'propagate', 'omit'}
        What a non-finite residual does.
    iter_cb : callable, optional
        ``iter_cb(params, nfev, resid, *args, **kws)``; returning True stops the fit.
    max_nfev : int, optional
        Stop the fit once this many evaluations are made.
    """

    def __init__(
        self,
        fcn: Callable[..., Any],
        params: Parameters,
        free: Sequence[Parameter],
        transform: BoundsTransform | None,
        constraints: Constraints | None,
        args: tuple[Any, ...] = (),
        kws: dict[str, Any] | None = None,
        nan_policy: str = "raise",
        iter_cb: Callable[..., Any] | None = None,
        max_nfev: int | None = None,
    ) -> None:
        self.params = params
        self.free = list(free)
        self.names = [str(p.name) for p in self.free]
        self.transform = None if transform is None or transform.identity else transform
        self.constraints = constraints if constraints else None
        self.args = tuple(args)
        self.kws = dict(kws or {})
        self.nan_policy = nan_policy
        self.iter_cb = iter_cb
        self.max_nfev = max_nfev
        self.nfev = 0
        self.kind: Literal["least_squares", "cost"] | None = None  # decided by the first evaluation
        self.ndata: int | None = None
        self.stop_reason: str | None = None
        self.user_error: BaseException | None = None  # what the user's own code raised, if anything
        self._call_user = partial(fcn, params, *self.args, **self.kws)
        self._mask: NDArray[np.bool_] | None = None  # nan_policy='omit': the points kept
        self._best: tuple[list[float], float, Any] | None = None  # point (engine coords), value, residual copy
        self._first: tuple[list[float], Any] | None = None  # the start, evaluated by prime()
        self._checks_after = iter_cb is not None or max_nfev is not None

    # -- values ------------------------------------------------------------------------------
    def external(self, x: Array) -> Array:
        """External values for a point ``x`` in the engine's coordinates."""
        return x if self.transform is None else self.transform.to_external(x)

    def set_external(self, values: Array | Sequence[float]) -> None:
        """Write external values of the free parameters, then evaluate the expressions."""
        write_values(self.free, np.asarray(values, dtype=float).tolist())
        if self.constraints is not None:
            self.constraints.evaluate()

    # -- what engines call -------------------------------------------------------------------
    def scalar(self, x: Array) -> float:
        """Chi-square (least-squares fits) or the cost (cost fits) at ``x``, counted."""
        out = self.evaluate(x)
        return float(out) if self.kind == "cost" else float(np.dot(out, out))

    def evaluate(self, x: Array) -> Any:
        """The user's residual (or cost) at ``x`` (engine coordinates), checked and counted.

        Writes the values (through the transform) and the expressions, calls
        the function, checks what it returned, and keeps the best point seen
        (its chi-square also reveals a non-finite residual); then the stop
        conditions.
        """
        xl = np.asarray(x, dtype=float).tolist()
        first = self._first
        if first is not None:  # engines usually evaluate the start first (some twice): prime() already did
            if xl == first[0]:
                return first[1]
            self._first = None
        write_values(self.free, xl if self.transform is None else self.transform.external_values(xl))
        if self.constraints is not None:
            self.constraints.evaluate()
        try:
            out = self._call_user()
        except BaseException as exc:
            self.user_error = exc
            raise
        self.nfev += 1
        out = self._checked(out)
        value = float(out) if self.kind == "cost" else float(np.dot(out, out))
        if value < (_INF if self._best is None else self._best[1]):
            self._best = (xl, value, out if self.kind == "cost" else out.copy())
        elif value != value or value == _INF:
            out = self._nonfinite(out)
        if self._checks_after:
            self._check_stop(out)
        return out

    def _check_stop(self, out: Any) -> None:
        if self.iter_cb is not None:
            try:
                stop = self.iter_cb(self.params, self.nfev, out, *self.args, **self.kws)
            except BaseException as exc:
                self.user_error = exc
                raise
            if stop:
                self.stop_reason = f"aborted by iter_cb after {self.nfev} evaluations"
                raise StopFit(self.stop_reason)
        if self.max_nfev is not None and self.nfev >= self.max_nfev:
            self.stop_reason = f"max_nfev={self.max_nfev} evaluations reached"
            raise StopFit(self.stop_reason)

    def prime(self, x0: Array) -> Any:
        """Evaluate the start, which decides the fit's kind and length; the engine's first call reuses it.

        Returns the residual array or the cost. May raise :class:`StopFit`
        (``max_nfev=1``, or ``iter_cb`` at its first call).
        """
        out = self.evaluate(x0)
        self._first = (np.asarray(x0, dtype=float).tolist(), out)
        return out

    # -- what the core calls after the engine ----------------------------------------------------
    def residual_at(self, values: Array) -> Array:
        """Residual at external ``values``, not counted: a fresh array (error bars, polishing)."""
        self.set_external(values)
        out = self._user_value()
        if not np.isfinite(np.dot(out, out)):
            out = self._nonfinite(out)
        return np.array(out, dtype=float)

    def cost_at(self, values: Array) -> float:
        """Cost at external ``values``, not counted (error bars of cost fits)."""
        self.set_external(values)
        return float(self._user_value())

    def expression_values(self, values: Array) -> dict[str, float]:
        """Values of the expression parameters at external ``values`` of the free ones."""
        if self.constraints is None:
            return {}
        self.set_external(values)
        return {c.name: float(c.par.value) for c in self.constraints.ordered if c.par.value is not None}

    def kept_rows(self, rows: Array) -> Array:
        """``rows`` (one per data point) without the points ``nan_policy='omit'`` dropped."""
        return rows if self._mask is None else rows[self._mask]

    def best(self) -> tuple[Array | None, float, Any]:
        """The best point seen (engine coordinates), its chi-square or cost, and its residual (or cost)."""
        if self._best is None:
            return None, _INF, None
        xl, value, out = self._best
        return np.array(xl), value, out

    # -- checking what the function returned ----------------------------------------------------
    def _user_value(self) -> Any:
        """The user's function at the parameters' current values, checked, not counted."""
        try:
            out = self._call_user()
        except BaseException as exc:
            self.user_error = exc
            raise
        return self._checked(out)

    def _checked(self, out: Any) -> Any:
        if self.kind == "least_squares" and type(out) is np.ndarray and out.dtype == _F64 and out.ndim == 1 \
                and self._mask is None and out.shape[0] == self.ndata:
            return out  # the usual case, as it is
        return self._check(out)

    def _check(self, out: Any) -> Any:
        if self.kind is None:
            self.kind = "cost" if _is_real_number(out) else "least_squares"
        if self.kind == "cost":
            return self._check_cost(out)
        r = self._as_residual(out)
        if self.ndata is None and self.nan_policy == "omit":
            finite = np.isfinite(r)
            if not finite.all():
                self._mask = finite
        if self._mask is not None:
            if r.shape[0] != self._mask.shape[0]:
                raise self._error(f"the residual function returned {r.shape[0]} values, but {self._mask.shape[0]} "
                                  "at the start; its length must not change during a fit")
            r = r[self._mask]
        if self.ndata is None:
            if r.shape[0] == 0:
                raise self._error("the residual function returned no finite values to fit" if self._mask is not None
                                  else "the residual function returned an empty array; it must return one value "
                                  "per data point")
            self.ndata = r.shape[0]
        elif r.shape[0] != self.ndata:
            raise self._error(f"the residual function returned {r.shape[0]} values at evaluation {self.nfev}, "
                              f"but {self.ndata} before; its length must not change during a fit")
        return r

    def _as_residual(self, out: Any) -> Array:
        """``out`` as a 1-d float64 array (a masked array's unmasked points), or a clear error."""
        if isinstance(out, np.ma.MaskedArray):
            out = out.compressed() if out.dtype.kind in "biuf" else out
        arr = np.asarray(out)
        if arr.dtype.kind == "c":
            raise self._error("the residual function returned complex values; return a real array "
                              "(e.g. np.concatenate([r.real, r.imag]))")
        if arr.dtype.kind not in "biuf":
            raise self._error(f"the residual function returned {type(out).__name__} (dtype {arr.dtype}); "
                              "it must return a numeric array")
        if arr.ndim == 0:
            raise self._error("the residual function returned a scalar, but residual arrays before; "
                              "it must return the same kind of value at every evaluation")
        return np.ascontiguousarray(arr, dtype=np.float64).ravel()

    def _check_cost(self, out: Any) -> float:
        if np.ndim(out) != 0:
            raise self._error("the function returned an array, but a scalar cost before; it must return the "
                              "same kind of value at every evaluation")
        try:
            cost = float(out)
        except (TypeError, ValueError):
            raise self._error(f"the function returned {type(out).__name__}; a cost must be a real number") from None
        if isinstance(out, complex) or np.iscomplexobj(out):
            raise self._error("the function returned a complex cost; a cost must be a real number")
        if cost != cost or cost in (_INF, -_INF):
            if self.nan_policy == "raise":
                raise NonFiniteResidualError(
                    f"the cost is {cost} in evaluation {self.nfev}; parameter values: {self._values()}. "
                    "Fix the function, bound the parameters, or pass nan_policy='propagate'",
                    self.nfev, self._values())
        return cost

    def _nonfinite(self, r: Any) -> Any:
        if self.kind == "cost":
            return r
        bad = ~np.isfinite(r)
        if not bad.any() or self.nan_policy == "propagate":  # (no bad value: the dot product overflowed)
            return r
        where = np.flatnonzero(bad)[:5].tolist()
        if self.nan_policy == "omit":
            message = (f"nan_policy='omit': new non-finite residual values at positions {where} in evaluation "
                       f"{self.nfev} (points that were finite at the start); parameter values: {self._values()}")
        else:
            message = (f"the residual is not finite at positions {where} (of {r.size}) in evaluation {self.nfev}; "
                       f"parameter values: {self._values()}. Fix the model or data, bound the parameters, or pass "
                       "nan_policy='omit' (drop points that are non-finite at the start) or 'propagate'")
        raise NonFiniteResidualError(message, self.nfev, self._values())

    def _error(self, message: str) -> ResidualError:
        return ResidualError(message, self.nfev, self._values())

    def _values(self) -> dict[str, Any]:
        return {name: par.value for name, par in self.params.items()}
