"""fit_many on a dask.distributed LocalCluster (2 worker processes; conftest's session-wide dask_client)."""

from __future__ import annotations

import pytest
from test_batch import assert_same, decay, make_params, mixed_datasets

from fitcore import fit_many
from fitcore.executors import map_chunked

distributed = pytest.importorskip("distributed", reason="dask[distributed] is in the test extra")


def test_dask_executor_equals_serial(dask_client):
    """On a 2-worker dask cluster the snapshots equal the serial ones exactly, failures included."""
    data = mixed_datasets() * 3
    serial = fit_many(decay, make_params(), data)
    progress = []
    parallel = fit_many(decay, make_params(), data, executor=dask_client.get_executor(), chunksize=4,
                        callback=lambda done, total: progress.append((done, total)))
    assert len(parallel) == len(serial) == 18
    for a, b in zip(serial, parallel):
        assert_same(a, b)
    failed = [s.error is not None for s in serial]
    assert [s.error is not None for s in parallel] == failed and sum(failed) == 6
    assert progress[-1] == (18, 18) and len(progress) == 5


def test_identical_chunks_run_as_separate_tasks(dask_client):
    """Even on a pure=True executor, which merges equal calls, identical chunks each run as their own task."""
    with distributed.get_task_stream(dask_client) as stream:
        out = map_chunked(abs, [-1.5] * 40, executor=dask_client.get_executor(pure=True), chunksize=4)
    assert out == [1.5] * 40
    assert len(stream.data) == 10


def test_vectorized_chunks_on_dask_equal_serial(dask_client):
    """A vectorized fit_many sends whole chunks to the cluster; the arrays equal the serial ones exactly."""
    from test_batch_vectorized import gauss, make_datasets
    from test_batch_vectorized import make_params as gauss_params

    data = make_datasets(30)
    serial = fit_many(gauss, gauss_params(), data, vectorized=True)
    parallel = fit_many(gauss, gauss_params(), data, vectorized=True, executor=dask_client.get_executor(), chunksize=8)
    for name in ("values", "stderr", "covar", "chisqr", "nfev", "success"):
        assert (getattr(parallel.arrays, name) == getattr(serial.arrays, name)).all(), name
