"""The table of confidence intervals printed by ``report_ci`` (manual section 4.2)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

__all__ = ["ci_report", "report_ci"]


def _cell(value: float) -> str:
    return f"{value:.5f}" if math.isfinite(value) else str(value)


def ci_report(ci: Mapping[str, Sequence[tuple[float, float]]], width: int = 10) -> str:
    """Return the table of :func:`fitcore.conf_interval`'s output as text.

    One row per parameter: the lower limits (largest probability first), the
    best value under ``0.00%``, then the upper limits. A header of
    probabilities is written once when every parameter has the same levels,
    else above each row.

    Parameters
    ----------
    ci : dict
        ``{name: [(probability, value), ...]}`` as returned by ``conf_interval``.
    width : int, default 10
        Width of each column.

    Examples
    --------
    >>> print(ci_report({'a': [(0.95, 0.9), (0.0, 1.0), (0.95, 1.1)]}))
          95.00%     0.00%    95.00%
    a    0.90000   1.00000   1.10000
    """
    if not ci:
        return ""
    namew = max(len(n) for n in ci) + 1
    heads = {n: "".join(f"{p * 100:.2f}%".rjust(width) for p, _ in rows) for n, rows in ci.items()}
    shared = len(set(heads.values())) == 1
    lines = []
    for i, (name, rows) in enumerate(ci.items()):
        if i == 0 or not shared:
            lines.append(" " * namew + heads[name])
        lines.append(name.ljust(namew) + "".join(_cell(float(v)).rjust(width) for _, v in rows))
    return "\n".join(lines)


def report_ci(ci: Mapping[str, Sequence[tuple[float, float]]]) -> None:
    """Print the table of confidence intervals (see :func:`ci_report`)."""
    print(ci_report(ci))
