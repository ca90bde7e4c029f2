"""The global engines: differential evolution, basin hopping, SHGO and a brute-force grid, on ``problem.scalar``.

Each searches the box of the bounds (finite for all but ``basinhopping``) and ends with a
local minimization inside the bounds using ``problem.gradient``: L-BFGS-B with tight
tolerances (``polish``/``finish`` for differential evolution and brute, the local searches of
basinhopping and shgo), so that the minimum and its error bars are as accurate as a local
engine's. A non-finite objective (``nan_policy='propagate'``) counts as ``+inf``, so one NaN
cannot become the best point of a population or a grid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy.optimize import OptimizeResult, basinhopping, brute, differential_evolution, shgo

from fitcore import EngineResult, Problem
from fitcore.errors import EngineCapabilityError

from .common import (
    POLISH_OPTIONS,
    Finite,
    generator,
    inside,
    message_of,
    one_blas_thread,
    polish,
    rng_keyword,
    stationary,
    uncarried,
)
from .options import GLOBAL

__all__ = ["differential_evolution_engine", "basinhopping_engine", "shgo_engine", "brute_engine",
           "run_differential_evolution", "run_basinhopping", "run_shgo", "run_brute", "BoundedStep"]


class BoundedStep:
    """basinhopping's random displacement (uniform in ``[-stepsize, stepsize]``), clipped into the bounds.

    basinhopping adapts ``stepsize`` (it reads and writes the attribute) to reach its
    target acceptance rate.
    """

    def __init__(self, stepsize: float, lower: np.ndarray, upper: np.ndarray, rng: np.random.Generator) -> None:
        self.stepsize, self.lower, self.upper, self.rng = float(stepsize), lower, upper, rng

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Return a random neighbour of ``x`` inside the bounds."""
        step = self.rng.uniform(-self.stepsize, self.stepsize, np.shape(x))
        return np.clip(x + step, self.lower, self.upper)


def _box(lower: np.ndarray, upper: np.ndarray) -> list[tuple[float, float]]:
    return [(float(lo), float(hi)) for lo, hi in zip(lower, upper)]


def _local_kwargs(gradient: Callable[[np.ndarray], np.ndarray], bounds: Any, maxiter: int) -> dict[str, Any]:
    return {"method": "L-BFGS-B", "jac": gradient, "bounds": bounds,
            "options": {**POLISH_OPTIONS, "maxiter": int(maxiter)}}


# -- the scipy calls (also made by the prechecks, with a function that stops at the first evaluation) --------
def run_differential_evolution(fun: Callable[[np.ndarray], float], lower: np.ndarray, upper: np.ndarray,
                               x0: np.ndarray, options: Mapping[str, Any], seed: Any) -> OptimizeResult:
    """:func:`scipy.optimize.differential_evolution` in the box, from a population including ``x0``."""
    opts = {**GLOBAL["differential_evolution"], **options}
    opts.pop("polish")
    x0 = np.array(x0, dtype=float)
    for _ in range(8):  # scipy rescales x0 to [0, 1] and refuses it when roundoff puts a bound value a hair out
        u = (x0 - 0.5 * (lower + upper)) / np.abs(upper - lower) + 0.5
        if not np.any((u < 0.0) | (u > 1.0)):
            break
        x0 = np.where(u > 1.0, np.nextafter(x0, lower), np.where(u < 0.0, np.nextafter(x0, upper), x0))
    return differential_evolution(fun, _box(lower, upper), x0=x0, polish=False,
                                  **{rng_keyword(differential_evolution): generator(seed)}, **opts)


def run_basinhopping(fun: Callable[[np.ndarray], float], gradient: Callable[[np.ndarray], np.ndarray],
                     lower: np.ndarray, upper: np.ndarray, x0: np.ndarray, options: Mapping[str, Any],
                     seed: Any) -> OptimizeResult:
    """:func:`scipy.optimize.basinhopping` with bounded steps and bounded L-BFGS-B local searches."""
    opts = {**GLOBAL["basinhopping"], **options}
    rng = generator(seed)
    step = BoundedStep(opts.pop("stepsize"), lower, upper, rng)
    bounds = [(lo if np.isfinite(lo) else None, hi if np.isfinite(hi) else None) for lo, hi in zip(lower, upper)]
    local = _local_kwargs(gradient, bounds, opts.pop("local_maxiter"))
    return basinhopping(fun, x0, minimizer_kwargs=local, take_step=step, stepsize=step.stepsize,
                        **{rng_keyword(basinhopping): rng}, **opts)


