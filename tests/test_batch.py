"""fit_many: one fit per dataset, serially, on a process pool, and in chunks on any executor."""

from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing
import os
import pickle
import sys
import threading
from dataclasses import fields

import numpy as np
import pytest

import fitcore
from fitcore import EngineSpec, FitArgs, FitSnapshot, fit_many, hookimpl
from fitcore.batch import FitBatch
from fitcore.executors import TaskError, default_chunksize, map_chunked

X = np.linspace(0.0, 10.0, 60)
TRUTH = [{"amp": 3.0 + k, "tau": 1.0 + 0.25 * k, "off": 0.1 * k} for k in range(6)]
CALLS: list[int] = []


def decay(params, x, y, sigma=1.0, explode=False):
    """Exponential decay plus offset, (model - data) / sigma."""
    if explode:
        raise Picky("bad", "dataset")
    v = params
    return (v["amp"].value * np.exp(-x / v["tau"].value) + v["off"].value - y) / sigma


def counting_decay(params, x, y):
    """decay(), recording that it was called."""
    CALLS.append(1)
    return decay(params, x, y)


class Picky(Exception):
    """An exception that cannot be pickled (it holds a lock), whatever pickling support is installed."""

    def __init__(self, a, b):
        super().__init__(f"{a} {b}")
        self.lock = threading.Lock()


def explode_on_three(item):
    """Return ``item``, except raise an unpicklable exception for 3."""
    if item == 3:
        raise Picky("bad", "item")
    return item


def make_params():
    """Starting parameters shared by every fit."""
    p = fitcore.Parameters()
    p.add("amp", value=2.0, min=0)
    p.add("tau", value=2.0, min=0.05)
    p.add("off", value=0.0)
    return p


def make_datasets(seed=7):
    """One noisy dataset per entry of TRUTH, as (x, y) tuples."""
    rng = np.random.default_rng(seed)
    return [(X, t["amp"] * np.exp(-X / t["tau"]) + t["off"] + rng.normal(scale=0.02, size=X.size)) for t in TRUTH]


def mixed_datasets():
    """Good datasets with one NaN dataset and one raising an unpicklable exception among them."""
    data = make_datasets()
    bad = data[2][1].copy()
    bad[5] = np.nan
    return [data[0], data[1], (X, bad), FitArgs(X, data[3][1], explode=True), data[4], data[0]]


def assert_same(a: FitSnapshot, b: FitSnapshot) -> None:
    """Two results agree exactly, field by field (NaN equals NaN; errors by type and message; parameters by value)."""
    for f in fields(FitSnapshot):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if f.name == "params":
            for name in va:
                pa, pb = va[name], vb[name]
                assert (pa.value, pa.stderr, pa.correl) == (pb.value, pb.stderr, pb.correl), name
        elif f.name in ("covar", "residual", "samples"):
            assert (va is None and vb is None) or np.array_equal(va, vb), f.name
        elif f.name == "error":
            assert (va is None and vb is None) or (va.type, va.message) == (vb.type, vb.message), f.name
        elif isinstance(va, float) and math.isnan(va):
            assert isinstance(vb, float) and math.isnan(vb), f.name
        else:
            assert va == vb, f.name


@pytest.fixture(scope="module")
def pool():
    """A two-worker process pool, shared by the module's tests."""
    with cf.ProcessPoolExecutor(max_workers=2) as ex:
        yield ex


class Recorder(cf.Executor):
    """An executor that runs each task at once in this process and records its arguments."""

    def __init__(self, workers=2):
        self._max_workers = workers
        self.calls = []

    def submit(self, fn, /, *args, **kwargs):
        """Run ``fn`` now; return a finished future."""
        self.calls.append(args)
        fut = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            fut.set_exception(exc)
        return fut


# -- serial ---------------------------------------------------------------------------------------------------
def test_serial_fits_recover_truth_in_input_order():
    """Each fit recovers its own generating values, and results come back in input order."""
    fits = fit_many(decay, make_params(), make_datasets())
    assert isinstance(fits, FitBatch) and len(fits) == len(TRUTH)
    for k, (snap, truth) in enumerate(zip(fits, TRUTH)):
        assert snap.index == k and snap.success and snap.errorbars and snap.error is None
        for name, true in truth.items():
            assert abs(snap.values[name] - true) < 5 * snap.stderr[name], (k, name)
        assert snap.ndata == X.size and snap.nvarys == 3 and snap.nfree == X.size - 3
    assert np.allclose(fits.values("tau"), [t["tau"] for t in TRUTH], atol=0.05)


