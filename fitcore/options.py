"""A fit's options: fitcore's own (core) options apart from the engine's, each validated.

:func:`split_options` is the one place that separates and checks them; the
Minimizer and :func:`fitcore.fit_many` both call it before any evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import EngineOptionError, did_you_mean
from .specs import CORE_OPTIONS, EngineSpec

__all__ = ["CoreOptions", "split_options", "NAN_POLICIES"]

NAN_POLICIES = ("raise", "propagate", "omit")


@dataclass(frozen=True)
class CoreOptions:
    """fitcore's own options of one fit (see :class:`fitcore.Minimizer`)."""

    nan_policy: str = "raise"
    iter_cb: Callable[..., Any] | None = None
    max_nfev: int | None = None
    scale_covar: bool = True
    Dfun: Callable[..., Any] | None = None
    col_deriv: bool = False
    seed: Any = None
    errordef: float = 1.0

    def __post_init__(self) -> None:
        if self.nan_policy not in NAN_POLICIES:
            raise ValueError(f"nan_policy={self.nan_policy!r}; expected one of {NAN_POLICIES}")
        if self.max_nfev is not None and (isinstance(self.max_nfev, bool)
                                          or not isinstance(self.max_nfev, (int, np.integer)) or self.max_nfev < 1):
            raise ValueError(f"max_nfev={self.max_nfev!r}; expected a positive integer or None")
        for name in ("iter_cb", "Dfun"):
            func = getattr(self, name)
            if func is not None and not callable(func):
                raise TypeError(f"{name} must be callable or None, not {type(func).__name__}")
        for name in ("scale_covar", "col_deriv"):
            flag = getattr(self, name)  # MINPACK's 0/1 (lmfit passes col_deriv=1) or a bool; 'no' is not False
            if not (isinstance(flag, (bool, np.bool_)) or (isinstance(flag, (int, np.integer)) and flag in (0, 1))):
                raise TypeError(f"{name}={flag!r}; expected True or False (or 1 or 0)")
            object.__setattr__(self, name, bool(flag))
        errordef = self.errordef
        if isinstance(errordef, bool) or not isinstance(errordef, (int, float, np.floating, np.integer)) \
                or not math.isfinite(errordef) or errordef <= 0:
            raise ValueError(f"errordef={errordef!r}; expected a positive number: 1 for a chi-square-like "
                             "cost, 0.5 for a negative log-likelihood")

    def as_dict(self, given: set[str]) -> dict[str, Any]:
        """The options that were given explicitly, by name (what a refit passes on)."""
        return {name: getattr(self, name) for name in sorted(given)}


def split_options(spec: EngineSpec, options: Mapping[str, Any],
                  defaults: Mapping[str, Any] | None = None) -> tuple[CoreOptions, dict[str, Any], set[str]]:
    """Separate and validate the core options and the engine options of a fit.

    Parameters
    ----------
    spec : EngineSpec
        The engine the options are for.
    options : mapping
        Everything the user passed: core and engine options mixed.
    defaults : mapping, optional
        Core option values that apply unless ``options`` gives them (the
        Minimizer's constructor arguments).

    Returns
    -------
    core : CoreOptions
        The validated core options.
    engine_options : dict
        The options for the engine, each one it declares.
    given : set of str
        Names of the core options given explicitly in ``options``.

    Raises
    ------
    EngineOptionError
        An option neither the core nor the engine knows (the message lists
        both sets), or ``seed`` for a deterministic engine.
    """
    core: dict[str, Any] = dict(defaults or {})
    engine_options: dict[str, Any] = {}
    given: set[str] = set()
    unknown: list[str] = []
    for key, value in options.items():
        if key in CORE_OPTIONS:
            core[key] = value
            given.add(key)
        elif key in spec.options:
            engine_options[key] = value
        else:
            unknown.append(key)
    if unknown:
        first = sorted(unknown)[0]
        valid = ", ".join(sorted(spec.options)) or "(none)"
        raise EngineOptionError(
            f"engine {spec.name!r} has no option {first!r}.{did_you_mean(first, list(spec.options))} "
            f"Its options: {valid}; fitcore's own: {', '.join(sorted(CORE_OPTIONS))}",
            spec.name,
            first,
        )
    if "seed" in given and not spec.stochastic:
        raise EngineOptionError(f"engine {spec.name!r} is deterministic and takes no seed; remove seed=",
                                spec.name, "seed")
    seed = core.get("seed")
    if seed is not None and not isinstance(seed, (np.random.Generator, np.random.RandomState)) and (
            isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64):
        raise EngineOptionError(f"seed={seed!r}; expected an integer from 0 to 2**64 - 1, a numpy Generator "
                                "or RandomState", spec.name, "seed")
    return CoreOptions(**core), engine_options, given