def run_shgo(fun: Callable[[np.ndarray], float], gradient: Callable[[np.ndarray], np.ndarray],
             lower: np.ndarray, upper: np.ndarray, options: Mapping[str, Any]) -> OptimizeResult:
    """:func:`scipy.optimize.shgo` in the box, local searches by L-BFGS-B with the gradient."""
    opts = {**GLOBAL["shgo"], **options}
    opts.pop("polish")
    sub = {k: opts[k] for k in ("maxfev", "maxtime") if opts[k] is not None}
    del opts["maxfev"], opts["maxtime"]
    local = _local_kwargs(gradient, None, opts.pop("local_maxiter"))
    local.pop("bounds")  # shgo passes the box to every local search itself
    return shgo(fun, _box(lower, upper), minimizer_kwargs=local, options=sub or None, **opts)


def run_brute(fun: Callable[[np.ndarray], float], lower: np.ndarray, upper: np.ndarray,
              options: Mapping[str, Any]) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """:func:`scipy.optimize.brute` on ``Ns`` points per parameter from min to max, unfinished.

    Returns ``(best point, its objective, grid, objective on the grid)``.
    """
    opts = {**GLOBAL["brute"], **options}
    x, fval, grid, values = brute(fun, tuple(_box(lower, upper)), Ns=int(opts["Ns"]), full_output=True,
                                  finish=None, workers=opts["workers"])
    return np.atleast_1d(np.asarray(x, dtype=float)), float(fval), np.asarray(grid), np.asarray(values)


# -- the engines -------------------------------------------------------------------------------------------
def _no_budget_in_workers(problem: Problem, opts: Mapping[str, Any], engine: str) -> None:
    """Refuse ``max_nfev`` with ``workers``: evaluations in worker processes are not counted by the core."""
    if opts.get("workers", 1) != 1 and problem.max_nfev is not None:
        raise EngineCapabilityError(
            f"engine {engine!r}: with workers={opts['workers']!r} the evaluations run in other processes, where "
            f"fitcore cannot count them, so max_nfev={problem.max_nfev} cannot be honoured; drop one of them",
            engine)


def _verdict(problem: Problem, x: np.ndarray, ok: bool, message: str) -> tuple[bool, str]:
    why = stationary(problem, x) if ok else None
    return (False, f"{message}; but {why}") if why else (ok, message)


def _polished(problem: Problem, x: np.ndarray, f: float, extras: dict[str, Any]) -> tuple[np.ndarray, bool, str]:
    """Polish ``x`` (objective ``f``); return the better point, the polish's convergence and its message."""
    pol = polish(problem, x)
    extras.update(polish_nfev=int(pol.nfev), polish_message=message_of(pol))
    better = np.asarray(pol.x, dtype=float) if pol.fun <= f else x
    return better, bool(pol.success), f"polish (L-BFGS-B): {message_of(pol)}"


@one_blas_thread
def differential_evolution_engine(problem: Problem, **options: Any) -> EngineResult:
    """Differential evolution in the finite box of the bounds, then (``polish``) L-BFGS-B.

    ``success``: scipy's convergence (population spread below ``tol``/``atol``), the polish's,
    and a negligible chi-square gradient at the result.
    """
    opts = {**GLOBAL["differential_evolution"], **options}
    _no_budget_in_workers(problem, opts, "differential_evolution")
    with uncarried():
        res = run_differential_evolution(Finite(inside(problem)[0]), problem.lower, problem.upper,
                                         np.clip(problem.x0, problem.lower, problem.upper), opts, problem.seed)
    x = np.asarray(res.x, dtype=float)
    extras: dict[str, Any] = {"de_fun": float(res.fun), "de_nfev": int(res.nfev), "de_nit": int(res.nit)}
    ok, message = bool(res.success), message_of(res)
    if opts["polish"]:
        x, pok, pmsg = _polished(problem, x, float(res.fun), extras)
        ok, message = ok and pok, f"{message}; {pmsg}"
    x = np.clip(x, problem.lower, problem.upper)
    ok, message = _verdict(problem, x, ok, message)
    return EngineResult(x=x, success=ok, message=message, status=0 if ok else 1, nit=int(res.nit), extras=extras)


