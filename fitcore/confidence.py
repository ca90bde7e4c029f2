"""Confidence intervals from profile refits (manual chapter 4), on any executor.

:func:`conf_interval` profiles each parameter: it fixes the parameter at a
value, refits the others with the engine and options that made the fit, and
compares the refit's chi-square with the best fit's through a probability
function (``'f_test'`` by default; any registered name or callable). The
limits are where that probability reaches each requested level.

Each probability function depends on a refit only through its chi-square, so
every level is first turned into a chi-square increase (a 1-d inversion that
costs no refit); the profile is then searched in ``u = sqrt(chisqr -
chisqr_best)``, which is close to linear in the parameter, so a few
warm-started refits find each limit to a small fraction of its half-width.

:func:`conf_interval2d` maps the probability over a grid of two fixed
parameters. Both spread their independent pieces (the two sides of each
profile, the rows of a grid) over any :class:`concurrent.futures.Executor`
and give the same numbers as the serial run.
"""

from __future__ import annotations

import inspect
import math
import pickle
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._profile import FitDef, Point, Refitter, RowResult, RowTask, SideResult, SideTask
from .errors import ConfidenceWarning, ParameterError, did_you_mean
from .executors import map_chunked
from .minimizer import Minimizer
from .plugins import get_prob_func
from .result import FitResult
from .stats import FitStats

__all__ = ["conf_interval", "conf_interval2d"]

Array = NDArray[np.float64]
ProbFunc = Callable[[Any, Any], float]


