"""What a batched engine receives (BatchProblem) and returns (BatchEngineResult).

A batched engine fits many independent least-squares problems of one shape at
once, all of them advancing together as arrays. It is declared like any other
engine, with ``EngineSpec(..., batched=True)``, and called as
``engine(problem, **options) -> BatchEngineResult``. Everything but the
minimization itself is the core's: stacking the datasets, the bound
transform, constraint expressions, counting evaluations per fit, recording a
fit whose residual turned non-finite as failed, error bars and statistics.

Fits are numbered ``0 .. n_fits - 1``. The engine evaluates any subset of
them: ``problem.residual(x, fits)`` takes the points ``x`` (one row per fit
in ``fits``) and the integer indices ``fits`` of the fits they belong to, so
finished fits simply leave the arrays the engine passes. ``fits`` is the
per-fit mask of active fits, in index form.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["BatchProblem", "BatchEngineResult"]

Array = NDArray[np.float64]
Index = NDArray[np.intp]


@dataclass(frozen=True, eq=False)
class BatchProblem:
    """``n_fits`` least-squares problems of one shape, as a batched engine sees them.

    Attributes
    ----------
    x0 : ndarray, shape (n_fits, nvar)
        Starting points in the engine's coordinates: internal (unbounded)
        for ``bounds='transform'`` engines, the parameters' own values otherwise.
    lower, upper : ndarray, shape (n_fits, nvar)
        Per-fit bounds in the engine's coordinates (``-inf``/``inf`` under
        the transform).
    names : tuple of str
        Names of the free parameters, in column order.
    residual : callable
        ``residual(x, fits) -> ndarray (len(fits), ndata)``: the residuals of
        fits ``fits`` (integer indices, shape ``(k,)``) at points ``x``
        (shape ``(k, nvar)``). Each row counts as one evaluation of its fit.
        A row that is not finite means that fit has failed (the core has
        recorded why): the engine must stop that fit and never evaluate it again.
    jacobian : callable
        ``jacobian(x, fits, r=None) -> ndarray (len(fits), ndata, nvar)``:
        the user's analytic Jacobian when one was given
        (``has_analytic_jacobian``; no evaluation counted), else forward
        differences, ``nvar`` evaluations per fit; ``r`` (the residual rows
        at ``x``, when the engine has them) spares one more.
    ndata : int
        Residuals per fit.
    has_analytic_jacobian : bool
        Whether ``jacobian`` is the user's.
    max_nfev : int or None
        Evaluation budget *per fit*; the engine must not exceed it
        (a fit that reaches it stops with a non-success status).
    """

    x0: Array
    lower: Array
    upper: Array
    names: tuple[str, ...]
    residual: Callable[[Array, Index], Array]
    jacobian: Callable[..., Array]
    ndata: int
    has_analytic_jacobian: bool = False
    max_nfev: int | None = None
    _counter: Callable[[], NDArray[np.int64]] = field(default=lambda: np.zeros(0, dtype=np.int64), repr=False)

    @property
    def n_fits(self) -> int:
        """Number of fits in the batch."""
        return int(self.x0.shape[0])

    @property
    def nvar(self) -> int:
        """Number of free parameters of each fit."""
        return len(self.names)

    @property
    def nfev(self) -> NDArray[np.int64]:
        """Residual evaluations made so far, per fit (a copy)."""
        return self._counter().copy()


@dataclass
class BatchEngineResult:
    """What a batched engine returns: one entry per fit, in fit order.

    Attributes
    ----------
    x : ndarray, shape (n_fits, nvar)
        Best point of each fit, in the engine's coordinates.
    success : ndarray of bool, shape (n_fits,)
        Whether each fit passed the engine's own convergence test.
    status : ndarray of int, shape (n_fits,)
        The engine's exit code per fit.
    message : sequence of str, length n_fits
        Why each fit stopped, in the engine's words.
    nfev : ndarray of int, shape (n_fits,)
        Residual evaluations the engine made for each fit (the core checks
        them against its own count).
    nit : ndarray of int or None
        Iterations per fit, where the engine counts them.
    aborted : ndarray of bool or None
        Fits stopped because their next step would pass ``problem.max_nfev``
        (reported as ``aborted``, values the best seen).
    extras : dict
        Anything engine specific.
    """

    x: Array
    success: NDArray[np.bool_]
    status: NDArray[np.int64]
    message: tuple[str, ...] | list[str]
    nfev: NDArray[np.int64]
    nit: NDArray[np.int64] | None = None
    aborted: NDArray[np.bool_] | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)
