"""Run many independent tasks on any ``concurrent.futures.Executor``, in chunks.

fitcore does not ship a scheduler. It sends work to whatever executor the user
already has: the standard library's :class:`~concurrent.futures.ProcessPoolExecutor`,
a dask.distributed cluster (``Client.get_executor()``), or anything else with
``submit``. This module is the one place that knows how:

* Items go out in **chunks** (several items per task), because one task per
  ~2 ms fit costs more in scheduling than it saves. dask's executor ignores
  ``Executor.map(chunksize=...)``, so chunking is done here, by submitting our
  own chunk tasks.
* Every chunk task carries its own position, so two chunks never have equal
  arguments. A dask executor made without ``pure=False`` would otherwise merge
  identical calls; for dask executors fitcore also submits with ``pure=False``,
  which skips hashing the data.
* Only a bounded number of chunks is in flight at a time, so a batch of a
  million items never sits pickled in memory or on the scheduler at once.
* Results come back in input order; progress is reported as chunks complete.

:func:`map_chunked` is generic (any picklable ``func(item)``); :func:`fitcore.fit_many`
and the confidence-interval helpers build on it.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
import pickle
import traceback
from collections.abc import Callable, Iterable, Sized
from itertools import islice
from typing import Any, TypeVar

from .errors import FitcoreError

__all__ = ["map_chunked", "default_chunksize", "executor_workers", "ProgressCallback", "TaskError"]

T = TypeVar("T")
R = TypeVar("R")
ProgressCallback = Callable[[int, "int | None"], Any]

#: largest default chunk: enough to amortize scheduling, small enough for steady progress
MAX_DEFAULT_CHUNK = 512
#: default chunk size when the number of items is not known in advance
UNSIZED_CHUNK = 128
#: chunks per worker the default chunk size aims for (load balance vs. overhead)
CHUNKS_PER_WORKER = 8


def executor_workers(executor: cf.Executor) -> int:
    """Return how many tasks ``executor`` runs at once (its workers or threads).

    Knows the standard library's pools and dask.distributed's ``ClientExecutor``
    (total worker threads of the cluster); falls back to ``os.cpu_count()``.
    """
    n = getattr(executor, "_max_workers", None)
    if isinstance(n, int) and n > 0:
        return n
    client = getattr(executor, "_client", None)
    if client is not None and hasattr(client, "nthreads"):
        try:
            total = sum(client.nthreads().values())
        except Exception:  # noqa: BLE001 - a cluster that cannot answer: use the fallback
            total = 0
        if total > 0:
            return int(total)
    return os.cpu_count() or 1


def default_chunksize(nitems: int | None, workers: int) -> int:
    """Items per task: about ``8 * workers`` chunks in all, between 1 and 512 items each.

    Parameters
    ----------
    nitems : int or None
        Number of items, or None when unknown (then 128).
    workers : int
        Tasks the executor runs at once.
    """
    if nitems is None:
        return UNSIZED_CHUNK
    return max(1, min(MAX_DEFAULT_CHUNK, math.ceil(nitems / (CHUNKS_PER_WORKER * max(1, workers)))))


def _is_dask(executor: cf.Executor) -> bool:
    return type(executor).__module__.startswith("distributed.")


class TaskError(FitcoreError):
    """A task raised an exception that cannot travel back from the worker; this carries its description.

    Attributes
    ----------
    type : str
        Qualified name of the original exception class.
    remote_traceback : str
        The traceback formatted in the worker.
    """

    def __init__(self, message: str, type: str = "", remote_traceback: str = "") -> None:  # noqa: A002
        super().__init__(message)
        self.type = type
        self.remote_traceback = remote_traceback

    def __reduce__(self) -> tuple[Any, ...]:
        return TaskError, (str(self), self.type, self.remote_traceback), self.__dict__


def _run_chunk(func: Callable[[Any], R], start: int, items: list[Any]) -> list[R]:
    """One task: ``func`` on each item of a chunk (``start`` keeps chunk arguments distinct)."""
    try:
        return [func(item) for item in items]
    except Exception as exc:
        portable = _portable(exc)
        if portable is None:
            raise
    raise portable  # outside the except block, so it drags no unpicklable __context__ along


def _portable(exc: BaseException) -> TaskError | None:
    """None if ``exc`` survives pickling, else a TaskError describing it."""
    try:  # an exception that cannot be unpickled would break the pool instead of reporting itself
        pickle.loads(pickle.dumps(exc))
        return None
    except Exception:  # noqa: BLE001
        kind = type(exc)
        notes = [str(n) for n in getattr(exc, "__notes__", [])]
        return TaskError("\n".join([f"{kind.__qualname__}: {exc}", *notes]),
                         f"{kind.__module__}.{kind.__qualname__}", "".join(traceback.format_exception(exc)))


class _Progress:
    """Forwards ``done`` counts to a tqdm bar and/or a user callback."""

    def __init__(self, total: int | None, progress: bool, callback: ProgressCallback | None, desc: str) -> None:
        self.total = total
        self.done = 0
        self.callback = callback
        self.bar = None
        if progress:
            self.bar = _tqdm()(total=total, desc=desc, unit="it", smoothing=0.1)

    def advance(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        if self.callback is not None:
            self.callback(self.done, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _tqdm() -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError(
            "progress=True draws a tqdm progress bar, but tqdm is not installed; "
            "install it with pip install 'fitcore[progress]', or pass callback=... instead"
        ) from None
    return tqdm


def check_progress_args(progress: Any, callback: Any) -> None:
    """Raise before any work if ``progress`` or ``callback`` cannot be used."""
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, not {progress!r}")
    if progress:
        _tqdm()
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable as callback(done, total), not {type(callback).__name__}")


def check_picklable(executor: cf.Executor, what: str, obj: Any) -> None:
    """Raise a clear TypeError now if a process pool could not send ``obj`` to its workers."""
    if not isinstance(executor, cf.ProcessPoolExecutor):
        return  # dask uses cloudpickle (lambdas are fine); threads pickle nothing
    try:
        pickle.dumps(obj)
    except Exception as exc:
        raise TypeError(
            f"the {what} cannot be sent to the worker processes of a ProcessPoolExecutor: "
            f"{type(exc).__name__}: {exc}. Define functions at module level (not lambdas, closures or "
            "functions typed into __main__ of an interactive session), or use a dask executor, "
            "which pickles those too"
        ) from None


def map_chunked(
    func: Callable[[T], R],
    items: Iterable[T],
    *,
    executor: cf.Executor | None = None,
    chunksize: int | None = None,
    progress: bool = False,
    callback: ProgressCallback | None = None,
    desc: str = "tasks",
) -> list[R]:
    """Return ``[func(item) for item in items]``, computed on ``executor`` in chunks.

    Parameters
    ----------
    func : callable
        Applied to each item. With an executor it must be picklable by the
        executor (module-level function or picklable callable object).
        An exception from ``func`` stops the whole run: catch per-item failures
        inside ``func`` when one bad item must not sink the rest.
    items : iterable
        The inputs. A sized collection gives the progress total and the
        default chunk size; any other iterable is consumed lazily.
    executor : concurrent.futures.Executor, optional
        Where to run. None runs serially in this process.
    chunksize : int, optional
        Items per task (default: :func:`default_chunksize`). Ignored when serial.
    progress : bool, default False
        Show a tqdm progress bar (``pip install 'fitcore[progress]'``).
    callback : callable, optional
        ``callback(done, total)`` after each item (serial) or each chunk
        (executor); ``total`` is None when ``items`` has no length.
    desc : str
        Label of the progress bar.

    Returns
    -------
    list
        The results, in the order of ``items``.

    Raises
    ------
    Exception
        Whatever a task raised (with a note saying which items it held);
        chunks not yet started are cancelled first.
    """
    check_progress_args(progress, callback)
    if chunksize is not None and (not isinstance(chunksize, int) or isinstance(chunksize, bool) or chunksize < 1):
        raise ValueError(f"chunksize={chunksize!r}; expected a positive integer or None")
    total = len(items) if isinstance(items, Sized) else None
    bar = _Progress(total, progress, callback, desc)
    try:
        if executor is None:
            return _serial(func, items, bar)
        if not isinstance(executor, cf.Executor) and not callable(getattr(executor, "submit", None)):
            raise TypeError(f"executor must be a concurrent.futures.Executor, not {type(executor).__name__}")
        workers = executor_workers(executor)
        size = chunksize if chunksize is not None else default_chunksize(total, workers)
        return _parallel(func, items, executor, size, max(2, 3 * workers), bar)
    finally:
        bar.close()


def _serial(func: Callable[[T], R], items: Iterable[T], bar: _Progress) -> list[R]:
    out = []
    for item in items:
        out.append(func(item))
        bar.advance(1)
    return out


def _parallel(func: Callable[[T], R], items: Iterable[T], executor: cf.Executor, size: int, in_flight: int,
              bar: _Progress) -> list[R]:
    submit_kws = {"pure": False} if _is_dask(executor) else {}
    source = iter(items)
    results: dict[int, list[R]] = {}
    pending: dict[cf.Future[list[R]], tuple[int, int]] = {}
    start = 0

    def fill() -> None:
        nonlocal start
        while len(pending) < in_flight:
            chunk = list(islice(source, size))
            if not chunk:
                return
            fut = executor.submit(_run_chunk, func, start, chunk, **submit_kws)
            pending[fut] = (start, len(chunk))
            start += len(chunk)

    try:
        fill()
        while pending:
            done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: pending[f][0]):
                first, n = pending.pop(fut)
                try:
                    results[first] = fut.result()
                except BaseException as exc:
                    if hasattr(exc, "add_note"):
                        exc.add_note(f"raised by the task running items {first} to {first + n - 1} "
                                     f"on {type(executor).__name__}")
                    raise
                bar.advance(n)
            fill()
    finally:
        for fut in pending:
            fut.cancel()
    out: list[R] = []
    for key in sorted(results):
        out.extend(results[key])
    return out