def conf_interval(
    minimizer: Minimizer,
    p_names: Sequence[str] | str | None = None,
    sigmas: Sequence[float] = (0.674, 0.95, 0.997),
    trace: bool = False,
    maxiter: int = 200,
    verbose: bool = False,
    prob_func: str | ProbFunc | None = None,
    *,
    executor: Executor | None = None,
    chunksize: int | None = None,
    progress: bool | Callable[[int, int], None] | None = False,
) -> dict[str, list[tuple[float, float]]] | tuple[dict[str, list[tuple[float, float]]], dict[str, dict[str, Array]]]:
    """Confidence intervals of fitted parameters from profile refits (manual section 4.4).

    Parameters
    ----------
    minimizer : Minimizer
        A finished fit (its last result is profiled). Its Parameters are never modified.
    p_names : str or sequence of str, optional
        Varied parameters to compute intervals for (default: all of them). A
        :class:`~fitcore.FitResult` of ``minimizer`` here (lmfit's
        ``conf_interval(minimizer, result)``) profiles that fit instead of the
        last; ``minimizer`` itself here (lmfit's ``conf_interval(model_result,
        model_result)``) profiles its last fit.
    sigmas : sequence of float, default (0.674, 0.95, 0.997)
        Probabilities (1 - alpha) to find. A value >= 1 is read as a number of
        standard deviations: ``2`` means ``erf(2 / sqrt(2)) = 0.9545``.
    trace : bool, default False
        Also return every refit made: ``trace[p][p]`` (fixed values),
        ``trace[p][other]`` (the refitted values), ``trace[p]['prob']``.
    maxiter : int, default 200
        Most refits spent on each side of each parameter.
    verbose : bool, default False
        Print each limit as it is found.
    prob_func : None, str or callable
        ``None`` means ``'f_test'``; a name from :func:`fitcore.list_prob_funcs`;
        or ``func(best, new) -> probability`` reading ``ndata``, ``nvarys``,
        ``nfree``, ``chisqr``, ``redchi`` of the best fit and of a refit. It
        must increase with ``new.chisqr``.
    executor : concurrent.futures.Executor, optional
        Run the profiles (two per parameter) there, e.g. a
        ``ProcessPoolExecutor`` or ``dask.distributed.Client.get_executor()``.
        The function, data and Parameters must then be picklable.
    chunksize : int, optional
        Profiles per task sent to the executor (default: at most 16 tasks).
    progress : bool or callable, optional
        ``True`` shows a tqdm progress bar (``pip install fitcore[progress]``);
        a callable is called as ``progress(done, total)``.

    Returns
    -------
    ci : dict
        ``ci[name]`` is a list of ``(probability, value)``: the lower limits
        from the largest probability down, ``(0.0, best value)``, then the
        upper limits. A limit beyond a parameter's bound is ``-inf``/``inf``
        and one that could not be found is ``nan``; both with a
        :class:`~fitcore.ConfidenceWarning` saying why.
    trace : dict
        Only with ``trace=True``.

    Raises
    ------
    ValueError
        The minimizer has not been fitted, a name is not a varied parameter,
        a probability is not in (0, 1), or the probability function never
        reaches a requested level.
    ProbFuncNotFoundError
        ``prob_func`` names no registered probability function.

    Examples
    --------
    >>> import numpy as np, fitcore
    >>> x = np.linspace(0.3, 10, 100); y = 1 / (0.1 * x) + 2
    >>> y = y + 0.1 * np.random.default_rng(1).normal(size=x.size)
    >>> p = fitcore.Parameters(); p.add_many(('a', 0.1), ('b', 1))
    >>> mi = fitcore.minimize(lambda p: 1 / (p['a'].value * x) + p['b'].value - y, p)
    >>> ci = fitcore.conf_interval(mi, sigmas=(0.95,))
    >>> [round(v, 3) for _, v in ci['b']]
    [1.964, 1.986, 2.007]
    """
    result = None
    if isinstance(p_names, FitResult):  # lmfit's conf_interval(minimizer, result, ...)
        result, p_names = p_names, None
    elif p_names is minimizer:  # lmfit's conf_interval(model_result, model_result, ...): its own last fit
        p_names = None
    fitdef = _fitdef(minimizer, result)
    names = _check_names(fitdef, p_names)
    levels = _levels(sigmas)
    if not isinstance(maxiter, (int, np.integer)) or isinstance(maxiter, bool) or maxiter < 1:
        raise ValueError(f"maxiter={maxiter!r}; expected a positive integer (refits per side)")
    prob = get_prob_func(prob_func)
    deltas = _deltas(prob, fitdef.best, 1, levels)
    tasks = [SideTask(fitdef, name, sign, deltas, _step(fitdef, name), int(maxiter))
             for name in names for sign in (-1, 1)]
    results: list[SideResult] = _run(tasks, executor, chunksize, progress)
    ci: dict[str, list[tuple[float, float]]] = {}
    tr: dict[str, dict[str, Array]] = {}
    for name, (low, high) in zip(names, zip(results[0::2], results[1::2])):
        best = fitdef.value(name)
        ci[name] = ([(lvl, v) for lvl, v in zip(levels[::-1], low.limits[::-1])] + [(0.0, best)]
                    + list(zip(levels, high.limits)))
        for side in (low, high):
            _warn(side, levels, prob, fitdef.best)
        if verbose:
            print(f"{name}: " + "  ".join(f"{lvl:.2%}: [{lo:.6g}, {hi:.6g}]"
                                          for lvl, lo, hi in zip(levels, low.limits, high.limits))
                  + f"  ({low.nrefit + high.nrefit} refits, {low.nfev + high.nfev} evaluations)")
        if trace:
            tr[name] = _trace(fitdef, name, low, high, prob)
    return (ci, tr) if trace else ci


