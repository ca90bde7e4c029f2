"""Text reports of parameters and fits (the manual's layout)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .minimizer import Minimizer
    from .parameters import Parameters
    from .result import FitResult

__all__ = ["errors_report", "report_errors", "fit_report"]


def errors_report(
    params: Parameters,
    modelpars: Mapping[str, object] | None = None,
    show_correl: bool = True,
    min_correl: float = 0.1,
) -> str:
    """Return the parameter table of :func:`report_errors` as text."""
    width = max((len(n) for n in params), default=1) + 1
    lines = []
    for name, par in params.items():
        label = f"{name}:".rjust(width + 2)
        if par.value is None:
            lines.append(f"{label}  None")
            continue
        if par.expr is not None:
            tail = f" == '{par.expr}'"
        elif not par.vary:
            tail = " (fixed)"
        else:
            tail = f" (initial= {par.init_value:f})" if par.init_value is not None else ""
        err = f"+/- {par.stderr:.5f}" if par.stderr is not None else "+/- 0"
        line = f"{label} {par.value: .5f} {err}{tail}"
        if modelpars is not None and name in modelpars:
            true = modelpars[name]
            true = getattr(true, "value", true)
            line += f" (model_value= {float(true):.5f})"  # type: ignore[arg-type]
        lines.append(line)
    if show_correl:
        pairs: dict[tuple[str, str], float] = {}
        position = {name: i for i, name in enumerate(params)}
        for name, par in params.items():
            for other, c in (par.correl or {}).items():
                if other not in position:  # a parameter removed since the fit: its correlations went with it
                    continue
                key = (name, other) if position[name] < position[other] else (other, name)
                if abs(c) >= min_correl:
                    pairs[key] = c
        if pairs:
            lines.append("Correlations:")
            for (a, b), c in sorted(pairs.items(), key=lambda kv: -abs(kv[1])):
                lines.append(f"    C({a}, {b})".ljust(36) + f" = {c:.3f}")
    return "\n".join(lines)


def report_errors(
    params: Parameters,
    modelpars: Mapping[str, object] | None = None,
    show_correl: bool = True,
    min_correl: float = 0.1,
) -> None:
    """Print best-fit values, standard errors, initial values and correlations.

    Parameters
    ----------
    params : Parameters
        After a fit.
    modelpars : mapping, optional
        True values (numbers or Parameters) to print beside the fitted ones.
    show_correl : bool, default True
        Print the correlations of at least ``min_correl`` in magnitude.
    min_correl : float, default 0.1
    """
    print(errors_report(params, modelpars, show_correl, min_correl))


def fit_report(fit: Minimizer | FitResult, modelpars: Mapping[str, object] | None = None,
               show_correl: bool = True, min_correl: float = 0.1) -> str:
    """Return a report of a fit (a Minimizer or a FitResult): statistics, variables with errors, correlations."""
    lines = [
        "[[Fit Statistics]]",
        f"    engine             = {fit.engine}",
        f"    success            = {fit.success}",
        f"    message            = {fit.message}",
        f"    function evals     = {fit.nfev}",
        f"    data points        = {fit.ndata}",
        f"    variables          = {fit.nvarys}",
    ]
    if fit.objective == "cost":
        lines.append(f"    cost               = {fit.chisqr:.7g} (errordef {fit.errordef:g})")
    else:
        lines += [
            f"    chi-square         = {fit.chisqr:.7g}",
            f"    reduced chi-square = {fit.redchi:.7g}",
            f"    Akaike info crit   = {fit.aic:.7g}",
            f"    Bayesian info crit = {fit.bic:.7g}",
        ]
    if fit.engine_objective is not None:
        lines.append(f"    engine objective   = {fit.engine_objective:.7g} (what the engine minimized; "
                     "chi-square above is the plain sum of squares there)")
    if not fit.errorbars:
        lines.append(f"    error bars         = not estimated: {fit.errorbars_reason}")
    lines.append("[[Variables]]")
    table = errors_report(fit.params, modelpars, show_correl, min_correl)
    lines.append(table.replace("Correlations:", "[[Correlations]]"))
    return "\n".join(lines)
