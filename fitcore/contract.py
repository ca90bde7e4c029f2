"""The plugin contract's version, and whether a plugin's stated range admits it.

A plugin states the contract it was written for with a module (or object)
attribute next to its hooks::

    fitcore_contract = "1.1"          # written for 1.1: works with any 1.x from 1.1 on
    fitcore_contract = ">=1.0,<3"     # or an explicit range

A bare version ``"M.N"`` means ``">=M.N,<M+1"``: minor versions of the contract
only add (new optional fields, new hooks), a new major version may remove or
change. A range is comma-separated clauses of ``>=``, ``>``, ``<=``, ``<``,
``==`` or ``!=`` and a dotted version of integers. A plugin that states nothing
is taken to be written for ``1.0``. A plugin whose range excludes
:data:`CONTRACT_VERSION` is listed as broken (stage ``contract``) and never
reaches a fit.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

__all__ = ["CONTRACT_VERSION", "contract_problem", "parse_version"]

#: the plugin contract this fitcore implements (major.minor)
CONTRACT_VERSION = "1.1"

_OPS: dict[str, Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq, "!=": operator.ne,
}
_CLAUSE = re.compile(r"^\s*(>=|<=|==|!=|>|<)?\s*(\d+(?:\.\d+)*)\s*$")


def parse_version(text: str) -> tuple[int, ...]:
    """``'1.10'`` -> ``(1, 10)``; raise ValueError for anything but dotted non-negative integers."""
    if not re.fullmatch(r"\d+(\.\d+)*", text.strip()):
        raise ValueError(f"{text!r} is not a version of dotted integers such as '1.1'")
    return tuple(int(p) for p in text.strip().split("."))


def _padded(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    n = max(len(a), len(b))
    return a + (0,) * (n - len(a)), b + (0,) * (n - len(b))


def contract_problem(declared: object, current: str = CONTRACT_VERSION) -> str | None:
    """Why a plugin declaring ``declared`` cannot run on contract ``current``; None when it can.

    Parameters
    ----------
    declared : str or None
        The plugin's ``fitcore_contract``: a version ``"M.N"`` (meaning
        ``>=M.N,<M+1``), a comma-separated range such as ``">=1.0,<3"``, or None
        (written for 1.0).
    current : str
        The contract version to test against.

    Returns
    -------
    str or None
        A sentence saying what is wrong, or None when compatible.
    """
    if declared is None:
        declared = "1.0"
    if not isinstance(declared, str) or not declared.strip():
        return (f"fitcore_contract must be a string such as '1.1' or '>=1.0,<3', "
                f"not {type(declared).__name__} {declared!r}")
    have = parse_version(current)
    clauses = declared.split(",")
    bare = _CLAUSE.match(clauses[0]) if len(clauses) == 1 else None
    if bare is not None and bare.group(1) is None:  # "M.N" means ">=M.N,<M+1"
        clauses = [">=" + bare.group(2), f"<{parse_version(bare.group(2))[0] + 1}"]
    for clause in clauses:
        m = _CLAUSE.match(clause)
        if m is None or m.group(1) is None:
            return (f"fitcore_contract={declared!r} is not understood: give a version such as '1.1' or "
                    "comma-separated clauses of >=, >, <=, <, ==, != and a version, e.g. '>=1.0,<3'")
        a, b = _padded(have, parse_version(m.group(2)))
        if not _OPS[m.group(1)](a, b):
            return (f"it was written for fitcore plugin contract {declared!r}, and this fitcore implements "
                    f"contract {current}")
    return None