def conf_interval2d(
    minimizer: Minimizer,
    *args: Any,
    executor: Executor | None = None,
    chunksize: int | None = None,
    progress: bool | Callable[[int, int], None] | None = False,
    **kws: Any,
) -> tuple[Array, Array, Array]:
    """Probability over a grid of two fixed parameters (manual section 4.4).

    At every grid point both parameters are fixed, the others refitted, and
    the probability computed by ``prob_func`` (with two parameters fixed).

    lmfit 1.3's form ``conf_interval2d(minimizer, result, x_name, y_name, nx,
    ny, limits, prob_func, nsigma, chi2_out)`` is accepted too: a
    :class:`~fitcore.FitResult` in the second position names the fit to
    profile (one of ``minimizer``'s) and the other arguments shift one place;
    ``minimizer`` itself there (lmfit's ``conf_interval2d(model_result,
    model_result, ...)``) means its last fit.
    In that form ``limits`` follows lmfit's order ``((x_upper, x_lower),
    (y_upper, y_lower))`` and the grid runs from the second value of each pair
    to the first, as lmfit's does. Either form returns probabilities (the
    manual's quantity), where lmfit 1.3 returns ``sqrt(delta chi-square /
    reduced chi-square)``; ``chi2_out=True`` returns chi-square in both.

    Called as ``conf_interval2d(minimizer, x_name, y_name, nx=10, ny=10,
    limits=None, prob_func=None, nsigma=5, chi2_out=False)`` or, lmfit's form,
    ``conf_interval2d(minimizer, result, x_name, y_name, ...)`` with the same
    names (``result`` may also be given by keyword).

    Parameters
    ----------
    minimizer : Minimizer
        A finished fit. Its Parameters are never modified.
    result : FitResult, optional
        Which of ``minimizer``'s fits to profile (lmfit's form); default its last.
    x_name, y_name : str
        The two varied parameters.
    nx, ny : int, default 10
        Number of points along x and y.
    limits : ((x_from, x_to), (y_from, y_to)), optional
        Grid ranges (``numpy.linspace(from, to, n)``). Default: ``nsigma``
        standard errors each way of the best fit (``nsigma`` times 5% of the
        value without error bars), cut at the parameters' bounds.
    prob_func : None, str or callable
        As in :func:`conf_interval`.
    nsigma : float, default 5
        Half-width of the default grid in standard errors (lmfit's keyword).
    chi2_out : bool, default False
        Return the refitted chi-square at each grid point instead of the
        probability (lmfit's keyword).
    executor, chunksize, progress
        As in :func:`conf_interval`; the rows of the grid are the tasks.

    Returns
    -------
    x : ndarray (nx,)
    y : ndarray (ny,)
    grid : ndarray (ny, nx)
        ``grid[j, i]`` is the probability (or chi-square) at ``(x[i], y[j])``, the layout
        ``matplotlib.pyplot.contour(x, y, grid)`` expects; ``nan`` where a
        refit failed (with a warning).
    """
    result = kws.pop("result", None)
    if args and (isinstance(args[0], FitResult) or args[0] is minimizer):
        # lmfit's conf_interval2d(minimizer, result, x_name, y_name, ...); lmfit's
        # conf_interval2d(model_result, model_result, ...) profiles the ModelResult's own last fit
        if result is not None:
            raise TypeError("conf_interval2d got the result both by position and by keyword")
        result, args = (None if args[0] is minimizer else args[0]), args[1:]
        lmfit_form = True
    else:
        lmfit_form = False
    if result is not None and not isinstance(result, FitResult):
        raise TypeError(f"result must be a FitResult of the minimizer, not {type(result).__name__}")
    try:
        bound = _GRID_SIGNATURE.bind(*args, **kws)
    except TypeError as exc:
        raise TypeError(f"conf_interval2d(minimizer, [result,] {str(_GRID_SIGNATURE)[1:-1]}): {exc}") from None
    bound.apply_defaults()
    x_name, y_name, nx, ny, limits, prob_func, nsigma, chi2_out = bound.args
    if (lmfit_form or result is not None) and limits is not None:
        limits = _lmfit_limits(limits)
    if not isinstance(x_name, str) or not isinstance(y_name, str):
        raise TypeError(f"x_name and y_name must be parameter names, got {x_name!r} and {y_name!r}")
    if not isinstance(nsigma, (int, float, np.integer, np.floating)) or isinstance(nsigma, bool) \
            or not (math.isfinite(nsigma) and nsigma > 0):
        raise ValueError(f"nsigma={nsigma!r}; expected a positive number of standard errors for the grid's half-width")
    if not isinstance(chi2_out, (bool, np.bool_)):
        raise TypeError(f"chi2_out={chi2_out!r}; expected True (return chi-square) or False (probability)")
    fitdef = _fitdef(minimizer, result)
    if x_name == y_name:
        raise ValueError(f"x_name and y_name are both {x_name!r}; give two different parameters")
    names = _check_names(fitdef, [x_name, y_name])
    for label, n in (("nx", nx), ("ny", ny)):
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{label}={n!r}; expected a positive integer number of grid points")
    prob = get_prob_func(prob_func)
    ranges = _grid_limits(fitdef, names, limits, float(nsigma))
    x = np.linspace(ranges[0][0], ranges[0][1], int(nx))
    y = np.linspace(ranges[1][0], ranges[1][1], int(ny))
    tasks = [RowTask(fitdef, (x_name, y_name), j, float(yj), x) for j, yj in enumerate(y)]
    rows: list[RowResult] = _run(tasks, executor, chunksize, progress)
    chi = np.vstack([r.chisqr for r in rows])
    best = fitdef.best
    grid = np.full(chi.shape, np.nan)
    for idx, c in np.ndenumerate(chi):
        if np.isfinite(c):
            grid[idx] = float(c) if chi2_out else prob(best, best.constrained(2, float(c)))
    errors = [e for r in rows for e in r.errors]
    if errors:
        warnings.warn(f"conf_interval2d: {len(errors)} of {chi.size} refits failed (nan in the grid); "
                      f"first: {errors[0]}", ConfidenceWarning, stacklevel=2)
    return x, y, grid


