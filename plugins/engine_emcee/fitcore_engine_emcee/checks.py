"""Refusals made before any evaluation (without importing emcee)."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fitcore.errors import EngineOptionError, EngineUnavailableError

from . import INSTALL_HINT, OPTIONS

__all__ = ["precheck", "ndim_of"]


def _err(option: str, message: str) -> EngineOptionError:
    return EngineOptionError(f"engine 'emcee': {message}", "emcee", option)


def _integer(options: Mapping[str, Any], name: str, minimum: int) -> None:
    v = options.get(name, OPTIONS[name])
    if v is None and name == "nwalkers":
        return
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise _err(name, f"{name}={v!r}; expected an integer >= {minimum}")


def ndim_of(nvar: int, is_weighted: Any) -> int:
    """Dimensions sampled: the parameters, and ``__lnsigma`` unless the residuals are weighted."""
    return nvar + (0 if is_weighted else 1)


def precheck(options: Mapping[str, Any], lower: np.ndarray, upper: np.ndarray, names: Sequence[str]) -> None:
    """Refuse a missing emcee and invalid options before the fit evaluates anything.

    Raises
    ------
    EngineUnavailableError
        emcee is not installed.
    EngineOptionError
        A count that is not a positive integer, ``burn >= steps``, too few walkers for
        emcee's stretch move (at least twice the sampled dimensions), a non-boolean flag.
    """
    if importlib.util.find_spec("emcee") is None:
        raise EngineUnavailableError(f"engine 'emcee' is unavailable: requires emcee; {INSTALL_HINT}", "emcee")
    _integer(options, "steps", 1)
    _integer(options, "burn", 0)
    _integer(options, "thin", 1)
    _integer(options, "nwalkers", 2)
    steps, burn = options.get("steps", OPTIONS["steps"]), options.get("burn", OPTIONS["burn"])
    thin = options.get("thin", OPTIONS["thin"])
    if burn >= steps:
        raise _err("burn", f"burn={burn} discards every one of the {steps} steps; use burn < steps")
    if (steps - burn) // thin < 1:
        raise _err("thin", f"thin={thin} keeps no step of the {steps - burn} after burn")
    weighted = options.get("is_weighted", OPTIONS["is_weighted"])
    if weighted is not None and not isinstance(weighted, (bool, np.bool_)):
        raise _err("is_weighted", f"is_weighted={weighted!r}; expected True (the residuals are divided by their "
                                  "uncertainties), False (sample a noise scale __lnsigma too) or None")
    nwalkers = options.get("nwalkers")
    ndim = ndim_of(len(names), weighted)
    if nwalkers is not None and nwalkers < 2 * ndim:
        what = f"{len(names)} parameters" + ("" if weighted else " and __lnsigma")
        raise _err("nwalkers", f"nwalkers={nwalkers} is too few for {what}: emcee's stretch move needs at least "
                               f"2 * {ndim} = {2 * ndim} walkers (default: max(32, 2 * ndim + 2))")
    if not isinstance(options.get("progress", False), (bool, np.bool_)):
        raise _err("progress", f"progress={options['progress']!r}; expected True or False")
    factor = options.get("min_autocorr_lengths", OPTIONS["min_autocorr_lengths"])
    if isinstance(factor, bool) or not isinstance(factor, (int, float, np.integer, np.floating)) or not factor >= 0:
        raise _err("min_autocorr_lengths", f"min_autocorr_lengths={factor!r}; expected a number >= 0")
