"""The hot path: internal vector -> external values -> constraints -> user residual.

One :class:`Objective` is built per fit. Everything that can be done once per
fit (index arrays, bound constants, compiled expressions, the residual's
expected length) is done in its constructor or on the first call; each later
call does only the transform, the writes, the expressions, the user call and
a finiteness check folded into the chi-square dot product.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ._blas import LA
from .errors import NonFiniteResidualError, ResidualError

if TYPE_CHECKING:
    from .bounds import BoundsTransform
    from .constraints import Constraints
    from .parameters import Parameter, Parameters

__all__ = ["Objective", "StopFit", "NAN_POLICIES"]

Array = NDArray[np.float64]
_F64 = np.dtype(np.float64)
_INF = float("inf")
NAN_POLICIES = ("raise", "propagate", "omit")


_name = attrgetter("name")


class StopFit(Exception):
    """Raised through the engine to stop a fit (``iter_cb`` asked, or ``max_nfev`` spent)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Objective:
    """Residual and chi-square of one fit as functions of the free parameters.

    Parameters
    ----------
    fcn : callable
        ``fcn(params, *args, **kws) -> residual array``.
    params : Parameters
        Written in place at every evaluation.
    free : sequence of Parameter
        The varied parameters, in vector order.
    transform : BoundsTransform or None
        Internal -> external map, or None when the engine works in external values.
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

    __slots__ = ("fcn", "params", "free", "names", "transform", "_ext", "constraints", "_cons", "args", "kws",
                 "nan_policy", "iter_cb", "max_nfev", "nfev", "ndata", "_mask", "best_chisqr", "_best_x", "_best_r",
                 "stop_reason", "user_error", "counting", "_first", "_ddot", "_fcn", "_pairs", "_plain")

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
        self.fcn = fcn
        self.params = params
        self.free = list(free)
        self.names = list(map(_name, self.free))
        self.transform = None if transform is None or transform.identity else transform
        self._ext = None if self.transform is None else self.transform.external_values
        self.constraints = constraints if constraints else None
        self._cons = None if self.constraints is None else self.constraints.evaluate
        self.args = tuple(args)
        self.kws = dict(kws or {})
        self.nan_policy = nan_policy
        self.iter_cb = iter_cb
        self.max_nfev = max_nfev
        self.nfev = 0
        self.ndata: int | None = None
        self._mask: NDArray[np.bool_] | None = None
        self.best_chisqr = _INF
        self._best_x: list[float] | None = None  # in the coordinates the engine uses
        self._best_r: Array | None = None  # as returned: it may be the function's own buffer, see best()
        self.stop_reason: str | None = None
        self.user_error: BaseException | None = None
        self.counting = True  # False while the core estimates error bars
        self._first: tuple[list[float], Array] | None = None
        self._ddot = LA.ddot  # chi-square: a third of numpy.dot's cost on the hot path, no overflow warning
        # the user's call with its arguments bound once (a C-level call per evaluation)
        self._fcn = partial(fcn, params, *self.args, **self.kws)
        self._pairs = tuple(zip(self.free, range(len(self.free))))
        #: no iter_cb and no evaluation limit: nothing to check after an evaluation but the best point
        self._plain = iter_cb is None and max_nfev is None

    # -- writing values ---------------------------------------------------------------------
    def set_external(self, values: Array) -> None:
        """Write external values of the free parameters, then evaluate the expressions."""
        self.write(values.tolist())

    def write(self, values: list[float]) -> None:
        """Write the free parameters' external values (plain floats), then evaluate the expressions."""
        for par, val in zip(self.free, values):
            par._value = val
        if self._cons is not None:
            self._cons()

    def external(self, x: Array) -> Array:
        """External values for a point ``x`` in the engine's coordinates."""
        return x if self.transform is None else self.transform.to_external(x)

    # -- evaluation -------------------------------------------------------------------------
    def residual(self, x: Array) -> Array:
        """Residual at ``x`` (engine coordinates); the function engines call."""
        xl = x.tolist()
        first = self._first
        if first is not None:  # engines often evaluate the start (again) first
            if xl == first[0]:
                return first[1]
            self._first = None
        values = xl if self._ext is None else self._ext(xl)
        for par, i in self._pairs:  # write(), inlined: this is the hot path
            par._value = values[i]
        if self._cons is not None:
            self._cons()
        return self._call(xl)

    def scalar(self, x: Array) -> float:
        """Chi-square (sum of squared residuals) at ``x``."""
        r = self.residual(x)
        return float(r @ r)

    def _call(self, xl: Any) -> Array:
        """Call the function with the values already written; ``xl`` is the point, kept if it is the best."""
        try:
            out = self._fcn()
        except BaseException as exc:
            self.user_error = exc
            raise
        counting = self.counting
        if counting:
            self.nfev += 1
        if self._mask is None and type(out) is np.ndarray and out.dtype == _F64 and out.ndim == 1 \
                and out.shape[0] == self.ndata:
            r = out  # the common case, checked inline
        else:
            r = self._check(out)
        chi = self._ddot(r, r)
        if not counting:
            if chi != chi or chi == _INF:
                r = self._nonfinite(r)
            return r
        if chi < self.best_chisqr:  # kept without copies: best() checks the residual was not overwritten since
            self.best_chisqr = chi
            self._best_x = xl if type(xl) is list else np.asarray(xl, dtype=float).tolist()
            self._best_r = r
        elif chi != chi or chi == _INF:  # NaN or inf somewhere
            r = self._nonfinite(r)
        if self._plain:
            return r
        if self.iter_cb is not None and self.iter_cb(self.params, self.nfev, r, *self.args, **self.kws):
            self.stop_reason = f"aborted by iter_cb after {self.nfev} evaluations"
            raise StopFit(self.stop_reason)
        if self.max_nfev is not None and self.nfev >= self.max_nfev:
            self.stop_reason = f"max_nfev={self.max_nfev} evaluations reached"
            raise StopFit(self.stop_reason)
        return r

    def _quiet(self, x: Array) -> Array:
        """Residual at ``x`` (engine coordinates) outside the count and the best-so-far tracking, as a copy."""
        self.counting = False
        try:
            return self.residual(x).copy()
        finally:
            self.counting = True

    def best(self) -> tuple[Array | None, Array | None, float]:
        """The best point seen (engine coordinates), its residual and chi-square; ``(None, None, inf)`` if none.

        The residual was kept as the function returned it; a function that
        reuses one output buffer has overwritten it since, which the kept
        chi-square reveals, and the point is evaluated again.
        """
        if self._best_x is None:
            return None, None, _INF
        x = np.array(self._best_x)
        r = self._best_r
        assert r is not None
        if self._ddot(r, r) != self.best_chisqr:  # the same dot product as the kept one, bit for bit
            r = self._best_r = self._quiet(x)
        return x, r, self.best_chisqr

    def keep(self, x: Array, r: Array) -> None:
        """Make ``x`` (engine coordinates) with residual ``r`` the best point."""
        self._best_x, self._best_r, self.best_chisqr = x.tolist(), r, self._ddot(r, r)

    def prime(self, x0: Array) -> Array:
        """Evaluate at the start once, validating the residual; the engine's first call reuses it."""
        r = self.residual(x0)
        self._first = (x0.tolist(), r)
        return r

    def _check(self, out: Any) -> Array:
        r = self._convert(out)
        if self._mask is not None:
            r = r[self._mask]
        if r.shape[0] != self.ndata:
            if self.ndata is None:
                if r.shape[0] == 0:
                    raise ResidualError(
                        "the residual function returned no finite values to fit" if self._mask is not None
                        else "the residual function returned an empty array; it must return one value per data point",
                        self.nfev,
                        self._values(),
                    )
                self.ndata = r.shape[0]
            else:
                raise ResidualError(
                    f"the residual function returned {r.shape[0]} values at evaluation {self.nfev}, "
                    f"but {self.ndata} before; its length must not change during a fit",
                    self.nfev,
                    self._values(),
                )
        return r

    def _convert(self, out: Any) -> Array:
        if type(out) is np.ndarray and out.dtype == _F64 and out.ndim == 1:  # the usual case: as it is
            arr = out
        else:
            arr = self._coerce(out)
        if self.ndata is None and self.nan_policy == "omit":
            finite = np.isfinite(arr)
            if not finite.all():
                self._mask = finite
        return arr

    def _coerce(self, out: Any) -> Array:
        """``out`` as a 1-d float64 array, or a clear error saying what the function returned instead."""
        arr = np.asarray(out)
        if arr.dtype.kind == "c":
            raise ResidualError(
                "the residual function returned complex values; return a real array "
                "(e.g. np.concatenate([r.real, r.imag]))",
                self.nfev,
                self._values(),
            )
        if arr.dtype.kind not in "biuf":
            raise ResidualError(
                f"the residual function returned {type(out).__name__} (dtype {arr.dtype}); "
                "it must return a numeric array",
                self.nfev,
                self._values(),
            )
        if arr.ndim == 0:
            raise ResidualError(
                "the residual function returned a scalar; return the array of residuals "
                "(data - model), not their sum of squares",
                self.nfev,
                self._values(),
            )
        return np.ascontiguousarray(arr, dtype=np.float64).ravel()

    def _nonfinite(self, r: Array) -> Array:
        bad = ~np.isfinite(r)
        if not bad.any():  # the dot product overflowed; the values are finite
            return r
        if self.nan_policy == "propagate":
            return r
        if self.nan_policy == "omit":
            where = np.flatnonzero(bad)[:5].tolist()
            raise NonFiniteResidualError(
                f"nan_policy='omit': new non-finite residual values at positions {where} in evaluation "
                f"{self.nfev} (points that were finite at the start); parameter values: {self._values()}",
                self.nfev,
                self._values(),
            )
        where = np.flatnonzero(bad)[:5].tolist()
        raise NonFiniteResidualError(
            f"the residual is not finite at positions {where} (of {r.size}) in evaluation {self.nfev}; "
            f"parameter values: {self._values()}. Fix the model or data, bound the parameters, or pass "
            "nan_policy='omit' (drop points that are non-finite at the start) or 'propagate'",
            self.nfev,
            self._values(),
        )

    def _values(self) -> dict[str, Any]:
        return {name: par._value for name, par in self.params.items()}