def _grid_arguments(x_name: str, y_name: str, nx: int = 10, ny: int = 10,
                    limits: tuple[tuple[float, float], tuple[float, float]] | None = None,
                    prob_func: str | ProbFunc | None = None, nsigma: float = 5.0, chi2_out: bool = False) -> None:
    """The arguments of :func:`conf_interval2d` after ``minimizer`` (and lmfit's ``result``)."""


_GRID_SIGNATURE = inspect.signature(_grid_arguments)


# -- validation ------------------------------------------------------------------------------
def _fitdef(minimizer: Any, result: FitResult | None = None) -> FitDef:
    """The fit to profile: ``result`` (one of ``minimizer``'s fits), by default its last one."""
    if not isinstance(minimizer, Minimizer):
        raise TypeError(f"expected a fitcore Minimizer (as returned by fitcore.minimize), "
                        f"not {type(minimizer).__name__}")
    result = minimizer.result if result is None else result
    if result.engine is None or not math.isfinite(result.chisqr):
        raise ValueError("the minimizer has not been fitted: run minimize() or Minimizer.leastsq() first")
    if result.objective == "least_squares":  # a cost's profile needs neither degrees of freedom nor a positive value
        if result.nfree <= 0:
            raise ValueError(f"no degrees of freedom left (nfree = {result.nfree}): confidence intervals "
                             "need more data points than varied parameters")
        if not result.chisqr > 0:
            raise ValueError("the best fit has chi-square 0 (a perfect fit): probabilities from chi-square "
                             "increases are undefined")
    return FitDef.of(minimizer, result)


def _check_names(fitdef: FitDef, p_names: Sequence[str] | str | None) -> list[str]:
    varied = list(fitdef.var_names)
    if p_names is None:
        return varied
    names = [p_names] if isinstance(p_names, str) else list(p_names)
    if not names:
        raise ValueError(f"p_names is empty; give names of varied parameters: {', '.join(varied)}")
    for name in names:
        if name in varied:
            continue
        if name in fitdef.params:
            why = "has an expression" if fitdef.params[name].expr is not None else "is fixed (vary=False)"
            raise ParameterError(f"parameter {name!r} {why} and has no confidence interval; "
                                 f"varied parameters: {', '.join(varied)}", name)
        raise ParameterError(f"no parameter {name!r}.{did_you_mean(str(name), varied)} "
                             f"Varied parameters: {', '.join(varied)}", str(name))
    if len(set(names)) != len(names):
        raise ValueError(f"p_names repeats a name: {names}")
    return names


def _levels(sigmas: Iterable[float]) -> list[float]:
    try:
        values = [float(s) for s in sigmas]
    except (TypeError, ValueError):
        raise ValueError(f"sigmas={sigmas!r}; expected a sequence of probabilities in (0, 1)") from None
    if not values:
        raise ValueError("sigmas is empty; give at least one probability, e.g. (0.6827, 0.9545)")
    levels = []
    for s in values:
        if not (s > 0 and math.isfinite(s)):
            raise ValueError(f"sigmas contains {s}: each must be a probability in (0, 1) "
                             "or a number of standard deviations >= 1")
        level = s if s < 1 else math.erf(s / math.sqrt(2.0))
        if level >= 1.0:
            raise ValueError(f"sigmas contains {s}: {s} standard deviations is a probability of 1 in "
                             "double precision; use at most 8")
        levels.append(level)
    return sorted(set(levels))


