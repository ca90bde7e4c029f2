"""conf_interval / conf_interval2d on executors: identical to the serial run; progress reporting."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import fitcore

X = np.linspace(0.3, 10, 100)
Y = 3 * np.exp(-X / 2) - 5 * np.exp(-X / 10) + 0.2 * np.random.default_rng(0).normal(size=X.size)


def residual(p):
    """Two-exponential residual (module level, so workers can import it)."""
    return p["a1"].value * np.exp(-X / p["t1"].value) + p["a2"].value * np.exp(-X / p["t2"].value) - Y


def fit():
    """The manual's two-exponential fit."""
    p = fitcore.Parameters()
    p.add_many(("a1", 4), ("t1", 3), ("a2", -4), ("t2", 8))
    return fitcore.minimize(residual, p)


@pytest.fixture(scope="module")
def serial():
    """Serial reference results."""
    mi = fit()
    ci, trace = fitcore.conf_interval(mi, sigmas=(1, 2), trace=True)
    grid = fitcore.conf_interval2d(mi, "a1", "t2", 4, 3)
    return mi, ci, trace, grid


def check_same(mi, serial, executor, **kws):
    """conf_interval and conf_interval2d on ``executor`` equal the serial results exactly."""
    _, ci, trace, (x, y, grid) = serial
    ci_p, trace_p = fitcore.conf_interval(mi, sigmas=(1, 2), trace=True, executor=executor, **kws)
    assert ci_p == ci
    assert trace_p.keys() == trace.keys()
    for name in trace:
        for key in trace[name]:
            np.testing.assert_array_equal(trace_p[name][key], trace[name][key])
    xp, yp, gp = fitcore.conf_interval2d(mi, "a1", "t2", 4, 3, executor=executor, **kws)
    np.testing.assert_array_equal(xp, x)
    np.testing.assert_array_equal(yp, y)
    np.testing.assert_array_equal(gp, grid)


def test_process_pool_equals_serial_with_progress_callback(serial):
    """A ProcessPoolExecutor gives the serial numbers; the progress callback counts every profile."""
    mi = serial[0]
    seen = []
    with ProcessPoolExecutor(max_workers=2) as pool:
        check_same(mi, serial, pool, chunksize=3, progress=lambda done, total: seen.append((done, total)))
    profiles, rows = seen[:3], seen[3:]
    assert [t for _, t in profiles] == [8, 8, 8] and profiles[-1][0] == 8  # 8 profiles in chunks of 3
    assert rows == [(3, 3)]  # 3 grid rows, one chunk


@pytest.mark.slow
def test_dask_local_cluster_equals_serial(serial, dask_client):
    """A dask.distributed LocalCluster with two worker processes gives the serial numbers."""
    check_same(serial[0], serial, dask_client.get_executor())


def test_progress_bar_with_tqdm(serial, capsys):
    """progress=True draws a tqdm bar that reaches the number of profiles."""
    pytest.importorskip("tqdm")
    fitcore.conf_interval(serial[0], p_names=["a1"], sigmas=(1,), progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err


def test_bad_progress_and_chunksize_are_errors(serial):
    """A progress that is neither bool nor callable, or a bad chunksize, raises a clear error."""
    mi = serial[0]
    with pytest.raises(TypeError, match="progress must be"):
        fitcore.conf_interval(mi, p_names="a1", progress="yes")
    with ProcessPoolExecutor(max_workers=1) as pool, pytest.raises(ValueError, match="chunksize=0"):
        fitcore.conf_interval(mi, p_names="a1", executor=pool, chunksize=0)