def test_snapshot_is_exactly_what_minimize_gives():
    """A batch fit gives bit-for-bit the values, stderr, correl and statistics of a lone minimize()."""
    data = make_datasets()[3]
    p = make_params()
    fit = fitcore.minimize(decay, p, args=data)
    snap = fit_many(decay, make_params(), [data])[0]
    assert snap.values == {k: v.value for k, v in p.items()}
    assert snap.stderr == {k: v.stderr for k, v in p.items()}
    assert snap.correl == {k: v.correl for k, v in p.items()}
    assert (snap.chisqr, snap.redchi, snap.aic, snap.bic, snap.nfev) == (fit.chisqr, fit.redchi, fit.aic, fit.bic,
                                                                         fit.nfev)
    assert np.array_equal(snap.covar, fit.covar) and snap.message == fit.message


def test_user_params_never_modified():
    """Every fit works on a copy: the caller's Parameters keep values, stderr, correl and bounds."""
    p = make_params()
    before = {k: (v.value, v.stderr, v.correl, v.min, v.max, v.init_value) for k, v in p.items()}
    fit_many(decay, p, mixed_datasets())
    assert {k: (v.value, v.stderr, v.correl, v.min, v.max, v.init_value) for k, v in p.items()} == before


def test_failed_fit_carries_error_and_batch_goes_on():
    """A NaN dataset and a raising one give failed snapshots with their errors; the others still fit."""
    fits = fit_many(decay, make_params(), mixed_datasets())
    assert [s.error is not None for s in fits] == [False, False, True, True, False, False]
    nan, picky = fits[2], fits[3]
    assert nan.error.type == "fitcore.errors.NonFiniteResidualError" and "not finite" in nan.error.message
    assert isinstance(nan.error.exception, fitcore.NonFiniteResidualError)
    assert picky.error.type.endswith("Picky") and picky.error.message.startswith("bad dataset")
    assert picky.error.exception is None  # it would not survive pickling; its text is kept
    assert 'raise Picky("bad"' in picky.error.traceback
    assert not nan.success and math.isnan(nan.chisqr) and nan.values == make_params().valuesdict()
    assert fits.failures == [nan, picky]
    vals = fits.values("amp")
    assert np.isnan(vals[2]) and np.isnan(vals[3]) and abs(vals[4] - TRUTH[4]["amp"]) < 0.05
    errs = fits.stderrs("amp")
    assert np.isnan(errs[2]) and errs[4] == fits[4].stderr["amp"] > 0
    assert fits.success.tolist() == [True, True, False, False, True, True]
    with pytest.raises(KeyError, match="no parameter 'ampl'.*amp, tau, off"):
        fits.values("ampl")


def test_fitargs_passes_keyword_arguments():
    """FitArgs(x, y, sigma=s) calls function(params, x, y, sigma=s): same best fit, chi-square / s**2."""
    x, y = make_datasets()[1]
    plain, scaled = fit_many(decay, make_params(), [(x, y), FitArgs(x, y, sigma=0.5)])
    assert plain.success and scaled.success
    assert np.isclose(scaled.chisqr, plain.chisqr / 0.25, rtol=1e-6)
    assert np.isclose(scaled.values["tau"], plain.values["tau"], rtol=1e-6)


@pytest.mark.parametrize("bad", [[X, X], np.zeros(60), {"x": X}], ids=["list", "array", "dict"])
def test_malformed_dataset_refused_before_any_fit(bad):
    """A dataset that is neither a tuple nor FitArgs is a TypeError before the first fit runs."""
    CALLS.clear()
    good = make_datasets()[0]
    with pytest.raises(TypeError, match="dataset 1 is a .*tuple of the residual function's positional"):
        fit_many(counting_decay, make_params(), [good, bad, good])
    assert CALLS == []


def _no_value():
    p = make_params()
    p.add("extra")
    return p


@pytest.mark.parametrize(
    ("params", "kws", "error", "match"),
    [
        (make_params, {"engine": "leastsqq"}, fitcore.EngineNotFoundError, "Did you mean 'leastsq'"),
        (make_params, {"xtoll": 1e-8}, fitcore.EngineOptionError, "no option 'xtoll'"),
        (make_params, {"nan_policy": "drop"}, ValueError, "nan_policy='drop'"),
        (_no_value, {}, fitcore.ParameterError, "'extra' has no value"),
        (make_params, {"args": (X,)}, TypeError, "arguments come from the datasets"),
        (make_params, {"callback": 3}, TypeError, "callback must be callable"),
        (make_params, {"Dfun": "jac"}, TypeError, "Dfun must be callable"),
    ],
    ids=["engine", "option", "nan_policy", "param", "args", "callback", "Dfun"],
)
def test_bad_setup_refused_once_before_any_fit(params, kws, error, match):
    """Engine, option, parameter and argument mistakes raise once, before the residual is ever called."""
    CALLS.clear()
    with pytest.raises(error, match=match):
        fit_many(counting_decay, params(), make_datasets(), **kws)
    assert CALLS == []