def _deltas(prob: ProbFunc, best: FitStats, nfix: int, levels: list[float]) -> list[float]:
    """Chi-square increase at which ``prob`` reaches each level (no refits needed).

    Raises a ValueError naming the function when it does not return a
    probability, does not start below the level, or decreases as chi-square grows.
    """
    scale = best.errordef if best.objective == "cost" else best.chisqr / best.nfree
    name = getattr(prob, "__name__", prob)

    def excess(delta: float, level: float) -> float:
        p = prob(best, best.constrained(nfix, best.chisqr + delta))
        if not (isinstance(p, (float, int, np.floating, np.integer)) and 0.0 <= p <= 1.0):
            raise ValueError(f"prob_func {name!r} returned {p!r} for a chi-square increase of {delta:.6g}; "
                             "it must return a probability in [0, 1]")
        return float(p) - level

    out = []
    for level in levels:
        if excess(0.0, level) >= 0:
            raise ValueError(f"prob_func {name!r} gives probability >= {level} "
                             "at the best fit itself; it must start at 0 and grow with chi-square")
        lo, hi = 0.0, scale
        below = excess(0.0, level)
        while (now := excess(hi, level)) < 0:
            if now < below:
                raise ValueError(f"prob_func {name!r} decreases as chi-square grows (probability "
                                 f"{below + level:.6g} at an increase of {lo:.6g}, {now + level:.6g} at "
                                 f"{hi:.6g}); a probability function must rise with chi-square")
            below = now
            lo, hi = hi, hi * 4.0
            if hi > scale * 1e15:
                raise ValueError(f"prob_func {getattr(prob, '__name__', prob)!r} never reaches probability "
                                 f"{level} however much chi-square grows; use a smaller level")
        out.append(_brentq()(excess, lo, hi, args=(level,), xtol=scale * 1e-13, rtol=1e-13))
    return out


def _brentq() -> Any:
    """Scipy's root finder, imported on use: ``import fitcore`` does not pay for scipy.optimize."""
    from scipy.optimize import brentq

    return brentq


def _step(fitdef: FitDef, name: str) -> float:
    """Expected distance from the best fit per unit of sqrt(chi-square increase)."""
    par = fitdef.params[name]
    if fitdef.covar is not None and par.stderr is not None and par.stderr > 0 and math.isfinite(par.stderr):
        return float(par.stderr) / math.sqrt(_unit(fitdef, scaled=True))
    # no error bars: a step from the value, in units of the objective's own scale
    value = fitdef.value(name)
    return _heuristic_step(value) / math.sqrt(_unit(fitdef, scaled=False))


def _unit(fitdef: FitDef, scaled: bool) -> float:
    """The increase of the objective that one standard error makes."""
    best = fitdef.best
    if best.objective == "cost":
        return best.errordef
    return best.redchi if not scaled or fitdef.core_options.get("scale_covar", True) else 1.0


def _heuristic_step(value: float) -> float:
    """Step used in place of a standard error: 5% of the value (0.05 at zero)."""
    return 0.05 * abs(value) if value != 0 else 0.05


def _lmfit_limits(limits: Any) -> Any:
    """Turn lmfit's ``((x_upper, x_lower), (y_upper, y_lower))`` into ``((from, to), ...)`` (lower to upper)."""
    try:
        return [(b, a) for a, b in limits]
    except (TypeError, ValueError):
        raise ValueError(f"limits={limits!r}; expected ((x_upper, x_lower), (y_upper, y_lower))") from None


def _grid_limits(fitdef: FitDef, names: list[str], limits: Any, nsigma: float) -> list[tuple[float, float]]:
    out = []
    if limits is None:
        for name in names:
            par = fitdef.params[name]
            err = par.stderr if par.stderr is not None and par.stderr > 0 else _heuristic_step(fitdef.value(name))
            v = fitdef.value(name)
            out.append((max(v - nsigma * err, par.min), min(v + nsigma * err, par.max)))
        return out
    try:
        pairs = [(float(a), float(b)) for a, b in limits]
    except (TypeError, ValueError):
        raise ValueError(f"limits={limits!r}; expected ((x_from, x_to), (y_from, y_to))") from None
    if len(pairs) != 2:
        raise ValueError(f"limits={limits!r}; expected two pairs ((x_from, x_to), (y_from, y_to))")
    for name, (a, b) in zip(names, pairs):
        par = fitdef.params[name]
        if not (math.isfinite(a) and math.isfinite(b)):
            raise ValueError(f"limits for {name!r} must be finite, got ({a}, {b})")
        for v in (a, b):
            if v < par.min or v > par.max:
                raise ValueError(f"limits for {name!r}: {v} is outside its bounds [{par.min}, {par.max}]")
    return pairs


