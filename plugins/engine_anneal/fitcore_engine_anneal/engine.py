"""The ``anneal`` engine: ``scipy.optimize.dual_annealing`` on ``problem.scalar``, then a polish.

``problem.scalar`` is the chi-square of a least-squares fit, or the user's cost.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.optimize import dual_annealing, minimize
from threadpoolctl import threadpool_limits

from fitcore import EngineResult, Problem
from fitcore.errors import EngineCapabilityError, EngineOptionError

from . import OPTIONS

__all__ = ["anneal", "precheck", "MAX_BOUND"]

#: largest bound magnitude anneal searches: beyond it the square of the value overflows a float, so
#: neither the box's width nor the chi-square of a model linear in the parameter can be computed
MAX_BOUND = float(np.sqrt(np.finfo(float).max))
_RNG_KEYWORD = "rng" if "rng" in inspect.signature(dual_annealing).parameters else "seed"
_POLISH = {"ftol": 1.0e-12, "gtol": 1.0e-8, "maxiter": 15000}
_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    # name: (low, high, low inclusive, high inclusive), as dual_annealing checks them
    "initial_temp": (0.01, 5.0e4, False, True),
    "restart_temp_ratio": (0.0, 1.0, False, False),
    "visit": (1.0, 3.0, False, False),  # scipy documents (1, 3]; 3 divides by zero in the visiting distribution
    "accept": (-1.0e4, -5.0, True, True),
}


def _fail(name: str, value: Any, expected: str) -> EngineOptionError:
    return EngineOptionError(f"engine 'anneal': {name}={value!r}; expected {expected}", "anneal", name)


def precheck(options: Mapping[str, Any], lower: np.ndarray, upper: np.ndarray, names: Sequence[str]) -> None:
    """Refuse option values dual_annealing would reject, and boxes too wide to search, before any evaluation."""
    for name in ("maxiter", "maxfun"):
        if name in options:
            v = options[name]
            whole = isinstance(v, (int, np.integer)) or (isinstance(v, float) and v.is_integer())
            if isinstance(v, (bool, np.bool_)) or not whole or not v >= 1:
                raise _fail(name, v, "a positive integer")
    for name, (lo, hi, lo_in, hi_in) in _RANGES.items():
        if name in options:
            v = options[name]
            ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            ok = ok and (v >= lo if lo_in else v > lo) and (v <= hi if hi_in else v < hi)
            if not ok:
                raise _fail(name, v, f"a number in {'[' if lo_in else '('}{lo}, {hi}{']' if hi_in else ')'}")
    for name in ("no_local_search", "polish"):
        if name in options and not isinstance(options[name], (bool, np.bool_)):
            raise _fail(name, options[name], "True or False")
    wide = [f"{n!r} (min={lo:g}, max={hi:g})" for n, lo, hi in zip(names, lower, upper)
            if max(abs(lo), abs(hi)) > MAX_BOUND]
    if wide:
        raise EngineCapabilityError(
            f"engine 'anneal' searches the whole box between the bounds, and the bounds of {', '.join(wide)} "
            f"reach beyond +-{MAX_BOUND:.3g}, where the square of the value overflows a float (such bounds "
            "stand for 'no bound'); give the range the parameter can plausibly take", "anneal")


def anneal(problem: Problem, **options: Any) -> EngineResult:
    """Search the bounded box of ``problem`` for the global minimum of ``problem.scalar``.

    Parameters
    ----------
    problem : fitcore.Problem
        Every bound finite (the core checks). ``problem.seed`` makes the search reproducible.
    **options
        ``maxiter``, ``initial_temp``, ``restart_temp_ratio``, ``visit``, ``accept``,
        ``maxfun``, ``no_local_search`` (passed to :func:`scipy.optimize.dual_annealing`)
        and ``polish`` (finish with a tight L-BFGS-B from the best point).

    Returns
    -------
    fitcore.EngineResult
        ``success`` is dual_annealing's (it ran its iterations or budget without error)
        and, with ``polish``, the polish's convergence.
    """
    seed = problem.seed
    if not (seed is None or isinstance(seed, (np.random.Generator, np.random.RandomState))
            or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0)):
        raise EngineOptionError(f"engine 'anneal': seed={seed!r}; expected a non-negative integer, a numpy "
                                "Generator or RandomState, or None", "anneal", "seed")
    opts = {**OPTIONS, **options}
    polish = bool(opts.pop("polish"))
    # search the unit box: parameters of very different magnitude (1e2 and 1e-4) then look alike to the
    # visiting distribution and to the local searches, whose L-BFGS-B fails on a badly scaled chi-square
    lo, width = problem.lower, problem.upper - problem.lower
    unit = _UnitBox(problem, lo, width)
    bounds = [(0.0, 1.0)] * problem.nvar
    local = {"method": "L-BFGS-B", "jac": unit.gradient, "bounds": bounds,
             "options": {"maxiter": min(max(6 * problem.nvar, 100), 1000)}}
    opts["maxiter"] = int(opts["maxiter"])
    opts["maxfun"] = int(opts["maxfun"])
    with threadpool_limits(limits=1, user_api="blas"):  # small dense algebra only loses to BLAS threads
        res = dual_annealing(unit.value, bounds, x0=unit.to_unit(problem.x0), minimizer_kwargs=local,
                             **{_RNG_KEYWORD: problem.seed}, **opts)
    u = np.clip(np.asarray(res.x, dtype=float), 0.0, 1.0)
    success, message = bool(res.success), "; ".join(res.message) if isinstance(res.message, list) else str(res.message)
    extras: dict[str, Any] = {"anneal_nfev": int(res.nfev), "anneal_nit": int(res.nit), "anneal_chisqr": float(res.fun)}
    if polish:
        with threadpool_limits(limits=1, user_api="blas"):
            pol = minimize(unit.value_and_gradient, u, method="L-BFGS-B", jac=True, bounds=bounds, options=_POLISH)
        extras.update(polish_nfev=int(pol.nfev), polish_message=str(pol.message))
        if pol.fun <= res.fun:
            u = np.clip(np.asarray(pol.x, dtype=float), 0.0, 1.0)
        converged = bool(pol.success) or _at_minimum(unit.to_x(u), problem)
        success = success and converged
        message = f"{message}; polish (L-BFGS-B): {pol.message}"
    x = np.clip(unit.to_x(u), problem.lower, problem.upper)
    return EngineResult(x=x, success=success, message=message, status=0 if success else 1, nit=int(res.nit),
                        extras=extras)


def _at_minimum(x: np.ndarray, problem: Problem) -> bool:
    """Whether the projected gradient at ``x`` is negligible (a line search may fail there on roundoff)."""
    f, g = problem.scalar(x), problem.gradient(x)
    free = ~(((x <= problem.lower) & (g > 0)) | ((x >= problem.upper) & (g < 0)))
    scale = max(abs(f), np.finfo(float).tiny)
    return bool(np.max(np.abs(g[free]) * np.maximum(np.abs(x[free]), 1.0), initial=0.0) <= 1e-6 * scale)


class _UnitBox:
    """``problem.scalar`` as a function of ``u`` in the unit box, ``x = lower + u * width``."""

    def __init__(self, problem: Problem, lower: np.ndarray, width: np.ndarray) -> None:
        self.problem, self.lower, self.width = problem, lower, width

    def to_x(self, u: np.ndarray) -> np.ndarray:
        """Parameter values of unit-box point ``u``."""
        return np.minimum(self.lower + u * self.width, self.lower + self.width)

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        """Unit-box point of parameter values ``x``."""
        return np.clip((x - self.lower) / self.width, 0.0, 1.0)

    def value(self, u: np.ndarray) -> float:
        """``problem.scalar`` at ``u``."""
        return self.problem.scalar(self.to_x(u))

    def gradient(self, u: np.ndarray) -> np.ndarray:
        """Gradient with respect to ``u``."""
        return self.problem.gradient(self.to_x(u)) * self.width

    def value_and_gradient(self, u: np.ndarray) -> tuple[float, np.ndarray]:
        """``problem.scalar`` and its gradient with respect to ``u``."""
        x = self.to_x(u)
        f, g = self.problem.scalar(x), self.problem.gradient(x)
        return f, g * self.width