def test_generator_datasets_are_consumed_lazily_in_order():
    """A generator of datasets works, serially and on an executor, with callback total None."""
    seen = []
    gen = (d for d in make_datasets())
    fits = fit_many(decay, make_params(), gen, executor=Recorder(), chunksize=4,
                    callback=lambda done, total: seen.append((done, total)))
    assert [s.index for s in fits] == list(range(len(TRUTH))) and all(s.success for s in fits)
    assert seen == [(4, None), (6, None)]


def test_snapshots_survive_pickling():
    """A batch, including failed fits and their errors, round-trips through pickle unchanged."""
    fits = fit_many(decay, make_params(), mixed_datasets())
    back = pickle.loads(pickle.dumps(fits))
    assert isinstance(back, FitBatch) and len(back) == len(fits)
    for a, b in zip(fits, back):
        assert_same(a, b)


def test_result_params_and_fit_report():
    """Each result holds a filled copy of the Parameters (the template untouched); fit_report() reports it."""
    template = make_params()
    snap = fit_many(decay, template, make_datasets()[:1])[0]
    assert isinstance(snap, fitcore.FitResult) and snap.residual is None
    filled = snap.params
    assert filled["tau"].value == snap.values["tau"] and filled["tau"].stderr == snap.stderr["tau"]
    assert template["tau"].value == 2.0 and template["tau"].stderr is None
    report = fitcore.fit_report(snap)
    assert f"chi-square         = {snap.chisqr:.7g}" in report and f"{snap.values['tau']: .5f}" in report


# -- executors ------------------------------------------------------------------------------------------------
def test_process_pool_equals_serial(pool):
    """On a 2-worker process pool the snapshots equal the serial ones exactly, failures included."""
    data = mixed_datasets() * 3
    serial = fit_many(decay, make_params(), data)
    progress = []
    parallel = fit_many(decay, make_params(), data, executor=pool, chunksize=4,
                        callback=lambda done, total: progress.append((done, total)))
    assert len(parallel) == len(serial) == 18
    for a, b in zip(serial, parallel):
        assert_same(a, b)
    assert parallel[3].error.exception is None and isinstance(parallel[2].error.exception,
                                                             fitcore.NonFiniteResidualError)
    assert sorted(progress) == progress and progress[-1] == (18, 18) and len(progress) == 5


def test_identical_datasets_go_out_as_distinct_tasks():
    """Chunks of identical datasets still have distinct task arguments (a dask executor would merge equal calls)."""
    data = [make_datasets()[0]] * 12
    rec = Recorder()
    fits = fit_many(decay, make_params(), data, executor=rec, chunksize=3)
    assert len(rec.calls) == 4 and all(len(args[2]) == 3 for args in rec.calls)
    assert len({args[1] for args in rec.calls}) == 4  # the chunk's start position
    assert all(s.values == fits[0].values for s in fits) and [s.index for s in fits] == list(range(12))


def test_default_chunking_follows_batch_size_and_workers():
    """By default about 8 chunks per worker, at most 512 items each, and at least one item."""
    assert default_chunksize(2000, 2) == 125
    assert default_chunksize(10**6, 2) == 512
    assert default_chunksize(3, 4) == 1
    assert default_chunksize(None, 2) == 128
    rec = Recorder(workers=2)
    out = map_chunked(abs, range(-2000, 0), executor=rec)
    assert len(rec.calls) == 16 and out == list(range(2000, 0, -1))


def test_unpicklable_function_refused_up_front_for_process_pool(pool):
    """A lambda cannot reach process-pool workers: TypeError before any fit, saying what to do."""
    with pytest.raises(TypeError, match="Define functions at module level"):
        fit_many(lambda p, x, y: decay(p, x, y), make_params(), make_datasets(), executor=pool)


def test_task_exception_that_cannot_travel_is_reported_not_a_broken_pool(pool):
    """A task's exception that would not unpickle comes back as TaskError with its type, text and traceback."""
    with pytest.raises(TaskError, match="Picky: bad item") as info:
        map_chunked(explode_on_three, range(8), executor=pool, chunksize=2)
    assert info.value.type == "test_batch.Picky" and 'raise Picky("bad", "item")' in info.value.remote_traceback
    assert "raised by the task running items 2 to 3" in "\n".join(info.value.__notes__)
    assert map_chunked(abs, [-1, -2], executor=pool) == [1, 2]  # the pool survived


@hookimpl
def fitcore_engines():
    """A runtime-registered engine (exists only in the process that registered it)."""
    from fitcore_engine_leastsq import leastsq

    yield EngineSpec(name="local-lm", engine=leastsq, summary="leastsq registered at run time")