# -- running ---------------------------------------------------------------------------------
def _run(tasks: list[Any], executor: Executor | None, chunksize: int | None,
         progress: bool | Callable[[int, int], None] | None) -> list[Any]:
    """Run tasks (callables) in order, serially or in chunks on ``executor`` (see :mod:`fitcore.executors`)."""
    if progress is not None and not isinstance(progress, bool) and not callable(progress):
        raise TypeError(f"progress must be True/False or a callable progress(done, total), "
                        f"not {type(progress).__name__}")
    report = None if isinstance(progress, bool) or progress is None else progress

    def callback(done: int, total: int | None) -> None:
        assert report is not None
        report(done, len(tasks) if total is None else total)

    try:
        return map_chunked(_TaskRunner(), tasks, executor=executor, chunksize=chunksize,
                           progress=progress is True, callback=None if report is None else callback,
                           desc="profile refits")
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        if "pickl" in str(exc):
            exc.add_note("conf_interval(executor=...) sends the residual function, its arguments and the "
                         "Parameters to the workers: they must be picklable (define the function at module "
                         "level, or use dask, whose cloudpickle also sends closures)")
        raise


class _TaskRunner:
    """Runs one task, preparing each profile's refits once per chunk.

    The tasks one copy of it runs (a chunk, or all of a serial run) share a
    Refitter per fixed set and thread: a thread pool calls one copy from
    several threads, and a Refitter holds the Parameters it refits.
    """

    def __init__(self) -> None:
        self.cache: dict[Any, Refitter] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"cache": {}}

    def __call__(self, task: Any) -> Any:
        fixed = (task.name,) if isinstance(task, SideTask) else tuple(task.names)
        key = (id(task.fitdef), fixed, threading.get_ident())
        if key not in self.cache:
            self.cache[key] = Refitter(task.fitdef, list(fixed))
        task.refitter = self.cache[key]
        try:
            return task()
        finally:
            task.refitter = None


# -- results ---------------------------------------------------------------------------------
def _warn(side: SideResult, levels: list[float], prob: ProbFunc, best: FitStats) -> None:
    where = "upper" if side.sign > 0 else "lower"
    for note in side.notes:
        missed = [f"{lvl:.2%}" for lvl, v in zip(levels, side.limits) if not math.isfinite(v)]
        if note.kind == "lower":
            warnings.warn(f"conf_interval: fixing {side.name}={note.value:.7g} gave a lower chi-square "
                          f"({note.chisqr:.7g} < {best.chisqr:.7g}): the fit was not at its minimum; "
                          "refit and compute the intervals again", ConfidenceWarning, stacklevel=3)
            continue
        reached = prob(best, best.constrained(1, note.chisqr)) if math.isfinite(note.chisqr) else math.nan
        if note.kind == "bound":
            msg = (f"the {where} limit of {side.name!r} lies beyond its bound {note.value:.7g}: the "
                   f"probability reaches only {reached:.4f} there, so the limit(s) at {', '.join(missed)} "
                   f"are reported as {'inf' if side.sign > 0 else '-inf'}")
        elif note.kind == "maxiter":
            msg = (f"the {where} limit of {side.name!r} was not found ({note.text}; the profile is flat or "
                   f"not monotone: probability {reached:.4f} at {note.value:.7g}); limit(s) at "
                   f"{', '.join(missed)} are nan")
        else:
            msg = (f"the {where} limit of {side.name!r} was not found: the refit at {side.name}="
                   f"{note.value:.7g} failed with {note.text}; limit(s) at {', '.join(missed)} are nan")
        warnings.warn("conf_interval: " + msg, ConfidenceWarning, stacklevel=3)


def _trace(fitdef: FitDef, name: str, low: SideResult, high: SideResult, prob: ProbFunc) -> dict[str, Array]:
    best = fitdef.best
    others = low.free_names
    rows = [Point(0.0, 0.0, fitdef.value(name), best.chisqr, np.array([fitdef.value(n) for n in others]))]
    rows += low.points + high.points
    rows.sort(key=lambda r: r.value)
    out: dict[str, Array] = {name: np.array([r.value for r in rows])}
    for k, other in enumerate(others):
        out[other] = np.array([r.free[k] for r in rows])
    out["prob"] = np.array([0.0 if r.chisqr <= best.chisqr else prob(best, best.constrained(1, r.chisqr))
                            for r in rows])
    return out
