"""Refusals made before any evaluation, by the installed scipy itself.

Each precheck first compares the options with the installed scipy's signature (an option
this scipy does not have is refused naming the scipy version), then makes the engine's own
scipy call once with an objective that stops at its first evaluation. Everything scipy
validates before it evaluates (an unknown loss or strategy, ``method='lm'`` with bounds, a
mutation constant outside [0, 2], an unknown solver option...) is refused with scipy's own
message, and nothing of the user's is evaluated. The few things scipy checks only later are
checked here (grid size, ``jac='cs'``, integer counts).
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from fitcore.errors import EngineCapabilityError, EngineOptionError

from .options import GLOBAL, LEAST_SQUARES

__all__ = ["plain_sum_of_squares", "MAX_GRID_POINTS"] + [
    f"precheck_{n}" for n in ("least_squares", "nelder", "powell", "cg", "bfgs", "tnc", "slsqp", "trust_constr",
                              "differential_evolution", "basinhopping", "shgo", "brute")]

#: the most grid points ``brute`` evaluates (``Ns ** nvar``)
MAX_GRID_POINTS = 10_000_000


def plain_sum_of_squares(options: Mapping[str, Any]) -> bool:
    """Whether ``least_squares`` with these options minimizes the plain chi-square (``loss='linear'``)."""
    return options.get("loss", LEAST_SQUARES["loss"]) == "linear"


class _DryRun(Exception):
    """Raised by the stand-in objective at its first call: scipy accepted everything up to there."""


def _stop(*_: Any, **__: Any) -> Any:
    raise _DryRun


def _err(engine: str, option: str | None, message: str) -> EngineOptionError:
    return EngineOptionError(f"engine {engine!r}: {message}", engine, option)


def _probe(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Return a point inside the bounds (the dry run's start; never evaluated)."""
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    x = np.zeros(lo.shape)
    both = np.isfinite(lo) & np.isfinite(hi)
    x[both] = 0.5 * (lo[both] + hi[both])
    only_lo = np.isfinite(lo) & ~np.isfinite(hi)
    x[only_lo] = lo[only_lo] + 1.0
    only_hi = ~np.isfinite(lo) & np.isfinite(hi)
    x[only_hi] = hi[only_hi] - 1.0
    return x


def _signature(engine: str, func: Callable[..., Any], names: Sequence[str]) -> None:
    """Refuse options the installed scipy's ``func`` does not take."""
    params = inspect.signature(func).parameters
    missing = [n for n in names if n not in params]
    if missing:
        import scipy

        raise _err(engine, missing[0], f"option {missing[0]!r} is not a parameter of scipy.optimize."
                                       f"{func.__name__} in the installed scipy {scipy.__version__}; "
                                       "upgrade scipy or leave the option out")


