"""The results of a vectorized batch as arrays, one row per fit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["BatchArrays"]

Array = NDArray[np.float64]


@dataclass
class BatchArrays:
    """The results of a vectorized batch (or chunk) as arrays, one row per fit.

    Attributes
    ----------
    start : int
        Index of the first fit (its position among the datasets).
    index : ndarray of int, shape (n_fits,)
        Position of each fit among the datasets.
    names : tuple of str
        Every parameter, in ``values`` column order.
    var_names : tuple of str
        The varied parameters, in ``covar`` order.
    init_vals : ndarray, shape (nvarys,)
        Their starting values (shared by every fit).
    values, stderr : ndarray, shape (n_fits, n_params)
        Best values and standard errors (NaN where not estimated or failed).
    covar : ndarray, shape (n_fits, nvarys, nvarys)
        Covariances (NaN where not estimated).
    chisqr, redchi, aic, bic : ndarray, shape (n_fits,)
    nfev, nfev_errorbars, status : ndarray of int, shape (n_fits,)
    success, aborted, errorbars, failed : ndarray of bool, shape (n_fits,)
    message : list of str
    errorbars_reason : list of str or None
    errors : dict of int to exception
        What each failed fit raised, by fit index.
    ndata, nvarys, nfree : int
    engine : str
    """

    start: int
    names: tuple[str, ...]
    var_names: tuple[str, ...]
    init_vals: Array
    index: NDArray[np.intp]
    values: Array
    stderr: Array
    covar: Array
    chisqr: Array
    redchi: Array
    aic: Array
    bic: Array
    nfev: NDArray[np.int64]
    nfev_errorbars: NDArray[np.int64]
    status: NDArray[np.int64]
    success: NDArray[np.bool_]
    aborted: NDArray[np.bool_]
    errorbars: NDArray[np.bool_]
    failed: NDArray[np.bool_]
    message: list[str]
    errorbars_reason: list[str | None]
    errors: dict[int, BaseException]
    ndata: int
    nvarys: int
    nfree: int
    engine: str

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @classmethod
    def concatenate(cls, parts: Sequence[BatchArrays]) -> BatchArrays:
        """Join chunks (in order) into one."""
        first = parts[0]
        cat = {name: np.concatenate([getattr(p, name) for p in parts])
               for name in ("index", "values", "stderr", "covar", "chisqr", "redchi", "aic", "bic", "nfev",
                            "nfev_errorbars", "status", "success", "aborted", "errorbars", "failed")}
        errors: dict[int, BaseException] = {}
        for p in parts:
            errors.update(p.errors)
        ndata = next((p.ndata for p in parts if p.ndata), 0)
        return cls(start=first.start, names=first.names, var_names=first.var_names, init_vals=first.init_vals,
                   message=[m for p in parts for m in p.message],
                   errorbars_reason=[r for p in parts for r in p.errorbars_reason], errors=errors, ndata=ndata,
                   nvarys=first.nvarys, nfree=ndata - first.nvarys if ndata else 0, engine=first.engine, **cat)

    @classmethod
    def all_failed(cls, start: int, n: int, names: Sequence[str], var_names: Sequence[str], init_vals: Array,
                   init_values: Array, engine: str, errors: Mapping[int, BaseException]) -> BatchArrays:
        """A chunk's arrays with every fit failed (its error in ``errors``) and its starting values kept."""
        nvar, nan = len(var_names), np.full(n, np.nan)
        message = [f"fit failed: {type(e).__name__}: {e}" if (e := errors.get(start + i)) is not None else ""
                   for i in range(n)]
        return cls(start=start, names=tuple(names), var_names=tuple(var_names), init_vals=init_vals,
                   index=np.arange(start, start + n, dtype=np.intp), values=np.tile(init_values, (n, 1)),
                   stderr=np.full((n, len(names)), np.nan),
                   covar=np.full((n, nvar, nvar), np.nan), chisqr=nan, redchi=nan.copy(), aic=nan.copy(),
                   bic=nan.copy(), nfev=np.zeros(n, dtype=np.int64), nfev_errorbars=np.zeros(n, dtype=np.int64),
                   status=np.zeros(n, dtype=np.int64), success=np.zeros(n, dtype=bool),
                   aborted=np.zeros(n, dtype=bool), errorbars=np.zeros(n, dtype=bool), failed=np.ones(n, dtype=bool),
                   message=message, errorbars_reason=["the fit failed"] * n, errors=dict(errors), ndata=0,
                   nvarys=nvar, nfree=0, engine=engine)
