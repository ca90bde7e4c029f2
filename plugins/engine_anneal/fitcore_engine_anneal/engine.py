"""The ``anneal`` engine: ``scipy.optimize.dual_annealing`` on the chi-square, then a polish."""

from __future__ import annotations

import inspect
from typing import Any, Mapping, Sequence

import numpy as np
from scipy.optimize import dual_annealing, minimize

from fitcore import EngineResult, Problem
from fitcore.errors import EngineOptionError

from . import OPTIONS
from ._derivs import ChiSquare

__all__ = ["anneal", "precheck"]

_RNG_KEYWORD = "rng" if "rng" in inspect.signature(dual_annealing).parameters else "seed"
_POLISH = {"ftol": 1.0e-12, "gtol": 1.0e-8, "maxiter": 15000}
_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    # name: (low, high, low inclusive, high inclusive), as dual_annealing checks them
    "initial_temp": (0.01, 5.0e4, False, True),
    "restart_temp_ratio": (0.0, 1.0, False, False),
    "visit": (1.0, 3.0, False, True),
    "accept": (-1.0e4, -5.0, True, True),
}


def _fail(name: str, value: Any, expected: str) -> EngineOptionError:
    return EngineOptionError(f"engine 'anneal': {name}={value!r}; expected {expected}", "anneal", name)


def precheck(options: Mapping[str, Any], lower: np.ndarray, upper: np.ndarray, names: Sequence[str]) -> None:
    """Refuse option values dual_annealing would reject, before any evaluation."""
    for name in ("maxiter", "maxfun"):
        if name in options:
            v = options[name]
            if isinstance(v, bool) or not isinstance(v, (int, np.integer, float)) or not v >= 1 or v != int(v):
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


def anneal(problem: Problem, **options: Any) -> EngineResult:
    """Search the bounded box of ``problem`` for the global minimum of the chi-square.

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
    opts = {**OPTIONS, **options}
    polish = bool(opts.pop("polish"))
    chi = ChiSquare(problem)
    bounds = list(zip(problem.lower.tolist(), problem.upper.tolist()))
    local = {"method": "L-BFGS-B", "jac": chi.gradient, "bounds": bounds,
             "options": {"maxiter": min(max(6 * problem.nvar, 100), 1000)}}
    opts["maxiter"] = int(opts["maxiter"])
    opts["maxfun"] = int(opts["maxfun"])
    res = dual_annealing(chi.value, bounds, x0=problem.x0, minimizer_kwargs=local,
                         **{_RNG_KEYWORD: problem.seed}, **opts)
    x = np.clip(np.asarray(res.x, dtype=float), problem.lower, problem.upper)
    success, message = bool(res.success), "; ".join(res.message) if isinstance(res.message, list) else str(res.message)
    extras: dict[str, Any] = {"anneal_nfev": int(res.nfev), "anneal_nit": int(res.nit), "anneal_chisqr": float(res.fun)}
    if polish:
        pol = minimize(chi.value_and_gradient, x, method="L-BFGS-B", jac=True, bounds=bounds, options=_POLISH)
        extras.update(polish_nfev=int(pol.nfev), polish_message=str(pol.message))
        if pol.fun <= res.fun:
            x = np.asarray(pol.x, dtype=float)
        converged = bool(pol.success) or _at_minimum(chi, x, problem)
        success = success and converged
        message = f"{message}; polish (L-BFGS-B): {pol.message}"
    return EngineResult(x=x, success=success, message=message, status=0 if success else 1, nit=int(res.nit),
                        extras=extras)


def _at_minimum(chi: ChiSquare, x: np.ndarray, problem: Problem) -> bool:
    """Whether the projected gradient at ``x`` is negligible (a line search may fail there on roundoff)."""
    f, g = chi.value_and_gradient(x)
    free = ~(((x <= problem.lower) & (g > 0)) | ((x >= problem.upper) & (g < 0)))
    scale = max(f, np.finfo(float).tiny)
    return bool(np.max(np.abs(g[free]) * np.maximum(np.abs(x[free]), 1.0), initial=0.0) <= 1e-6 * scale)