def _dry_run(engine: str, run: Callable[[], Any]) -> None:
    """Make the engine's scipy call with objectives that stop at once; turn scipy's refusals into errors."""
    from scipy.optimize import OptimizeWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", OptimizeWarning)  # "Unknown solver options: ..."
        try:
            run()
        except _DryRun:
            return
        except OptimizeWarning as exc:
            raise _err(engine, None, f"scipy refused the options: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - scipy's own refusal of an option value, re-raised as ours
            raise _err(engine, None, f"scipy refused the options before any evaluation: "
                                     f"{type(exc).__name__}: {exc}") from None


def _count(engine: str, options: Mapping[str, Any], name: str, minimum: int = 1) -> None:
    v = options.get(name)
    if v is None:
        return
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise _err(engine, name, f"{name}={v!r}; expected an integer >= {minimum}")


def _flag(engine: str, options: Mapping[str, Any], name: str) -> None:
    if name in options and not isinstance(options[name], (bool, np.bool_)):
        raise _err(engine, name, f"{name}={options[name]!r}; expected True (finish with L-BFGS-B from the best "
                                 "point, inside the bounds) or False")


def _workers(engine: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``workers`` (an int, -1 for every CPU, or a map-like callable); the dry run uses 1 (no pool)."""
    w = options.get("workers", 1)
    if not callable(w) and (isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w == 0 or w < -1):
        raise _err(engine, "workers", f"workers={w!r}; expected a positive integer, -1 (every CPU) or a "
                                      "map-like callable such as concurrent.futures.ProcessPoolExecutor().map")
    return {**options, "workers": 1}


# -- least_squares ---------------------------------------------------------------------------------------
def precheck_least_squares(options: Mapping[str, Any], lower: np.ndarray, upper: np.ndarray,
                           names: Sequence[str]) -> None:
    """Refuse what scipy's least_squares would refuse, and ``method='lm'`` with bounds, before any evaluation."""
    from scipy.optimize import least_squares

    from .least_squares import run

    engine = "least_squares"
    _signature(engine, least_squares, [("max_nfev" if k == "maxfev" else k) for k in options])
    opts = {**LEAST_SQUARES, **options}
    if opts["jac"] not in ("2-point", "3-point"):
        raise _err(engine, "jac", f"jac={opts['jac']!r}; expected '2-point' or '3-point' (give an analytic "
                                  "Jacobian with Dfun=...)")
    _count(engine, options, "maxfev")
    if opts["method"] == "lm" and (np.isfinite(lower).any() or np.isfinite(upper).any()):
        bounded = [n for n, lo, hi in zip(names, lower, upper) if np.isfinite(lo) or np.isfinite(hi)]
        raise EngineCapabilityError(
            f"engine 'least_squares': method='lm' (MINPACK) takes no bounds, and parameter(s) "
            f"{', '.join(map(repr, bounded))} have bounds; use method='trf' or 'dogbox', or engine='leastsq' "
            "(which maps bounds away)", engine)
    sparsity = opts["jac_sparsity"]
    if sparsity is not None:
        shape = tuple(getattr(sparsity, "shape", None) or np.shape(sparsity))
        if len(shape) != 2 or shape[1] != len(names):
            shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
            raise _err(engine, "jac_sparsity", f"jac_sparsity has shape {shape}; expected (ndata, {len(names)}): "
                                               f"one column per varied parameter, in the order {shown}")
    x0 = _probe(lower, upper)
    _dry_run(engine, lambda: run(_stop, None, x0, np.asarray(lower, float), np.asarray(upper, float), opts))


# -- the minimize family ---------------------------------------------------------------------------------
def _minimize(engine: str, options: Mapping[str, Any], lower: np.ndarray, upper: np.ndarray,
              transform: bool) -> None:
    from .local import run

    for name in ("maxiter", "maxfev", "maxfun"):
        _count(engine, options, name)
    if transform:  # the engine sees the core's unbounded internal coordinates
        lower, upper = np.full(len(lower), -np.inf), np.full(len(upper), np.inf)
    x0 = _probe(lower, upper)
    _dry_run(engine, lambda: run(engine, _stop, _stop, x0, np.asarray(lower, float), np.asarray(upper, float),
                                 options))


def precheck_nelder(options: Mapping[str, Any], lower: np.ndarray, upper: np.ndarray, names: Sequence[str]) -> None:
    """Refuse options scipy's Nelder-Mead would refuse (e.g. an initial_simplex of the wrong shape)."""
    _minimize("nelder", options, lower, upper, transform=False)


def precheck_powell(options: Mapping[str, Any], lower: np.ndarray, upper: np.ndarray, names: Sequence[str]) -> None:
    """Refuse options scipy's Powell would refuse."""
    _minimize("powell", options, lower, upper, transform=False)


def precheck_cg(options: Mapping[str, Any], lower: np.ndarray, upper: np.ndarray, names: Sequence[str]) -> None:
    """Refuse options scipy's CG would refuse."""
    _minimize("cg", options, lower, upper, transform=True)


def precheck_bfgs(options: Mapping[str, Any], lower: np.ndarray, upper: np.ndarray, names: Sequence[str]) -> None:
    """Refuse options scipy's BFGS would refuse."""
    _minimize("bfgs", options, lower, upper, transform=True)


def precheck_tnc(options: Mapping[str, Any], lower: np.ndarray, upper: np.ndarray, names: Sequence[str]) -> None:
    """Refuse options scipy's TNC would refuse."""
    _minimize("tnc", options, lower, upper, transform=False)


def precheck_slsqp(options: Mapping[str, Any], lower: np.ndarray, upper: np.ndarray, names: Sequence[str]) -> None:
    """Refuse options scipy's SLSQP would refuse."""
    _minimize("slsqp", options, lower, upper, transform=False)


def precheck_trust_constr(options: Mapping[str, Any], lower: np.ndarray, upper: np.ndarray,
                          names: Sequence[str]) -> None:
    """Refuse options scipy's trust-constr would refuse (``factorization_method`` only once it iterates)."""
    method = options.get("factorization_method")
    bounded = bool(np.isfinite(lower).any() or np.isfinite(upper).any())
    # with bounds trust-constr's constraint matrix is sparse, which only two factorizations take
    valid = ("NormalEquation", "AugmentedSystem") + (() if bounded else ("QRFactorization", "SVDFactorization"))
    if method is not None and method not in valid:
        raise _err("trust-constr", "factorization_method",
                   f"factorization_method={method!r}; expected None or one of {', '.join(map(repr, valid))}"
                   + (" (the others do not take the sparse constraints of bounds)" if bounded else ""))
    _minimize("trust-constr", options, lower, upper, transform=False)


# -- the global searches ---------------------------------------------------------------------------------
def precheck_differential_evolution(options: Mapping[str, Any], lower: np.ndarray, upper: np.ndarray,
                                    names: Sequence[str]) -> None:
    """Refuse what scipy's differential_evolution would refuse (strategy, mutation, init, ...)."""
    from scipy.optimize import differential_evolution

    from .globals import run_differential_evolution

    engine = "differential_evolution"
    _signature(engine, differential_evolution, [k for k in options if k != "polish"])
    _flag(engine, options, "polish")
    for name in ("maxiter", "popsize"):
        _count(engine, options, name, minimum=0 if name == "maxiter" else 1)
    opts = _workers(engine, options)
    lo, hi = np.asarray(lower, float), np.asarray(upper, float)
    _dry_run(engine, lambda: run_differential_evolution(_stop, lo, hi, _probe(lo, hi), opts, 0))


def precheck_basinhopping(options: Mapping[str, Any], lower: np.ndarray, upper: np.ndarray,
                          names: Sequence[str]) -> None:
    """Refuse what scipy's basinhopping would refuse (e.g. target_accept_rate outside (0, 1))."""
    from scipy.optimize import basinhopping

    from .globals import run_basinhopping

    engine = "basinhopping"
    _signature(engine, basinhopping, [k for k in options if k != "local_maxiter"])
    for name in ("niter", "interval", "niter_success", "local_maxiter"):
        _count(engine, options, name)
    step = options.get("stepsize", GLOBAL[engine]["stepsize"])
    if isinstance(step, bool) or not isinstance(step, (int, float, np.integer, np.floating)) \
            or not (step > 0 and math.isfinite(step)):
        raise _err(engine, "stepsize", f"stepsize={step!r}; expected a positive finite number")
    lo, hi = np.asarray(lower, float), np.asarray(upper, float)
    _dry_run(engine, lambda: run_basinhopping(_stop, _stop, lo, hi, _probe(lo, hi), options, 0))


def precheck_shgo(options: Mapping[str, Any], lower: np.ndarray, upper: np.ndarray, names: Sequence[str]) -> None:
    """Refuse what scipy's shgo would refuse (e.g. an unknown sampling_method)."""
    from scipy.optimize import shgo

    from .globals import run_shgo

    engine = "shgo"
    _signature(engine, shgo, [k for k in options if k not in ("maxfev", "maxtime", "local_maxiter", "polish")])
    _flag(engine, options, "polish")
    for name in ("n", "iters", "maxfev", "local_maxiter"):
        _count(engine, options, name)
    opts = _workers(engine, options)
    lo, hi = np.asarray(lower, float), np.asarray(upper, float)
    _dry_run(engine, lambda: run_shgo(_stop, _stop, lo, hi, opts))


def precheck_brute(options: Mapping[str, Any], lower: np.ndarray, upper: np.ndarray, names: Sequence[str]) -> None:
    """Refuse a grid of fewer than 2 or more than :data:`MAX_GRID_POINTS` points, and bad workers."""
    from scipy.optimize import brute

    from .globals import run_brute

    engine = "brute"
    _signature(engine, brute, [k for k in options if k != "finish"])
    _count(engine, options, "Ns", minimum=2)
    ns = int(options.get("Ns", GLOBAL[engine]["Ns"]))
    if ns ** len(names) > MAX_GRID_POINTS:
        raise EngineCapabilityError(
            f"engine 'brute': Ns={ns} on {len(names)} varied parameters is a grid of {ns ** len(names):.3g} "
            f"points (at most {MAX_GRID_POINTS:.0e}); lower Ns, fix some parameters, or use "
            "engine='differential_evolution'", engine)
    _flag(engine, options, "finish")
    opts = _workers(engine, options)
    lo, hi = np.asarray(lower, float), np.asarray(upper, float)
    _dry_run(engine, lambda: run_brute(_stop, lo, hi, opts))
