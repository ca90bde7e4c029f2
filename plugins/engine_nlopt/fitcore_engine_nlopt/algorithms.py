"""The NLopt algorithms compiled into the installed nlopt, and what each needs.

Imports nlopt: used only when a fit selects the engine or a listing asks for details.
"""

from __future__ import annotations

import functools
import re
from typing import Any

__all__ = ["available", "details", "is_global", "uses_local", "needs_local", "uses_gradient", "code"]

_NAME = re.compile(r"^(GN|GD|LN|LD|G)_[A-Z0-9_]+$|^AUGLAG(_EQ)?$")


@functools.lru_cache(maxsize=1)
def available() -> dict[str, str]:
    """``{name: description}`` of every algorithm compiled into the installed nlopt, sorted by name."""
    import nlopt

    out = {}
    for attr in dir(nlopt):
        value = getattr(nlopt, attr)
        if not _NAME.match(attr) or not isinstance(value, int) or not 0 <= value < nlopt.NUM_ALGORITHMS:
            continue
        text = nlopt.algorithm_name(value)
        if "NOT COMPILED" not in text:
            out[attr] = text
    return dict(sorted(out.items()))


def code(name: str) -> int:
    """NLopt's integer code of algorithm ``name``."""
    import nlopt

    return int(getattr(nlopt, name))


def is_global(name: str) -> bool:
    """Global algorithms (GN_*, GD_*, G_MLSL*) need finite bounds on every parameter."""
    return name.startswith(("GN_", "GD_", "G_"))


def needs_local(name: str) -> bool:
    """AUGLAG and G_MLSL cannot run without a local optimizer."""
    return name in ("AUGLAG", "AUGLAG_EQ", "G_MLSL", "G_MLSL_LDS")


def uses_local(name: str) -> bool:
    """Algorithms that run a local optimizer: every MLSL and AUGLAG variant."""
    return "MLSL" in name or "AUGLAG" in name


def uses_gradient(name: str) -> bool:
    """Derivative-based algorithms (LD_*, GD_*)."""
    return name.startswith(("LD_", "GD_"))


def details() -> dict[str, Any]:
    """Facts for listings: nlopt's version and every selectable algorithm with its description."""
    import nlopt

    algs = available()
    return {
        "nlopt_version": getattr(nlopt, "__version__", "?"),
        "default_algorithm": "LN_BOBYQA",
        "algorithms": algs,
        "global_algorithms_need_finite_bounds": [a for a in algs if is_global(a)],
        "need_local_algorithm": [a for a in algs if needs_local(a)],
    }
