"""The ``lbfgsb`` engine's options: both spellings of each, their defaults, and their checks.

The lmfit 0.5 manual passes keywords to ``scipy.optimize.fmin_l_bfgs_b``
(``m``, ``factr``, ``pgtol``, ``epsilon``, ``maxfun``, ``maxiter``, ``maxls``);
``scipy.optimize.minimize`` spells three of them differently (``maxcor``,
``ftol`` = ``factr * eps``, ``gtol``, and ``eps`` for ``epsilon``). Both
spellings are accepted; giving both of one pair is an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fitcore.errors import EngineOptionError

__all__ = ["OPTIONS", "ALIASES", "precheck", "resolve_options"]

_EPS = float(np.finfo(float).eps)

#: Defaults. ``ftol=1e-12`` and ``gtol=1e-8`` are tighter than SciPy's (2.2e-9, 1e-5) so that
#: the fit stops at the minimum closely enough for the error bars to match leastsq's.
#: ``None`` means "use the other spelling" or, for ``epsilon``, the relative step
#: ``sqrt(eps) * max(|x|, 1)``; ``maxfun=None`` means ``1000 * (nvar + 1)`` gradient evaluations.
OPTIONS: dict[str, Any] = {
    "m": 10,
    "maxcor": None,
    "ftol": 1.0e-12,
    "factr": None,
    "gtol": 1.0e-8,
    "pgtol": None,
    "epsilon": None,
    "eps": None,
    "maxfun": None,
    "maxiter": 15000,
    "maxls": 20,
}

#: manual (fmin_l_bfgs_b) spelling -> scipy.optimize.minimize spelling
ALIASES = {"m": "maxcor", "pgtol": "gtol", "epsilon": "eps"}


#: largest value of each integer option: L-BFGS-B reads maxls as a C int and allocates about
#: 11 * maxcor**2 numbers; maxiter and maxfun are counted in Python and only need to be positive
_INT_LIMITS = {"maxcor": 1000, "maxls": 2**31 - 1, "maxiter": None, "maxfun": None}


def _positive(name: str, value: Any, integer: bool = False, limit: int | None = None) -> None:
    kind = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    ok = not isinstance(value, (bool, np.bool_)) and isinstance(value, kind) and value > 0
    ok = ok and (bool(np.isfinite(value)) if not integer else (limit is None or value <= limit))
    if not ok:
        what = "a positive finite number" if not integer else (
            "a positive integer" if limit is None else f"an integer from 1 to {limit}")
        raise EngineOptionError(f"engine 'lbfgsb': {name}={value!r}; expected {what}", "lbfgsb", name)


def resolve_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Return scipy ``minimize(method='L-BFGS-B')`` options from fitcore's (either spelling).

    Raises
    ------
    EngineOptionError
        Both spellings of one option were given, or a value is invalid.
    """
    given = dict(options)
    out: dict[str, Any] = {}
    for manual, scipy_name in ALIASES.items():
        if given.get(manual) is not None and given.get(scipy_name) is not None:
            raise EngineOptionError(
                f"engine 'lbfgsb': {manual}= and {scipy_name}= are two spellings of the same option; give one",
                "lbfgsb", manual)
        value = given.get(scipy_name, None)
        if value is None:
            value = given.get(manual, OPTIONS[manual] if OPTIONS[manual] is not None else None)
        out[scipy_name] = value
    if given.get("factr") is not None and "ftol" in given:
        raise EngineOptionError("engine 'lbfgsb': factr= and ftol= set the same tolerance (ftol = factr * eps); "
                                "give one", "lbfgsb", "factr")
    if given.get("factr") is not None:
        _positive("factr", given["factr"])
        out["ftol"] = float(given["factr"]) * _EPS
    else:
        out["ftol"] = given.get("ftol", OPTIONS["ftol"])
    out["gtol"] = out["gtol"] if out["gtol"] is not None else OPTIONS["gtol"]
    out["maxcor"] = out["maxcor"] if out["maxcor"] is not None else OPTIONS["m"]
    for name in ("maxfun", "maxiter", "maxls"):
        out[name] = given.get(name, OPTIONS[name])
    for name in ("ftol", "gtol"):
        _positive(name, out[name])
    if out["eps"] is not None:
        _positive("epsilon", out["eps"])
    for name, limit in _INT_LIMITS.items():
        if out[name] is not None or name != "maxfun":
            _positive("m" if name == "maxcor" and given.get("m") is not None else name, out[name],
                      integer=True, limit=limit)
    return out


def precheck(options: Mapping[str, Any], lower: np.ndarray, upper: np.ndarray, names: Sequence[str]) -> None:
    """Refuse invalid option values before the fit evaluates anything."""
    resolve_options(options)
