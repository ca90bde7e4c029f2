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

__all__ = ["map_chunked", "map_chunks", "default_chunksize", "executor_workers", "ProgressCallback", "TaskError",
           "BatchInterrupted", "LostChunk"]

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


def _run_chunk(func: Callable[[list[Any]], Any], start: int, items: list[Any]) -> Any:
    """One task: ``func`` on a chunk of items (``start`` keeps chunk arguments distinct)."""
    try:
        return func(items)
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


class BatchInterrupted(FitcoreError):
    """A run stopped before every item was done; the finished results travel with the error.

    Raised when the items' iterable itself raises mid-way, or when a worker
    died and the pool could not be replaced. The cause is chained
    (``__cause__``).

    Attributes
    ----------
    results : list
        The finished results, in input order (for :func:`map_chunks`, the
        finished chunks' results; :func:`fitcore.fit_many` gives its fits).
    starts : list of int
        Position of the first item of each entry of ``results`` (for
        :func:`map_chunked`, the position of each item).
    """

    def __init__(self, message: str, results: list[Any], starts: list[int]) -> None:
        super().__init__(message)
        self.results = results
        self.starts = starts

    def __reduce__(self) -> tuple[Any, ...]:
        return BatchInterrupted, (str(self), self.results, self.starts), self.__dict__


#: called for a chunk whose worker process died (also when retried alone); returns the chunk's result
LostChunk = Callable[[int, list[Any], BaseException], Any]


class _PerItem:
    """Apply ``func`` to each item of a chunk (the unit :func:`map_chunked` sends)."""

    __slots__ = ("func",)

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func

    def __getstate__(self) -> Any:
        return self.func

    def __setstate__(self, state: Any) -> None:
        self.func = state

    def __call__(self, items: list[Any]) -> list[Any]:
        return [self.func(item) for item in items]


