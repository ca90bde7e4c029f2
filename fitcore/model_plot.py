"""Plots of a Model fit: data with the fit, residuals, both (matplotlib: ``pip install 'fitcore[plot]'``).

Each function takes a :class:`~fitcore.model_result.ModelResult` (used through its
attributes: ``model``, ``data``, ``weights``, ``userkws``, ``best_fit``, ``eval``).

Only one-dimensional models (one independent variable given as an array) are
plotted; others raise a ValueError saying so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = ["plot_fit", "plot_residuals", "plot"]


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plotting a ModelResult needs matplotlib: pip install 'fitcore[plot]' "
                          "(or pip install matplotlib)") from None
    return plt


def _x(result: Any) -> tuple[str, np.ndarray]:
    indep = [v for v in result.model.independent_vars if v in result.userkws
             and np.ndim(result.userkws[v]) == 1]
    if len(indep) != 1:
        raise ValueError(f"only a model of one array-valued independent variable can be plotted; this fit has "
                         f"{', '.join(result.model.independent_vars) or 'none'}")
    return indep[0], np.asarray(result.userkws[indep[0]])


def _real(values: Any, parse_complex: str) -> np.ndarray:
    arr = np.asarray(values)
    if not np.iscomplexobj(arr):
        return arr
    funcs: dict[str, Callable[[Any], Any]] = {"abs": np.abs, "real": np.real, "imag": np.imag, "angle": np.angle}
    if parse_complex not in funcs:
        raise ValueError(f"parse_complex={parse_complex!r}; use one of {', '.join(map(repr, funcs))}")
    return funcs[parse_complex](arr)


def plot_fit(result: Any, ax: Any = None, datafmt: str = "o", fitfmt: str = "-", initfmt: str = "--",
             xlabel: str | None = None, ylabel: str | None = None, yerr: Any = None, numpoints: int | None = None,
             data_kws: Mapping[str, Any] | None = None, fit_kws: Mapping[str, Any] | None = None,
             init_kws: Mapping[str, Any] | None = None, ax_kws: Mapping[str, Any] | None = None,
             show_init: bool = False, parse_complex: str = "abs", title: str | None = None) -> Any:
    """Plot the data (with error bars from ``yerr`` or ``1/weights``), the best fit and optionally the start.

    ``numpoints`` evaluates the fit on that many evenly spaced points instead of
    the data's. Returns the matplotlib Axes.
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(**dict(ax_kws or {}))
    name, x = _x(result)
    x_fine = np.linspace(x.min(), x.max(), numpoints) if numpoints and numpoints > len(x) else x
    data = _real(result.data, parse_complex)
    if yerr is None and result.weights is not None:
        yerr = 1.0 / np.asarray(result.weights)
    if yerr is not None:
        ax.errorbar(x, data, yerr=np.abs(_real(yerr, parse_complex)), fmt=datafmt, label="data",
                    **dict(data_kws or {}))
    else:
        ax.plot(x, data, datafmt, label="data", **dict(data_kws or {}))
    if show_init:
        ax.plot(x_fine, _real(result.model.eval(result.init_params, **{**result.userkws, name: x_fine}),
                              parse_complex), initfmt, label="initial fit", **dict(init_kws or {}))
    ax.plot(x_fine, _real(result.eval(None, **{name: x_fine}), parse_complex), fitfmt, label="best fit",
            **dict(fit_kws or {}))
    ax.set_title(result.model._reprstring() if title is None else title)
    ax.set_xlabel(name if xlabel is None else xlabel)
    ax.set_ylabel("y" if ylabel is None else ylabel)
    ax.legend()
    return ax


def plot_residuals(result: Any, ax: Any = None, datafmt: str = "o", yerr: Any = None,
                   data_kws: Mapping[str, Any] | None = None, fit_kws: Mapping[str, Any] | None = None,
                   ax_kws: Mapping[str, Any] | None = None, parse_complex: str = "abs",
                   title: str | None = None) -> Any:
    """Plot ``best_fit - data`` against the independent variable, with a zero line. Returns the Axes."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(**dict(ax_kws or {}))
    name, x = _x(result)
    resid = _real(result.best_fit, parse_complex) - _real(result.data, parse_complex)
    ax.axhline(0, **dict(fit_kws or {"color": "k"}))
    if yerr is None and result.weights is not None:
        yerr = 1.0 / np.asarray(result.weights)
    if yerr is not None:
        ax.errorbar(x, resid, yerr=np.abs(_real(yerr, parse_complex)), fmt=datafmt, **dict(data_kws or {}))
    else:
        ax.plot(x, resid, datafmt, **dict(data_kws or {}))
    ax.set_title(result.model._reprstring() if title is None else title)
    ax.set_ylabel("residuals")
    return ax


def plot(result: Any, datafmt: str = "o", fitfmt: str = "-", initfmt: str = "--",
         xlabel: str | None = None, ylabel: str | None = None, yerr: Any = None, numpoints: int | None = None,
         fig: Any = None, data_kws: Mapping[str, Any] | None = None, fit_kws: Mapping[str, Any] | None = None,
         init_kws: Mapping[str, Any] | None = None, ax_res_kws: Mapping[str, Any] | None = None,
         ax_fit_kws: Mapping[str, Any] | None = None, fig_kws: Mapping[str, Any] | None = None,
         show_init: bool = False, parse_complex: str = "abs", title: str | None = None) -> Any:
    """Residuals (top, small) and data with fit (bottom) in one figure. Returns the Figure."""
    plt = _pyplot()
    if fig is None:
        fig = plt.figure(**dict(fig_kws or {}))
    grid = fig.add_gridspec(2, 1, height_ratios=[1, 4])
    ax_res = fig.add_subplot(grid[0], **dict(ax_res_kws or {}))
    ax_fit = fig.add_subplot(grid[1], sharex=ax_res, **dict(ax_fit_kws or {}))
    plot_fit(result, ax=ax_fit, datafmt=datafmt, fitfmt=fitfmt, initfmt=initfmt, xlabel=xlabel, ylabel=ylabel,
             yerr=yerr, numpoints=numpoints, data_kws=data_kws, fit_kws=fit_kws, init_kws=init_kws,
             show_init=show_init, parse_complex=parse_complex, title="")
    plot_residuals(result, ax=ax_res, datafmt=datafmt, yerr=yerr, data_kws=data_kws,
                   parse_complex=parse_complex, title=title)
    return fig
