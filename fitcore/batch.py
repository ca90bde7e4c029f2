"""fit_many: one fit per dataset, serially or on any executor, each result a picklable snapshot.

Users who fit a model to every pixel of an image or every spectrum of a survey
run thousands of independent fits of one residual function with one set of
starting Parameters. :func:`fit_many` validates that setup once, then runs the
fits (in this process, or in chunks on a ``concurrent.futures.Executor`` such as
a process pool or a dask cluster, see :mod:`fitcore.executors`) and returns a
:class:`FitBatch`: one :class:`fitcore.FitResult` per dataset, in input order.

Datasets
--------
Each dataset says how to call the residual function, unambiguously:

* a ``tuple`` is the positional arguments: ``(x, y)`` calls ``function(params, x, y)``;
* a :class:`FitArgs` gives positional and keyword arguments:
  ``FitArgs(x, y, weights=w)`` calls ``function(params, x, y, weights=w)``.

Anything else (a list, an array, a dict) is refused with a TypeError before
any fit runs; wrap a single argument as ``(data,)``.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import pickle
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass, field, replace
from itertools import chain, islice
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .errors import EngineCapabilityError, EngineNotFoundError, EngineUnavailableError, FitcoreError
from .executors import (
    BatchInterrupted,
    ProgressCallback,
    check_picklable,
    check_progress_args,
    executor_workers,
    map_chunked,
    map_chunks,
)
from .fitting import PreparedFit
from .minimizer import Minimizer
from .parameters import Parameters, write_values
from .plugins import get_engine
from .result import FitResult

if TYPE_CHECKING:
    from .vectorized import BatchArrays

__all__ = ["fit_many", "FitArgs", "FitSnapshot", "FitFailure", "FitBatch", "VectorizedBatch", "WorkerDiedError",
           "check_dataset", "BatchInterrupted"]


class FitArgs:
    """The arguments of the residual function for one dataset of :func:`fit_many`.

    ``FitArgs(x, y, weights=w)`` makes that fit call ``function(params, x, y, weights=w)``.
    A plain tuple ``(x, y)`` is the same as ``FitArgs(x, y)``.

    Parameters
    ----------
    *args
        Positional arguments after ``params``.
    **kws
        Keyword arguments.
    """

    __slots__ = ("args", "kws")

    def __init__(self, *args: Any, **kws: Any) -> None:
        self.args: tuple[Any, ...] = args
        self.kws: dict[str, Any] = kws

    def __repr__(self) -> str:
        bits = [_short(a) for a in self.args] + [f"{k}={_short(v)}" for k, v in self.kws.items()]
        return f"FitArgs({', '.join(bits)})"

    def __getstate__(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return self.args, self.kws

    def __setstate__(self, state: tuple[tuple[Any, ...], dict[str, Any]]) -> None:
        self.args, self.kws = state


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"<array {value.shape} {value.dtype}>"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class FitFailure:
    """Why one fit of a batch failed.

    Attributes
    ----------
    type : str
        Qualified name of the exception class, e.g. ``'fitcore.errors.NonFiniteResidualError'``.
    message : str
        ``str(exception)``, with any notes appended.
    traceback : str
        The formatted traceback, as text (tracebacks themselves do not pickle).
    exception : BaseException or None
        The exception itself when it survives pickling, else None.
    """

    type: str
    message: str
    traceback: str
    exception: BaseException | None = field(default=None, compare=False)

    @classmethod
    def from_exception(cls, exc: BaseException) -> FitFailure:
        """Describe ``exc``; keep the object only if it round-trips through pickle."""
        kind = type(exc)
        name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        notes = getattr(exc, "__notes__", None) or []
        message = "\n".join([str(exc), *map(str, notes)])
        text = "".join(traceback.format_exception(exc))
        kept: BaseException | None = exc.with_traceback(None)
        try:
            pickle.loads(pickle.dumps(kept))
        except Exception:  # noqa: BLE001 - any failure to round-trip means: keep the text only
            kept = None
        return cls(name, message, text, kept)

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


#: The per-fit result of :func:`fit_many` is the result of any fit: :class:`fitcore.FitResult`, with
#: ``index`` its dataset's position and ``error`` a :class:`FitFailure` when the fit raised. The
#: residual array is not kept (``residual=None``): it would multiply a batch's memory by the data size.
FitSnapshot = FitResult


def fit_result(index: int, result: FitResult) -> FitResult:
    """``result`` as the fit of dataset ``index`` of a batch (its residual array dropped)."""
    return replace(result, index=index, residual=None)


def failed_result(index: int, params: Parameters, engine: str, exc: BaseException) -> FitResult:
    """A fit that raised: the starting values, NaN statistics, and the error as a :class:`FitFailure`."""
    error = FitFailure.from_exception(exc)
    free = [k for k, p in params.items() if p.vary and p.expr is None]
    return FitResult(params=params.copy(), success=False, message=f"fit failed: {error}", var_names=tuple(free),
                     init_vals=tuple(float(params[k].value) for k in free),
                     nvarys=len(free), errorbars_reason="the fit failed", engine=engine, index=index, error=error)


class FitBatch(list):
    """The list of :class:`fitcore.FitResult` returned by :func:`fit_many`, in input order, with array views."""

    def values(self, name: str) -> NDArray[np.float64]:
        """Best-fit values of parameter ``name`` across the batch; NaN where a fit failed."""
        self._check(name)
        return np.array([math.nan if s.error is not None else _num(s.values[name]) for s in self], dtype=float)

    def stderrs(self, name: str) -> NDArray[np.float64]:
        """Standard errors of parameter ``name``; NaN where not estimated."""
        self._check(name)
        return np.array([_num(s.stderr[name]) for s in self], dtype=float)

    def _check(self, name: str) -> None:
        if self and name not in self[0].values:
            raise KeyError(f"no parameter {name!r} in these fits; they have {', '.join(self[0].values)}")

    @property
    def success(self) -> NDArray[np.bool_]:
        """``success`` of each fit, as a boolean array."""
        return np.array([s.success for s in self], dtype=bool)

    @property
    def failures(self) -> list[FitResult]:
        """The results of fits that raised."""
        return [s for s in self if s.error is not None]


def _num(value: float | None) -> float:
    return math.nan if value is None else float(value)


class _Probe(Exception):
    """Raised by the stand-in residual: validation reached the first evaluation."""


def _probe(params: Parameters, *args: Any, **kws: Any) -> Any:
    raise _Probe


class _FitTask:
    """One fit per ``(index, dataset)`` item; the picklable unit of work sent to workers.

    The fit is set up once per process (:meth:`fitcore.Minimizer.prepared`) on
    a working copy of the parameters, which is put back at the start before
    each dataset's fit.
    """

    __slots__ = ("function", "params", "engine", "engine_kws", "_fit")

    def __init__(self, function: Callable[..., Any], params: Parameters, engine: str,
                 engine_kws: dict[str, Any]) -> None:
        self.function = function
        self.params = params
        self.engine = engine
        self.engine_kws = engine_kws
        self._fit: PreparedFit | None = None

    def __getstate__(self) -> tuple[Any, ...]:
        return self.function, self.params, self.engine, self.engine_kws

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.function, self.params, self.engine, self.engine_kws = state
        self._fit = None

    def _prepared(self) -> PreparedFit:
        if self._fit is None:
            try:
                self._fit = Minimizer(self.function, self.params.copy()).prepared(self.engine, **self.engine_kws)
            except (EngineNotFoundError, EngineUnavailableError) as exc:
                # validated in the caller's process, so this is the worker's environment: fail once, not per fit
                raise EngineUnavailableError(
                    f"engine {self.engine!r} is available where fit_many was called but not on this worker "
                    f"({exc}); install its plugin distribution on every worker", self.engine) from None
        else:
            self._fit.rewind()
        return self._fit

    def __call__(self, item: tuple[int, tuple[Any, ...] | FitArgs]) -> FitResult:
        index, dataset = item
        try:
            check_dataset(index, dataset)
        except TypeError as exc:  # from a lazily consumed iterable: this dataset fails alone
            return failed_result(index, self.params, self.engine, exc)
        args, kws = (dataset.args, dataset.kws) if isinstance(dataset, FitArgs) else (dataset, {})
        try:
            result = self._prepared().run(args, kws)
        except EngineUnavailableError:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad dataset must not sink the batch
            return failed_result(index, self.params, self.engine, exc)
        return fit_result(index, result)


def check_dataset(index: int, dataset: Any) -> None:
    """Raise TypeError unless ``dataset`` is a tuple or a :class:`FitArgs`."""
    if not isinstance(dataset, (tuple, FitArgs)):
        raise TypeError(
            f"dataset {index} is a {type(dataset).__name__}; each dataset must be a tuple of the residual "
            "function's positional arguments, e.g. (x, y), or fitcore.FitArgs(x, y, weights=w) for keyword "
            "arguments too. Wrap a single argument as (data,)"
        )


def _validate(function: Callable[..., Any], params: Parameters, engine: str, engine_kws: dict[str, Any]) -> None:
    """Check everything a fit checks before its first evaluation, once, in this process."""
    for wrong in ("args", "kws", "fcn_args", "fcn_kws"):
        if wrong in engine_kws:
            raise TypeError(f"fit_many got {wrong}=...; the residual's arguments come from the datasets: give "
                            "each dataset as a tuple of positional arguments or as fitcore.FitArgs(*args, **kws)")
    if not callable(function):
        raise TypeError(f"the residual function must be callable, got {type(function).__name__}")
    if not isinstance(params, Parameters):
        raise TypeError(f"params must be a fitcore Parameters, not {type(params).__name__}")
    for name in ("Dfun", "iter_cb"):
        value = engine_kws.get(name)
        if value is not None and not callable(value):
            raise TypeError(f"{name} must be callable, got {type(value).__name__}")
    try:  # the Minimizer validates engine, options, parameters and capabilities before evaluating anything
        Minimizer(_probe, params.copy()).minimize(engine=engine, **engine_kws)
    except _Probe:
        return


def fit_many(
    function: Callable[..., Any],
    params: Parameters,
    datasets: Iterable[tuple[Any, ...] | FitArgs],
    engine: str | None = None,
    executor: cf.Executor | None = None,
    chunksize: int | None = None,
    progress: bool = False,
    callback: ProgressCallback | None = None,
    vectorized: bool = False,
    **engine_kws: Any,
) -> FitBatch | VectorizedBatch:
    """Fit ``function`` to each dataset, starting every fit from ``params``.

    Parameters
    ----------
    function : callable
        ``function(params, *args, **kws)`` returning the residual array. With a
        process pool it must be importable by the workers (module level).
        With ``vectorized=True`` it is called for a whole chunk of fits at
        once and must broadcast (see ``docs/scaling.md``).
    params : Parameters
        Starting values, bounds and constraints shared by every fit. Never
        modified: each fit works on its own copy.
    datasets : iterable
        One item per fit: a tuple of positional arguments of ``function``, or a
        :class:`FitArgs` for positional and keyword arguments. Any iterable;
        a generator is consumed lazily (a malformed item then fails its fit alone).
    engine : str, optional
        Name of an installed engine (:func:`fitcore.list_engines`); with an
        executor it must be installed on every worker. Default ``'leastsq'``,
        or ``'batch_lm'`` with ``vectorized=True`` (batched engines only).
    executor : concurrent.futures.Executor, optional
        Where to run the fits: None runs them here, one after the other; a
        ``ProcessPoolExecutor`` or dask ``Client.get_executor()`` spreads
        chunks of fits over its workers.
    chunksize : int, optional
        Fits per chunk, the unit sent to the executor (and, vectorized, the
        fits evaluated together). Default: about 8 chunks per worker, at most
        512 fits each (128 when ``datasets`` has no length); vectorized, as
        many fits as make one ``(n_fits, n_points)`` array about 1 MB (64 to
        4096), fewer on an executor so that each worker gets 4 chunks.
    progress : bool, default False
        Show a tqdm progress bar (``pip install 'fitcore[progress]'``).
    callback : callable, optional
        ``callback(done, total)`` as fits complete (per chunk with an executor).
    vectorized : bool, default False
        Fit each chunk as arrays with a batched engine: ``function`` is called
        once per engine step for all fits of the chunk, each parameter's value
        an array of shape ``(n_fits, 1)`` and each data argument stacked along
        a leading axis. Datasets must all have one shape. ``Dfun`` then returns
        shape ``(n_fits, n_points, n_vars)``. Checked on the first two datasets
        before any fit runs.
    **engine_kws
        Engine options and core options (``max_nfev``, ``nan_policy``,
        ``scale_covar``, ...) applied to every fit; ``max_nfev`` counts per fit.

    Returns
    -------
    FitBatch or VectorizedBatch
        One result per dataset, in input order (``fits[i]``). A fit that
        raises gives a result with ``error`` set; the other fits go on.
        Vectorized, the results live in arrays (:class:`VectorizedBatch`).

    Raises
    ------
    TypeError, ValueError, fitcore.FitcoreError
        Before any fit runs, for an unknown engine or option, invalid
        parameters or constraints, a malformed dataset (when ``datasets`` has a
        length), a function a process pool cannot pickle, a missing tqdm, or
        (vectorized) datasets of different shapes or a function that does not
        broadcast.
    BatchInterrupted
        When the datasets' iterable raised mid-way, or a worker died and could
        not be replaced; ``.results`` holds the fits finished before.

    Examples
    --------
    >>> import numpy as np, fitcore
    >>> def residual(p, x, y):
    ...     return p['a'].value * np.exp(-x / p['t'].value) - y
    >>> x = np.linspace(0, 5, 40)
    >>> p = fitcore.Parameters(); p.add('a', value=1); p.add('t', value=1, min=0.1)
    >>> fits = fitcore.fit_many(residual, p, [(x, 2 * np.exp(-x / 1.5)), (x, 3 * np.exp(-x / 0.5))])
    >>> np.round(fits.values('t'), 6).tolist(), p['t'].value
    ([1.5, 0.5], 1.0)
    >>> fits = fitcore.fit_many(residual, p, [(x, 2 * np.exp(-x / 1.5)), (x, 3 * np.exp(-x / 0.5))],
    ...                         vectorized=True)
    >>> np.round(fits.values('t'), 6).tolist()
    [1.5, 0.5]
    """
    if not isinstance(vectorized, bool):
        raise TypeError(f"vectorized must be True or False, not {vectorized!r}")
    check_progress_args(progress, callback)
    if isinstance(datasets, (str, bytes, Mapping)) or not isinstance(datasets, Iterable):
        raise TypeError(f"datasets must be an iterable of tuples or FitArgs, not {type(datasets).__name__}")
    if vectorized:
        return _fit_vectorized(function, params, datasets, engine, executor, chunksize, progress, callback,
                               engine_kws)
    engine = "leastsq" if engine is None else engine
    if isinstance(engine, str) and get_engine(engine).spec.batched:
        raise EngineCapabilityError(
            f"engine {engine!r} is a batched engine: it fits a whole chunk of datasets at once, with a residual "
            "written for arrays; use fit_many(..., vectorized=True), or a per-fit engine such as 'leastsq'", engine)
    _validate(function, params, engine, engine_kws)
    if isinstance(datasets, Sized):
        for i, dataset in enumerate(datasets):
            check_dataset(i, dataset)
    task = _FitTask(function, params.copy(), engine, dict(engine_kws))
    if executor is not None:
        check_picklable(executor, "residual function, parameters or engine options", task)
    items = _SizedItems(datasets) if isinstance(datasets, Sized) else _Items(datasets)

    def lost(start: int, chunk: list[Any], exc: BaseException) -> list[FitResult]:
        error = WorkerDiedError(_died(start, len(chunk), exc))
        return [failed_result(i, task.params, task.engine, error) for i, _ in chunk]

    try:
        return FitBatch(map_chunked(task, items, executor=executor, chunksize=chunksize, progress=progress,
                                    callback=callback, desc="fits", on_lost=lost))
    except BatchInterrupted as exc:
        raise BatchInterrupted(f"fit_many stopped: {exc}", FitBatch(exc.results), exc.starts) from exc.__cause__


class WorkerDiedError(FitcoreError):
    """The worker process running a fit died (killed by a signal, the OOM killer, ``os._exit``)."""


def _died(start: int, n: int, exc: BaseException) -> str:
    return (f"the worker process fitting datasets {start} to {start + n - 1} died ({type(exc).__name__}: {exc}), "
            "also when these datasets were fitted again alone on a fresh process; the other fits are kept")


def _fit_vectorized(function: Callable[..., Any], params: Parameters, datasets: Iterable[Any], engine: str | None,
                    executor: cf.Executor | None, chunksize: int | None, progress: bool,
                    callback: ProgressCallback | None, engine_kws: dict[str, Any]) -> VectorizedBatch:
    from .vectorized import (
        BatchArrays,
        DataLayout,
        VectorizedTask,
        check_broadcasting,
        failed_chunk,
        prepare_vectorized,
    )

    if isinstance(datasets, Sized):
        head = list(islice(iter(datasets), 2))
        items: Iterable[Any] = _SizedItems(datasets)
    else:
        source = iter(datasets)
        head = list(islice(source, 2))
        items = _Items(chain(head, source))
    for i, dataset in enumerate(head):
        check_dataset(i, dataset)
    if not head:  # as the per-fit fit_many: validated, then an empty batch
        setup = prepare_vectorized(function, params, engine, engine_kws, ())
        return VectorizedBatch(failed_chunk(setup, 0, 0, {}), setup.params, setup.options, setup.core_options)
    setup = prepare_vectorized(function, params, engine, engine_kws, head[0])
    if isinstance(datasets, Sized):  # every dataset's shape, before any work
        DataLayout.of(head[0]).check_all(datasets, check_dataset)
        setup = replace(setup, prechecked=True)
    setup = replace(setup, check_item=check_dataset)
    ndata = check_broadcasting(setup, head)
    task = VectorizedTask(setup)
    if executor is not None:
        check_picklable(executor, "residual function, parameters or engine options", task)
    if chunksize is None:
        total = len(datasets) if isinstance(datasets, Sized) else None
        # each (n_fits, n_points) array of a chunk about VECTOR_ROW_BYTES; on an executor also at least
        # VECTOR_CHUNKS_PER_WORKER chunks per worker when the number of datasets is known (load balance)
        chunksize = max(MIN_VECTOR_CHUNK, min(MAX_VECTOR_CHUNK, VECTOR_ROW_BYTES // (8 * ndata)))
        if executor is not None and total is not None:
            share = math.ceil(total / (VECTOR_CHUNKS_PER_WORKER * executor_workers(executor)))
            chunksize = max(1, min(chunksize, share))

    def lost(start: int, chunk: list[Any], exc: BaseException) -> Any:
        error = WorkerDiedError(_died(start, len(chunk), exc))
        return failed_chunk(setup, start, len(chunk), {start + k: error for k in range(len(chunk))})

    try:
        parts = map_chunks(task, items, executor=executor, chunksize=chunksize, progress=progress,
                           callback=callback, desc="fits", on_lost=lost)
    except BatchInterrupted as exc:
        done = VectorizedBatch(BatchArrays.concatenate(exc.results), setup.params, setup.options,
                               setup.core_options) if exc.results else None
        raise BatchInterrupted(f"fit_many stopped: {exc}", done if done is not None else [],  # type: ignore[arg-type]
                               exc.starts) from exc.__cause__
    return VectorizedBatch(BatchArrays.concatenate(parts), setup.params, setup.options, setup.core_options)


#: size of one (n_fits, n_points) array of a serial vectorized chunk: large chunks spread numpy's fixed
#: cost per operation over more fits, and arrays this size stay in the processor's caches (a chunk holds
#: about n_vars + 4 of them: datasets, residuals, Jacobian)
VECTOR_ROW_BYTES = 2**20
MIN_VECTOR_CHUNK, MAX_VECTOR_CHUNK = 64, 4096
#: chunks per worker a vectorized fit_many on an executor aims for: few, since each chunk's arrays run
#: faster the larger they are, and the fits of a batch cost about the same
VECTOR_CHUNKS_PER_WORKER = 4


class VectorizedBatch(Sequence):
    """The results of a vectorized :func:`fit_many`: arrays for the whole batch, per-fit results on request.

    ``fits[i]`` builds the :class:`fitcore.FitResult` of fit ``i`` when asked
    for; the arrays are in :attr:`arrays` (a :class:`fitcore.vectorized.BatchArrays`)
    and behind the properties below.

    Parameters
    ----------
    arrays : BatchArrays
        The batch's arrays.
    template : Parameters
        The starting Parameters (each per-fit result holds a filled copy).
    engine_options, core_options : mapping
        The options of the fits, as each per-fit result reports them.
    """

    def __init__(self, arrays: BatchArrays, template: Parameters, engine_options: Mapping[str, Any] | None = None,
                 core_options: Mapping[str, Any] | None = None) -> None:
        self.arrays = arrays
        self.template = template
        self.engine_options = dict(engine_options or {})
        self.core_options = dict(core_options or {})
        self._column = {name: j for j, name in enumerate(arrays.names)}

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        k = int(i)
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(f"fit {i} of a batch of {len(self)}")
        return self._result(k)

    def _result(self, k: int) -> FitResult:
        a = self.arrays
        names, var_names = a.names, a.var_names
        index = int(a.index[k])
        params = self.template.copy()
        write_values([params[n] for n in names], a.values[k].tolist())
        corr = None
        covar = None
        if a.errorbars[k]:
            covar = np.array(a.covar[k])
            sd = np.sqrt(np.diag(covar))
            with np.errstate(invalid="ignore", divide="ignore"):  # exact data: zero variances, no correlation
                corr = covar / np.outer(sd, sd)
        for j, n in enumerate(names):
            se = float(a.stderr[k, j])
            params[n].stderr = se if a.errorbars[k] and math.isfinite(se) else None
            params[n].correl = None
        if corr is not None:
            for i1, n1 in enumerate(var_names):
                params[n1].correl = {n2: float(corr[i1, i2]) for i2, n2 in enumerate(var_names) if i2 != i1}
        failed = bool(a.failed[k])
        return FitResult(
            params=params, success=bool(a.success[k]), message=a.message[k], var_names=var_names,
            init_vals=tuple(a.init_vals.tolist()), aborted=bool(a.aborted[k]), nfev=int(a.nfev[k]),
            nfev_errorbars=int(a.nfev_errorbars[k]), ier=None if failed else int(a.status[k]),
            lmdif_message="" if failed else a.message[k], errorbars=bool(a.errorbars[k]),
            errorbars_reason=a.errorbars_reason[k], nvarys=a.nvarys, ndata=0 if failed else a.ndata,
            nfree=0 if failed else a.nfree, chisqr=float(a.chisqr[k]), redchi=float(a.redchi[k]),
            aic=float(a.aic[k]), bic=float(a.bic[k]), covar=covar, engine=a.engine,
            engine_options=self.engine_options, core_options=self.core_options, index=index,
            error=FitFailure.from_exception(a.errors[index]) if failed else None)

    def values(self, name: str) -> NDArray[np.float64]:
        """Best-fit values of parameter ``name`` across the batch; NaN where a fit failed."""
        return np.where(self.arrays.failed, np.nan, self.arrays.values[:, self._col(name)])

    def stderrs(self, name: str) -> NDArray[np.float64]:
        """Standard errors of parameter ``name``; NaN where not estimated."""
        return self.arrays.stderr[:, self._col(name)].copy()

    def _col(self, name: str) -> int:
        if name not in self._column:
            raise KeyError(f"no parameter {name!r} in these fits; they have {', '.join(self.arrays.names)}")
        return self._column[name]

    @property
    def success(self) -> NDArray[np.bool_]:
        """``success`` of each fit."""
        return self.arrays.success.copy()

    @property
    def chisqr(self) -> NDArray[np.float64]:
        """Chi-square of each fit (NaN where failed)."""
        return self.arrays.chisqr.copy()

    @property
    def redchi(self) -> NDArray[np.float64]:
        """Reduced chi-square of each fit."""
        return self.arrays.redchi.copy()

    @property
    def nfev(self) -> NDArray[np.int64]:
        """Residual evaluations of each fit."""
        return self.arrays.nfev.copy()

    @property
    def covar(self) -> NDArray[np.float64]:
        """Covariances, shape (n_fits, nvarys, nvarys) in ``var_names`` order; NaN where not estimated."""
        return self.arrays.covar.copy()

    @property
    def correl(self) -> NDArray[np.float64]:
        """Correlation matrices, shape (n_fits, nvarys, nvarys); NaN where not estimated."""
        cov = self.arrays.covar
        sd = np.sqrt(np.einsum("kii->ki", cov))
        with np.errstate(invalid="ignore", divide="ignore"):  # zero variances (exact data) give NaN
            return cov / (sd[:, :, None] * sd[:, None, :])

    @property
    def var_names(self) -> tuple[str, ...]:
        """The varied parameters, in ``covar`` order."""
        return self.arrays.var_names

    @property
    def failures(self) -> list[FitResult]:
        """The results of fits that raised."""
        return [self[k] for k in np.flatnonzero(self.arrays.failed).tolist()]

    def __repr__(self) -> str:
        a = self.arrays
        return (f"<VectorizedBatch of {len(self)} fits: {int(a.success.sum())} success, "
                f"{int(a.failed.sum())} failed, engine={a.engine!r}>")


class _Items:
    """``(index, dataset)`` pairs (each dataset is checked by the task that fits it)."""

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = datasets

    def __iter__(self) -> Any:
        return enumerate(self.datasets)


class _SizedItems(_Items):
    """:class:`_Items` of datasets with a length (gives the progress total and the default chunk size)."""

    def __len__(self) -> int:
        return len(self.datasets)  # type: ignore[arg-type]