@one_blas_thread
def basinhopping_engine(problem: Problem, **options: Any) -> EngineResult:
    """Basin hopping: random steps inside the bounds, each followed by a bounded L-BFGS-B search.

    ``success``: the lowest local search converged at a negligible chi-square gradient.
    """
    x0 = np.clip(np.array(problem.x0, dtype=float), problem.lower, problem.upper)
    with uncarried():
        scalar, gradient = inside(problem)
        res = run_basinhopping(Finite(scalar), gradient, problem.lower, problem.upper, x0, options, problem.seed)
    x = np.clip(np.asarray(res.x, dtype=float), problem.lower, problem.upper)
    lowest = res.lowest_optimization_result
    ok, message = _verdict(problem, x, bool(lowest.success),
                           f"{message_of(res)}; lowest local search (L-BFGS-B): {message_of(lowest)}")
    extras = {"fun": float(res.fun), "scipy_nfev": int(res.nfev), "minimization_failures":
              int(res.get("minimization_failures", 0))}
    return EngineResult(x=x, success=ok, message=message, status=0 if ok else 1, nit=int(res.nit), extras=extras)


@one_blas_thread
def shgo_engine(problem: Problem, **options: Any) -> EngineResult:
    """SHGO in the finite box: sampling, then a bounded L-BFGS-B search from each minimizer of the complex.

    shgo confines each local search to the neighbourhood of its vertex in the complex; ``polish``
    continues from the best point in the whole box (on the conformance kit's exponential decay,
    shgo's own best point, with n=100 and iters=1, has a chi-square 2000 times the minimum).
    ``success``: scipy's, the polish's, and a negligible chi-square gradient at the result. ``extras['xl']``
    holds every local minimum found (best first), ``extras['funl']`` their objectives.
    """
    opts = {**GLOBAL["shgo"], **options}
    _no_budget_in_workers(problem, opts, "shgo")
    with uncarried():
        res = run_shgo(Finite(inside(problem)[0]), inside(problem)[1], problem.lower, problem.upper, opts)
    x = np.asarray(res.x, dtype=float)
    extras: dict[str, Any] = {"fun": float(res.fun), "scipy_nfev": int(res.nfev), "nlfev": int(res.get("nlfev", 0)),
                              "xl": np.asarray(res.get("xl", [])).tolist(),
                              "funl": np.asarray(res.get("funl", [])).tolist()}
    ok, message = bool(res.success), message_of(res)
    if opts["polish"]:
        x, pok, pmsg = _polished(problem, x, float(res.fun), extras)
        ok, message = ok and pok, f"{message}; {pmsg}"
    x = np.clip(x, problem.lower, problem.upper)
    ok, message = _verdict(problem, x, ok, message)
    return EngineResult(x=x, success=ok, message=message, status=0 if ok else 1,
                        nit=int(res.get("nit", 0)), extras=extras)


@one_blas_thread
def brute_engine(problem: Problem, **options: Any) -> EngineResult:
    """Evaluate the objective on a grid of ``Ns`` points per parameter between its bounds; then ``finish``.

    The grid and the objective on it are kept in ``extras`` for plotting, under lmfit's names:
    ``brute_grid`` (shape ``(nvar, Ns, ..., Ns)``; ``(Ns,)`` for one parameter), ``brute_Jout``
    (``(Ns, ..., Ns)``), ``brute_x0`` (the best grid point) and ``brute_fval`` (its objective).
    ``success``: with ``finish``, the L-BFGS-B search from the best grid point converged at a
    negligible gradient; without, False unless the grid point itself passes that test.
    """
    opts = {**GLOBAL["brute"], **options}
    _no_budget_in_workers(problem, opts, "brute")
    with uncarried():
        xg, fval, grid, values = run_brute(Finite(inside(problem)[0]), problem.lower, problem.upper, opts)
    extras: dict[str, Any] = {"brute_x0": xg.copy(), "brute_fval": fval, "brute_grid": grid, "brute_Jout": values}
    x, ok, message = xg, True, f"best of {values.size} grid points"
    if opts["finish"]:
        x, ok, pmsg = _polished(problem, xg, fval, extras)
        message = f"{message}; {pmsg}"
    x = np.clip(x, problem.lower, problem.upper)
    ok, message = _verdict(problem, x, ok, message)
    return EngineResult(x=x, success=ok, message=message, status=0 if ok else 1, extras=extras)
