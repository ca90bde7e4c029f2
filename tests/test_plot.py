"""fitcore.plot: confidence-region contours and profile traces, drawn headless (Agg)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt

import fitcore
import fitcore.plot

X = np.linspace(0.3, 10, 100)
Y = 3 * np.exp(-X / 2) - 5 * np.exp(-X / 10) + 0.2 * np.random.default_rng(0).normal(size=X.size)


def residual(p):
    """Two-exponential residual."""
    return p["a1"].value * np.exp(-X / p["t1"].value) + p["a2"].value * np.exp(-X / p["t2"].value) - Y


@pytest.fixture(scope="module")
def fit():
    """The manual's two-exponential fit."""
    p = fitcore.Parameters()
    p.add_many(("a1", 4), ("t1", 3), ("a2", -4), ("t2", 8))
    return fitcore.minimize(residual, p)


@pytest.fixture(autouse=True)
def close_figures():
    """Close every figure after each test."""
    yield
    plt.close("all")


def test_conf_interval2d_contour_with_best_fit_marked(fit):
    """The contour plot has the parameter names on its axes, a colour bar, and the best fit marked."""
    ax = fitcore.plot.conf_interval2d(fit, "a1", "t2", 5, 4)
    assert ax.get_xlabel() == "a1" and ax.get_ylabel() == "t2"
    assert len(ax.figure.axes) == 2  # the plot and its colour bar
    (marker,) = [line for line in ax.get_lines() if line.get_label() == "best fit"]
    assert marker.get_xdata()[0] == fit.params["a1"].value
    assert marker.get_ydata()[0] == fit.params["t2"].value
    x0, x1 = ax.get_xlim()
    a1 = fit.params["a1"]
    assert x0 == pytest.approx(a1.value - 5 * a1.stderr) and x1 == pytest.approx(a1.value + 5 * a1.stderr)


def test_contour_rejects_a_transposed_grid():
    """A grid whose shape is not (len(y), len(x)) is refused with the expected shape."""
    with pytest.raises(ValueError, match=r"expected \(len\(y\), len\(x\)\) = \(2, 3\)"):
        fitcore.plot.contour_ci2d(np.arange(3.0), np.arange(2.0), np.zeros((3, 2)))


def test_profile_traces_one_axes_per_parameter(fit):
    """profile_traces draws probability against each parameter, with dashed lines at the limits."""
    ci, trace = fitcore.conf_interval(fit, p_names=["a1", "t2"], sigmas=(0.68, 0.95), trace=True)
    fig = fitcore.plot.profile_traces(trace, ci=ci)
    assert [ax.get_xlabel() for ax in fig.axes] == ["a1", "t2"]
    assert all(ax.get_ylabel() == "probability" for ax in fig.axes)
    profile, *limits = fig.axes[0].get_lines()
    np.testing.assert_array_equal(profile.get_xdata(), trace["a1"]["a1"])
    assert len(limits) == 4 and limits[0].get_xdata()[0] == ci["a1"][0][1]
    with pytest.raises(KeyError, match="no trace for 'a2'"):
        fitcore.plot.profile_traces(trace, ["a2"])


def test_trace_scatter_is_the_manuals_figure(fit):
    """trace_scatter plots both traces of a pair, coloured by probability, with labelled axes."""
    _, trace = fitcore.conf_interval(fit, p_names=["a1", "t2"], sigmas=(0.68,), trace=True)
    ax = fitcore.plot.trace_scatter(trace, "a1", "t2")
    assert ax.get_xlabel() == "a1" and ax.get_ylabel() == "t2"
    first, second = ax.collections
    np.testing.assert_array_equal(first.get_offsets()[:, 0], trace["a1"]["a1"])
    np.testing.assert_array_equal(second.get_offsets()[:, 1], trace["t2"]["t2"])
    np.testing.assert_array_equal(first.get_array(), trace["a1"]["prob"])


def test_missing_matplotlib_says_how_to_install(fit, monkeypatch):
    """Without matplotlib the plot functions raise ImportError naming the extra, before any refit."""
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"fitcore\[plot\]"):
        fitcore.plot.conf_interval2d(fit, "a1", "t2")
