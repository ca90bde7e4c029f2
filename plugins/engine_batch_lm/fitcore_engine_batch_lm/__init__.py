"""fitcore-engine-batch-lm: a vectorized Levenberg-Marquardt, all fits of a batch advancing together.

A batched engine (``EngineSpec(batched=True)``): it runs under
``fitcore.fit_many(..., vectorized=True)``, which gives it a
:class:`fitcore.BatchProblem`. The algorithm is MINPACK's ``lmdif``/``lmder``
(Moré 1977) with every per-fit quantity held in arrays (see :mod:`.lm`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fitcore import EngineSpec, hookimpl
from fitcore.errors import EngineOptionError

from .lm import OPTIONS, batch_lm

__all__ = ["batch_lm", "fitcore_engines", "precheck", "OPTIONS"]


def _positive(name: str, value: Any, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EngineOptionError(f"batch_lm: {name}={value!r} must be a number", "batch_lm", name)
    if not (value >= 0 if allow_zero else value > 0) or value != value or value == float("inf"):
        need = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise EngineOptionError(f"batch_lm: {name}={value!r}; expected {need}", "batch_lm", name)


def precheck(options: Mapping[str, Any], lower: Sequence[float], upper: Sequence[float],
             names: Sequence[str]) -> None:
    """Refuse invalid option values before any evaluation."""
    for name in ("ftol", "xtol", "gtol"):
        if name in options:
            _positive(name, options[name], allow_zero=True)
    if "factor" in options:
        _positive("factor", options["factor"])
    maxfev = options.get("maxfev")
    if maxfev is not None and (isinstance(maxfev, bool) or not isinstance(maxfev, int) or maxfev < 1):
        raise EngineOptionError(f"batch_lm: maxfev={maxfev!r}; expected a positive integer or None",
                                "batch_lm", "maxfev")
    diag = options.get("diag")
    if diag is not None:
        try:
            values = [float(v) for v in diag]
        except (TypeError, ValueError):
            raise EngineOptionError(f"batch_lm: diag={diag!r} must be a sequence of positive numbers, one per "
                                    f"free parameter ({', '.join(names)})", "batch_lm", "diag") from None
        if len(values) != len(names) or not all(v > 0 and v < float("inf") for v in values):
            raise EngineOptionError(f"batch_lm: diag must hold {len(names)} finite positive numbers, one per free "
                                    f"parameter ({', '.join(names)}), got {diag!r}", "batch_lm", "diag")


@hookimpl
def fitcore_engines() -> Iterable[EngineSpec]:
    """Declare the batched Levenberg-Marquardt engine."""
    yield EngineSpec(
        name="batch_lm",
        engine="fitcore_engine_batch_lm.lm:batch_lm",
        summary="Levenberg-Marquardt for a whole batch at once (numpy; MINPACK scaling and stopping rules per fit)",
        objective="residuals",
        bounds="transform",
        options=OPTIONS,
        precheck="fitcore_engine_batch_lm:precheck",
        least_squares=True,
        batched=True,
    )
