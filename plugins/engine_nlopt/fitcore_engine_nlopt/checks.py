"""Refusals made before any evaluation: unknown algorithms, impossible bounds, bad option values."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fitcore.errors import EngineCapabilityError, EngineOptionError, EngineUnavailableError, did_you_mean

from . import INSTALL_HINT

__all__ = ["precheck", "normalize", "MAX_BOUND"]

_AGS_MAX_DIM = 10
#: nlopt reads maxeval and population as C ints
_MAX_INT = 2**31 - 1
#: largest bound magnitude a global algorithm searches: beyond it the square of the value overflows a float
MAX_BOUND = float(np.sqrt(np.finfo(float).max))


def _err(option: str, message: str) -> EngineOptionError:
    return EngineOptionError(f"engine 'nlopt': {message}", "nlopt", option)


def normalize(option: str, name: Any, valid: Mapping[str, str]) -> str:
    """Return the algorithm ``name`` in NLopt's spelling, or raise listing the valid ones."""
    if not isinstance(name, str):
        raise _err(option, f"{option}={name!r} must be an NLopt algorithm name such as 'LN_BOBYQA'")
    key = name.strip().upper()
    if key.startswith("NLOPT_"):
        key = key[6:]
    if key not in valid:
        raise _err(option, f"unknown {option} {name!r}.{did_you_mean(key, list(valid))} "
                           f"Algorithms in this nlopt: {', '.join(valid)}")
    return key


def _number(name: str, value: Any, positive: bool = False) -> None:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and np.isfinite(value) and (value > 0 if positive else value >= 0)
    if not ok:
        raise _err(name, f"{name}={value!r}; expected a {'positive' if positive else 'non-negative'} finite number")


def precheck(options: Mapping[str, Any], lower: np.ndarray, upper: np.ndarray, names: Sequence[str]) -> None:
    """Refuse, before any evaluation, what nlopt would reject or silently get wrong.

    Raises
    ------
    EngineUnavailableError
        nlopt is not installed.
    EngineOptionError
        Unknown algorithm or local algorithm, or an invalid option value.
    EngineCapabilityError
        A global algorithm with an infinite bound, ``LN_NEWUOA`` with bounds, or
        ``GN_AGS`` on more than 10 parameters.
    """
    if importlib.util.find_spec("nlopt") is None:
        raise EngineUnavailableError(f"engine 'nlopt' is unavailable: requires nlopt; {INSTALL_HINT}", "nlopt")
    from .algorithms import available, is_global, uses_local

    valid = available()
    alg = normalize("algorithm", options.get("algorithm", "LN_BOBYQA"), valid)
    local = options.get("local_algorithm")
    if local is not None:
        local = normalize("local_algorithm", local, valid)
        if not (uses_local(alg) or is_global(alg)):
            raise _err("local_algorithm", f"algorithm {alg!r} runs no local optimizer, so local_algorithm="
                                          f"{local!r} would be ignored; remove it, or choose an AUGLAG, MLSL "
                                          "or global algorithm")
        if is_global(local) or uses_local(local):
            raise _err("local_algorithm", f"local_algorithm={local!r} must be a plain local algorithm (LN_* or "
                                          "LD_*, not AUGLAG or MLSL), e.g. 'LN_BOBYQA' or 'LD_LBFGS'")
    if is_global(alg):
        bad = [f"{n!r} (min={lo}, max={hi})" for n, lo, hi in zip(names, lower, upper)
               if not (np.isfinite(lo) and np.isfinite(hi))]
        if bad:
            raise EngineCapabilityError(
                f"engine 'nlopt': global algorithm {alg!r} searches a finite box and needs finite min and max on "
                f"every varied parameter; missing for {', '.join(bad)}. Give those parameters bounds, or choose a "
                "local algorithm such as 'LN_BOBYQA'", "nlopt")
        wide = [f"{n!r} (min={lo:g}, max={hi:g})" for n, lo, hi in zip(names, lower, upper)
                if max(abs(lo), abs(hi)) > MAX_BOUND]
        if wide:
            raise EngineCapabilityError(
                f"engine 'nlopt': global algorithm {alg!r} searches the whole box between the bounds, and the "
                f"bounds of {', '.join(wide)} reach beyond +-{MAX_BOUND:.3g}, where the square of the value "
                "overflows a float (such bounds stand for 'no bound'); give the range the parameter can "
                "plausibly take, or choose a local algorithm such as 'LN_BOBYQA'", "nlopt")
        if alg == "GN_AGS" and len(names) > _AGS_MAX_DIM:
            raise EngineCapabilityError(f"engine 'nlopt': GN_AGS handles at most {_AGS_MAX_DIM} parameters, this "
                                        f"fit varies {len(names)}; choose another global algorithm", "nlopt")
    if alg == "LN_NEWUOA" and (np.isfinite(lower).any() or np.isfinite(upper).any()):
        bounded = [n for n, lo, hi in zip(names, lower, upper) if np.isfinite(lo) or np.isfinite(hi)]
        raise EngineCapabilityError(
            "engine 'nlopt': LN_NEWUOA ignores bounds, and parameter(s) "
            f"{', '.join(map(repr, bounded))} have bounds; use algorithm='LN_NEWUOA_BOUND' (or 'LN_BOBYQA')",
            "nlopt")
    for name in ("xtol_rel", "ftol_rel", "xtol_abs", "ftol_abs"):
        if name in options:
            _number(name, options[name])
    if options.get("maxtime") is not None:
        _number("maxtime", options["maxtime"], positive=True)
    for name in ("maxeval", "population"):
        v = options.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= v <= _MAX_INT):
            raise _err(name, f"{name}={v!r}; expected an integer from 1 to {_MAX_INT} (or None)")
    step = options.get("initial_step")
    if step is not None:
        arr = np.atleast_1d(np.asarray(step, dtype=float)) if not isinstance(step, str) else np.array([np.nan])
        if arr.size not in (1, len(names)) or not np.all(np.isfinite(arr)) or not np.all(arr > 0):
            raise _err("initial_step", f"initial_step={step!r}; expected a positive number or one positive number "
                                       f"per varied parameter ({len(names)}: {', '.join(names)})")
    polish = options.get("polish")
    if polish is not None and not isinstance(polish, (bool, np.bool_)):
        raise _err("polish", f"polish={polish!r}; expected True, False or None")
    if polish and not is_global(alg):
        raise _err("polish", f"polish refines the result of a global algorithm; {alg!r} is local")
