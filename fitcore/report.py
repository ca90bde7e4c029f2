"""Text reports of parameters and fits (the manual's layout)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .minimizer import Minimizer
    from .parameters import Parameters
    from .result import FitResult

__all__ = ["errors_report", "report_errors", "fit_report", "report_fit"]


def errors_report(
    params: Parameters,
    modelpars: Mapping[str, object] | None = None,
    show_correl: bool = True,
    min_correl: float = 0.1,
    sort_pars: bool | Callable[[str], Any] = False,
    correl_mode: str = "list",
) -> str:
    """Return the parameter table of :func:`report_errors` as text.

    ``sort_pars`` lists the parameters sorted by name (True) or by a key function;
    ``correl_mode='table'`` prints the full correlation matrix of the varied
    parameters instead of the list of the largest ones.
    """
    if correl_mode not in ("list", "table"):
        raise ValueError(f"correl_mode={correl_mode!r}; use 'list' or 'table'")
    if sort_pars is True:
        names = sorted(params)
    elif callable(sort_pars):
        names = sorted(params, key=sort_pars)
    elif sort_pars is False:
        names = list(params)
    else:
        raise TypeError(f"sort_pars must be True, False or a key function, not {type(sort_pars).__name__}")
    width = max((len(n) for n in params), default=1) + 1
    lines = []
    for name in names:
        par = params[name]
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
    if show_correl and correl_mode == "table":
        varied = [n for n in names if params[n].correl is not None]
        if varied:
            cw = max(max(len(n) for n in varied), 7)
            lines.append("Correlations:")
            lines.append(" " * (cw + 1) + " ".join(n.rjust(cw) for n in varied))
            for a in varied:
                row = [f"{(1.0 if a == b else (params[a].correl or {}).get(b, 0.0)):+.4f}".rjust(cw) for b in varied]
                lines.append(a.rjust(cw) + " " + " ".join(row))
    elif show_correl:
        order = {n: i for i, n in enumerate(names)}
        pairs: dict[tuple[str, str], float] = {}
        for name in names:
            for other, c in (params[name].correl or {}).items():
                if other not in order:  # a parameter removed since the fit: its correlations went with it
                    continue
                key = (name, other) if order[name] < order[other] else (other, name)
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


def fit_report(fit: Minimizer | FitResult | Parameters, modelpars: Mapping[str, object] | None = None,
               show_correl: bool = True, min_correl: float = 0.1, sort_pars: bool | Callable[[str], Any] = False,
               correl_mode: str = "list") -> str:
    """Return a report of a fit: statistics, variables with errors, correlations.

    Parameters
    ----------
    fit : Minimizer, FitResult, ModelResult or Parameters
        A finished fit (Parameters alone give the variables and correlations only).
    modelpars : mapping, optional
        True values to print beside the fitted ones.
    show_correl : bool, default True
        Print correlations.
    min_correl : float, default 0.1
        Smallest correlation (in magnitude) the list shows.
    sort_pars : bool or callable, default False
        Sort the parameters by name (True) or by this key function.
    correl_mode : {'list', 'table'}, default 'list'
        A sorted list of the largest correlations, or the full matrix.
    """
    from .parameters import Parameters

    if isinstance(fit, Parameters):
        lines = ["[[Variables]]"]
        table = errors_report(fit, modelpars, show_correl, min_correl, sort_pars, correl_mode)
        return "\n".join(lines + [table.replace("Correlations:", "[[Correlations]]")])
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
    rsquared = getattr(fit, "rsquared", None)
    if rsquared is not None:
        lines.append(f"    R-squared          = {rsquared:.7g}")
    if not fit.errorbars:
        lines.append(f"    error bars         = not estimated: {fit.errorbars_reason}")
    lines.append("[[Variables]]")
    table = errors_report(fit.params, modelpars, show_correl, min_correl, sort_pars, correl_mode)
    lines.append(table.replace("Correlations:", "[[Correlations]]"))
    return "\n".join(lines)


def report_fit(fit: Minimizer | FitResult | Parameters, modelpars: Mapping[str, object] | None = None,
               show_correl: bool = True, min_correl: float = 0.1, sort_pars: bool | Callable[[str], Any] = False,
               correl_mode: str = "list") -> None:
    """Print :func:`fit_report` (lmfit's name)."""
    print(fit_report(fit, modelpars, show_correl, min_correl, sort_pars, correl_mode))