def map_chunked(
    func: Callable[[T], R],
    items: Iterable[T],
    *,
    executor: cf.Executor | None = None,
    chunksize: int | None = None,
    progress: bool = False,
    callback: ProgressCallback | None = None,
    desc: str = "tasks",
    on_lost: LostChunk | None = None,
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
    on_lost : callable, optional
        ``on_lost(start, items, exc)`` gives the results (a list, one per
        item) of a chunk whose worker process died; see :func:`map_chunks`.

    Returns
    -------
    list
        The results, in the order of ``items``.

    Raises
    ------
    BatchInterrupted
        When ``items`` raised mid-way, or a worker died and ``on_lost`` is
        None or the pool could not be replaced; it carries the finished results.
    Exception
        Whatever a task raised (with a note saying which items it held);
        chunks not yet started are cancelled first.
    """
    check_progress_args(progress, callback)
    if executor is None:
        total = len(items) if isinstance(items, Sized) else None
        bar = _Progress(total, progress, callback, desc)
        try:
            return _serial(func, items, bar)
        finally:
            bar.close()
    try:
        chunks = map_chunks(_PerItem(func), items, executor=executor, chunksize=chunksize, progress=progress,
                            callback=callback, desc=desc, on_lost=on_lost)
    except BatchInterrupted as exc:
        flat: list[Any] = []
        starts: list[int] = []
        for first, part in zip(exc.starts, exc.results):
            flat.extend(part)
            starts.extend(range(first, first + len(part)))
        exc.results, exc.starts = flat, starts
        raise
    return [r for part in chunks for r in part]


def map_chunks(
    func: Callable[[list[T]], R],
    items: Iterable[T],
    *,
    executor: cf.Executor | None = None,
    chunksize: int | None = None,
    progress: bool = False,
    callback: ProgressCallback | None = None,
    desc: str = "tasks",
    on_lost: LostChunk | None = None,
) -> list[R]:
    """Return ``[func(chunk) for chunk in chunks of items]``: each chunk is one call, in this process or a worker.

    The unit of work is a whole chunk (a list of consecutive items), so
    ``func`` can process it at once (e.g. fit it as arrays).

    Parameters
    ----------
    func : callable
        ``func(list_of_items) -> result``; picklable for an executor.
    items : iterable
        The inputs (sized or lazily consumed).
    executor : concurrent.futures.Executor, optional
        Where to run; None runs the chunks here, one after the other.
    chunksize : int, optional
        Items per chunk (default: :func:`default_chunksize`; 512 when serial).
    progress, callback, desc
        As for :func:`map_chunked` (progress advances by chunk).
    on_lost : callable, optional
        ``on_lost(start, items, exc) -> result`` for a chunk whose worker
        process died. When a ``ProcessPoolExecutor`` breaks (a worker killed
        by a signal, the OOM killer, ``os._exit``), every chunk that had not
        finished is run again, one at a time, on a fresh single-worker pool:
        a chunk that kills its worker again is the one that died, and gets
        ``on_lost``'s result; the remaining chunks then continue on a fresh
        pool of the same size (shut down at the end). A dask ``KilledWorker``
        names its chunk directly. Without ``on_lost`` a lost chunk raises
        :class:`BatchInterrupted` carrying the finished chunks.

    Returns
    -------
    list
        One result per chunk, in input order.
    """
    check_progress_args(progress, callback)
    if chunksize is not None and (not isinstance(chunksize, int) or isinstance(chunksize, bool) or chunksize < 1):
        raise ValueError(f"chunksize={chunksize!r}; expected a positive integer or None")
    total = len(items) if isinstance(items, Sized) else None
    bar = _Progress(total, progress, callback, desc)
    try:
        if executor is None:
            return _serial_chunks(func, items, chunksize or MAX_DEFAULT_CHUNK, bar)
        if not isinstance(executor, cf.Executor) and not callable(getattr(executor, "submit", None)):
            raise TypeError(f"executor must be a concurrent.futures.Executor, not {type(executor).__name__}")
        workers = executor_workers(executor)
        size = chunksize if chunksize is not None else default_chunksize(total, workers)
        return _Parallel(func, executor, size, max(2, 3 * workers), bar, on_lost).run(items)
    finally:
        bar.close()


def _serial(func: Callable[[T], R], items: Iterable[T], bar: _Progress) -> list[R]:
    out: list[R] = []
    source = iter(items)
    while True:
        try:
            item = next(source)
        except StopIteration:
            return out
        except Exception as exc:
            raise _interrupted(exc, len(out), out, list(range(len(out)))) from exc
        out.append(func(item))
        bar.advance(1)


def _serial_chunks(func: Callable[[list[T]], R], items: Iterable[T], size: int, bar: _Progress) -> list[R]:
    out: list[R] = []
    starts: list[int] = []
    source = iter(items)
    start = 0
    while True:
        try:
            chunk = list(islice(source, size))
        except Exception as exc:
            raise _interrupted(exc, start, out, starts) from exc
        if not chunk:
            return out
        out.append(func(chunk))
        starts.append(start)
        start += len(chunk)
        bar.advance(len(chunk))


def _interrupted(exc: BaseException, position: int, results: list[Any], starts: list[int]) -> BatchInterrupted:
    return BatchInterrupted(
        f"the items' iterable raised {type(exc).__name__}: {exc} after item {position - 1}; the results finished "
        "before are in .results (.starts gives their positions)", results, starts)


def _is_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says the worker running the task died (not that the task raised)."""
    return isinstance(exc, cf.process.BrokenProcessPool) or type(exc).__name__ == "KilledWorker"


class _Parallel:
    """Chunks on an executor, a bounded number in flight, surviving the death of workers."""

    def __init__(self, func: Callable[[list[Any]], Any], executor: cf.Executor, size: int, in_flight: int,
                 bar: _Progress, on_lost: LostChunk | None) -> None:
        self.func, self.executor, self.size, self.in_flight = func, executor, size, in_flight
        self.bar, self.on_lost = bar, on_lost
        self.results: dict[int, Any] = {}
        self.owned: list[cf.Executor] = []

    def run(self, items: Iterable[Any]) -> list[Any]:
        source = iter(items)
        start = 0
        source_error: BaseException | None = None
        try:
            while True:
                start, error, lost = self._drive(source, start)
                source_error = source_error or error
                if not lost:
                    break
                self._recover(lost)
            if source_error is not None:
                done = sorted(self.results)
                raise _interrupted(source_error, start, [self.results[k] for k in done], done) from source_error
        finally:
            for pool in self.owned:
                pool.shutdown(wait=True, cancel_futures=True)
        return [self.results[k] for k in sorted(self.results)]

    def _submit(self, executor: cf.Executor, start: int, chunk: list[Any]) -> cf.Future[Any]:
        kws: dict[str, Any] = {"pure": False} if _is_dask(executor) else {}
        return executor.submit(_run_chunk, self.func, start, chunk, **kws)

    def _drive(self, source: Any, start: int) -> tuple[int, BaseException | None, list[tuple[int, list[Any]]]]:
        """Run chunks until the source ends (or raises) or the pool breaks; return the chunks lost then."""
        pending: dict[cf.Future[Any], tuple[int, list[Any]]] = {}
        source_error: BaseException | None = None
        executor = self.executor
        try:
            while True:
                while source_error is None and len(pending) < self.in_flight:
                    try:
                        chunk = list(islice(source, self.size))
                    except Exception as exc:  # noqa: BLE001 - finish what runs, then report with the results
                        source_error = exc
                        break
                    if not chunk:
                        source_error = StopIteration()
                        break
                    pending[self._submit(executor, start, chunk)] = (start, chunk)
                    start += len(chunk)
                if not pending:
                    break
                done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
                for fut in sorted(done, key=lambda f: pending[f][0]):
                    first, chunk = pending[fut]
                    try:
                        result = fut.result()
                    except BaseException as exc:
                        if _is_lost(exc) and isinstance(exc, cf.process.BrokenProcessPool):
                            return start, _real(source_error), self._harvest(pending)
                        if _is_lost(exc):  # dask names the chunk that killed its workers
                            del pending[fut]
                            self._lost(first, chunk, exc)
                            continue
                        if hasattr(exc, "add_note"):
                            exc.add_note(f"raised by the task running items {first} to {first + len(chunk) - 1} "
                                         f"on {type(executor).__name__}")
                        raise
                    del pending[fut]
                    self.results[first] = result
                    self.bar.advance(len(chunk))
        finally:
            for fut in pending:
                fut.cancel()
        return start, _real(source_error), []

    def _harvest(self, pending: dict[cf.Future[Any], tuple[int, list[Any]]]) -> list[tuple[int, list[Any]]]:
        """Keep the chunks that finished before the pool broke; return the others."""
        lost = []
        for fut, (first, chunk) in list(pending.items()):
            del pending[fut]
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self.results[first] = fut.result()
                self.bar.advance(len(chunk))
            else:
                lost.append((first, chunk))
        return sorted(lost, key=lambda c: c[0])

    def _recover(self, lost: list[tuple[int, list[Any]]]) -> None:
        """Run each lost chunk alone on a fresh worker; the one that dies again is the one that died."""
        if not isinstance(self.executor, cf.ProcessPoolExecutor):  # no way to make another like it
            done = sorted(self.results)
            first, chunk = lost[0]
            raise BatchInterrupted(
                f"a worker of the {type(self.executor).__name__} died while items {first} to "
                f"{lost[-1][0] + len(lost[-1][1]) - 1} were running, and fitcore cannot replace that executor; "
                "the results finished before are in .results (.starts gives their positions)",
                [self.results[k] for k in done], done)
        alone: cf.ProcessPoolExecutor | None = None
        try:
            for first, chunk in lost:
                if alone is None:
                    alone = self._fresh(1)
                try:
                    self.results[first] = alone.submit(_run_chunk, self.func, first, chunk).result()
                    self.bar.advance(len(chunk))
                except cf.process.BrokenProcessPool as exc:
                    alone.shutdown(wait=True, cancel_futures=True)
                    alone = None
                    self._lost(first, chunk, exc)
        finally:
            if alone is not None:
                alone.shutdown(wait=True)
        self.executor = self._fresh(executor_workers(self.executor))
        self.owned.append(self.executor)

    def _fresh(self, workers: int) -> cf.ProcessPoolExecutor:
        # a pool like the user's (start method, initializer): the stdlib keeps them only as private attributes
        old = self.executor
        return cf.ProcessPoolExecutor(workers, mp_context=getattr(old, "_mp_context", None),
                                      initializer=getattr(old, "_initializer", None),
                                      initargs=getattr(old, "_initargs", ()))

    def _lost(self, first: int, chunk: list[Any], exc: BaseException) -> None:
        what = (f"the worker process running items {first} to {first + len(chunk) - 1} died "
                f"({type(exc).__name__}: {exc})")
        if self.on_lost is None:
            done = sorted(self.results)
            raise BatchInterrupted(f"{what}; the results finished before are in .results (.starts gives their "
                                   "positions)", [self.results[k] for k in done], done) from exc
        self.results[first] = self.on_lost(first, chunk, exc)
        self.bar.advance(len(chunk))


def _real(exc: BaseException | None) -> BaseException | None:
    return None if isinstance(exc, StopIteration) else exc