def test_engine_missing_on_workers_fails_once():
    """An engine the workers lack raises one error naming the fix, not one failed result per dataset."""
    fitcore.plugins.register(sys.modules[__name__], name="local_lm")
    try:
        assert fit_many(decay, make_params(), make_datasets()[:2], engine="local-lm")[0].success
        spawn = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=1, mp_context=spawn) as fresh:
            with pytest.raises(fitcore.EngineUnavailableError, match="install its plugin distribution on every worker"):
                fit_many(decay, make_params(), make_datasets(), engine="local-lm", executor=fresh, chunksize=2)
    finally:
        fitcore.plugins.unregister(sys.modules[__name__])


# -- progress -------------------------------------------------------------------------------------------------
def test_progress_bar_counts_every_fit(capsys):
    """progress=True draws a tqdm bar that reaches the number of fits."""
    fit_many(decay, make_params(), make_datasets(), progress=True)
    assert "6/6" in capsys.readouterr().err


def test_progress_without_tqdm_is_a_clear_error(monkeypatch):
    """Without tqdm, progress=True raises before any fit and names the extra to install."""
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    CALLS.clear()
    with pytest.raises(ImportError, match=r"fitcore\[progress\]"):
        fit_many(counting_decay, make_params(), make_datasets(), progress=True)
    assert CALLS == []


# -- lost work: a dying worker, an iterable that fails mid-way ---------------------------------------------
PARENT_PID = os.getpid()
MARK = -999.0


def mortal_decay(params, x, y):
    """decay(), except that a worker process fitting data marked with MARK dies on the spot (as a segfault would)."""
    if os.getpid() != PARENT_PID and np.any(y == MARK):
        os._exit(3)
    return decay(params, x, y)


def marked_datasets(n, dead):
    """``n`` datasets (TRUTH cycled), dataset ``dead`` marked to kill its worker."""
    base = make_datasets()
    out = [base[k % len(base)] for k in range(n)]
    y = out[dead][1].copy()
    y[0] = MARK
    out[dead] = (X, y)
    return out


@pytest.mark.parametrize("vectorized", [False, True], ids=["per-fit", "vectorized"])
def test_dead_worker_keeps_the_finished_fits(vectorized):
    """One worker dies (os._exit): only its chunk fails, naming it; every other fit is the serial result."""
    data = marked_datasets(30, dead=17)
    serial = fit_many(decay, make_params(), data, vectorized=vectorized)
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as ex:
        fits = fit_many(mortal_decay, make_params(), data, executor=ex, chunksize=4, vectorized=vectorized)
    assert len(fits) == 30
    dead = [k for k in range(30) if not fits.success[k]]
    assert dead == [16, 17, 18, 19]
    for k in dead:
        assert fits[k].error.type == "fitcore.batch.WorkerDiedError"
        assert "datasets 16 to 19 died" in fits[k].message
    alive = [k for k in range(30) if k not in dead]
    np.testing.assert_array_equal(fits.values("tau")[alive], serial.values("tau")[alive])
    assert math.isnan(fits.values("tau")[17])


def test_dead_worker_without_a_replacement_pool_raises_with_the_finished_fits():
    """map_chunked without on_lost: BatchInterrupted naming the chunk that died, carrying what finished."""
    from fitcore.executors import BatchInterrupted

    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as ex:
        with pytest.raises(BatchInterrupted, match="running items 8 to 11 died") as info:
            map_chunked(die_on_nine, list(range(20)), executor=ex, chunksize=4)
    done = dict(zip(info.value.starts, info.value.results))
    assert set(done) >= set(range(8)) and all(done[k] == k * k for k in done)
    assert not set(done) & {8, 9, 10, 11}


def die_on_nine(item):
    """``item ** 2``; a worker process asked for 9 dies."""
    if item == 9 and os.getpid() != PARENT_PID:
        os._exit(5)
    return item * item


def test_generator_raising_midway_carries_the_finished_fits():
    """A generator that raises after 4 datasets: BatchInterrupted with those 4 fits, the cause chained."""
    from fitcore.executors import BatchInterrupted

    def gen():
        yield from make_datasets()[:4]
        raise OSError("network file system went away")

    with pytest.raises(BatchInterrupted, match="OSError: network file system went away") as info:
        fit_many(decay, make_params(), gen())
    assert [s.index for s in info.value.results] == [0, 1, 2, 3]
    assert all(s.success for s in info.value.results)
    assert isinstance(info.value.__cause__, OSError)


def test_generator_malformed_item_fails_alone():
    """A generator yielding a list at position 3: that fit fails with the TypeError, the others are kept."""
    def gen():
        for k, d in enumerate(make_datasets()):
            yield list(d) if k == 3 else d

    fits = fit_many(decay, make_params(), gen())
    assert [s.error is not None for s in fits] == [False, False, False, True, False, False]
    assert "dataset 3 is a list" in fits[3].message
