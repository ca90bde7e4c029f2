"""Plots of confidence regions and profile traces (matplotlib: ``pip install 'fitcore[plot]'``).

* :func:`conf_interval2d` computes :func:`fitcore.conf_interval2d` and draws its
  probability contours with the best fit marked; :func:`contour_ci2d` draws a
  grid you already have.
* :func:`profile_traces` draws each parameter's profile (probability against
  the fixed value) from the ``trace`` of :func:`fitcore.conf_interval`, with
  the limits when ``ci`` is given.
* :func:`trace_scatter` is the manual's scatter of a profile trace: the fixed
  parameter against a refitted one, coloured by probability.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .minimizer import Minimizer

__all__ = ["conf_interval2d", "contour_ci2d", "profile_traces", "trace_scatter"]

#: default contour levels: 1, 2 and 3 sigma
SIGMA_LEVELS = (0.6827, 0.9545, 0.9973)


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("fitcore.plot needs matplotlib: pip install 'fitcore[plot]'") from None
    return plt


def contour_ci2d(x: np.ndarray, y: np.ndarray, grid: np.ndarray, best: tuple[float, float] | None = None,
                 x_name: str = "", y_name: str = "", ax: Axes | None = None,
                 levels: Sequence[float] = SIGMA_LEVELS, filled: bool = True) -> Axes:
    """Draw a probability grid from :func:`fitcore.conf_interval2d`.

    Parameters
    ----------
    x, y, grid : ndarray
        As returned by ``conf_interval2d`` (``grid`` has shape ``(len(y), len(x))``).
    best : (float, float), optional
        The best fit, marked with a cross.
    x_name, y_name : str
        Axis labels.
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).
    levels : sequence of float, default 1, 2 and 3 sigma
        Probabilities of the contour lines.
    filled : bool, default True
        Also fill the probability in ten bands with a colour bar, as the manual's figure.

    Returns
    -------
    matplotlib.axes.Axes
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots()
    grid = np.asarray(grid, dtype=float)
    if grid.shape != (len(y), len(x)):
        raise ValueError(f"grid has shape {grid.shape}; expected (len(y), len(x)) = ({len(y)}, {len(x)})")
    if filled:
        filled_set = ax.contourf(x, y, grid, np.linspace(0, 1, 11), cmap="viridis_r")
        ax.figure.colorbar(filled_set, ax=ax, label="probability")
    lines = ax.contour(x, y, grid, sorted(levels), colors="k", linewidths=1)
    ax.clabel(lines, fmt=lambda v: f"{v:.1%}", fontsize=8)
    if best is not None:
        ax.plot([best[0]], [best[1]], "r+", markersize=12, markeredgewidth=2, label="best fit")
        ax.legend(loc="best")
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    return ax


def conf_interval2d(minimizer: Minimizer, x_name: str, y_name: str, nx: int = 10, ny: int = 10,
                    limits: Any = None, prob_func: str | Callable[[Any, Any], float] | None = None, *,
                    ax: Axes | None = None, levels: Sequence[float] = SIGMA_LEVELS, filled: bool = True,
                    executor: Executor | None = None, progress: Any = False) -> Axes:
    """Compute :func:`fitcore.conf_interval2d` and draw it with the best fit marked.

    The arguments are those of :func:`fitcore.conf_interval2d` and :func:`contour_ci2d`.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from .confidence import conf_interval2d as compute

    _pyplot()  # fail before the refits when matplotlib is missing
    x, y, grid = compute(minimizer, x_name, y_name, nx, ny, limits, prob_func, executor=executor,
                         progress=progress)
    best = (minimizer.params[x_name].value, minimizer.params[y_name].value)
    return contour_ci2d(x, y, grid, (float(best[0] or 0.0), float(best[1] or 0.0)), x_name, y_name, ax=ax,
                        levels=levels, filled=filled)


def profile_traces(trace: Mapping[str, Mapping[str, np.ndarray]], p_names: Sequence[str] | None = None,
                   ci: Mapping[str, Sequence[tuple[float, float]]] | None = None) -> Figure:
    """Draw each parameter's profile: probability against the fixed value.

    Parameters
    ----------
    trace : dict
        The trace of ``conf_interval(..., trace=True)``.
    p_names : sequence of str, optional
        Parameters to draw (default: all in ``trace``).
    ci : dict, optional
        The intervals: each limit is drawn as a dashed line at its probability.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per parameter, x labelled with its name, y with "probability".
    """
    plt = _pyplot()
    names = list(trace) if p_names is None else list(p_names)
    missing = [n for n in names if n not in trace]
    if missing:
        raise KeyError(f"no trace for {', '.join(map(repr, missing))}; traced: {', '.join(trace)}")
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3), squeeze=False)
    for ax, name in zip(axes[0], names):
        tr = trace[name]
        ax.plot(tr[name], tr["prob"], "o-", markersize=3)
        if ci is not None and name in ci:
            for prob, value in ci[name]:
                if prob > 0 and np.isfinite(value):
                    ax.plot([value, value], [0, prob], "k--", linewidth=0.8)
        ax.set_xlabel(name)
        ax.set_ylabel("probability")
        ax.set_ylim(0, 1)
    fig.tight_layout()
    return fig


def trace_scatter(trace: Mapping[str, Mapping[str, np.ndarray]], x_name: str, y_name: str,
                  ax: Axes | None = None) -> Axes:
    """The manual's plot of profile traces: ``x`` fixed vs refitted ``y`` (and the reverse), coloured by probability.

    Returns
    -------
    matplotlib.axes.Axes
    """
    plt = _pyplot()
    if x_name not in trace and y_name not in trace:
        raise KeyError(f"no trace for {x_name!r} or {y_name!r}; traced: {', '.join(trace)}")
    if ax is None:
        _, ax = plt.subplots()
    points = None
    if x_name in trace:
        tr = trace[x_name]
        points = ax.scatter(tr[x_name], tr[y_name], c=tr["prob"], s=30, vmin=0, vmax=1, marker="o",
                            label=f"{x_name} fixed")
    if y_name in trace:
        tr = trace[y_name]
        points = ax.scatter(tr[x_name], tr[y_name], c=tr["prob"], s=30, vmin=0, vmax=1, marker="s",
                            label=f"{y_name} fixed")
    if points is not None:
        ax.figure.colorbar(points, ax=ax, label="probability")
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    ax.legend(loc="best")
    return ax
