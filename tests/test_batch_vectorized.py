"""fit_many(vectorized=True): a chunk of fits as arrays, against per-fit fits on the same data."""

from __future__ import annotations

import concurrent.futures as cf
import math

import numpy as np
import pytest
from scipy.optimize import leastsq

import fitcore
from fitcore import FitArgs, fit_many
from fitcore.errors import EngineCapabilityError, EngineOptionError, NonFiniteResidualError, ResidualError
from fitcore.executors import BatchInterrupted

X = np.linspace(-5.0, 5.0, 64)
NAMES = ("amp", "cen", "wid", "bkg")
CALLS: list[int] = []


def gauss(p, x, y):
    """Gaussian on a background minus data, written with numpy broadcasting."""
    amp, cen, wid, bkg = p["amp"].value, p["cen"].value, p["wid"].value, p["bkg"].value
    return amp * np.exp(-((x - cen) ** 2) / (2.0 * wid * wid)) + bkg - y


def gauss_jac(p, x, y):
    """d gauss / d (amp, cen, wid, bkg), the points along axis -2."""
    amp, cen, wid = p["amp"].value, p["cen"].value, p["wid"].value
    d = x - cen
    g = np.exp(-(d * d) / (2.0 * wid * wid))
    ag = amp * g
    return np.stack(np.broadcast_arrays(g, ag * d / wid ** 2, ag * d * d / wid ** 3, np.ones_like(g)), axis=-1)


def counting_gauss(p, x, y):
    """gauss(), recording each call."""
    CALLS.append(1)
    return gauss(p, x, y)


def scalar_gauss(p, x, y):
    """Correct for one fit, but not vectorized: math.exp needs a scalar."""
    return p["amp"].value * np.array([math.exp(-((xi - float(p["cen"])) ** 2) / 2.0) for xi in x]) - y


def mixing_gauss(p, x, y):
    """Broadcasts, but subtracts the batch mean of the background: the fits leak into each other."""
    bkg = p["bkg"].value
    return gauss(p, x, y) - bkg + np.mean(bkg)


def picky_gauss(p, x, y):
    """Raises when the data holds the marker value 999 (as a model raising for one dataset's data)."""
    if np.any(y == 999.0):
        raise ValueError("cannot model a dataset holding 999")
    return gauss(p, x, y)


def make_params():
    """Unbounded starting values shared by every fit."""
    p = fitcore.Parameters()
    for name, value in zip(NAMES, (10.0, 0.0, 1.0, 1.0)):
        p.add(name, value=value)
    return p


def make_datasets(n=24, seed=3):
    """Noisy Gaussians on a background, as (x, y) tuples."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        amp, cen, wid, bkg = rng.uniform(5, 15), rng.uniform(-1, 1), rng.uniform(0.6, 1.5), rng.uniform(0, 2)
        out.append((X, amp * np.exp(-((X - cen) ** 2) / (2 * wid ** 2)) + bkg + rng.normal(0, 0.3, X.size)))
    return out


class _Plain(dict):
    pass


class _V:
    def __init__(self, value):
        self.value = value


def scipy_fit(data, analytic=False):
    """Per-fit scipy.optimize.leastsq: (values, chisqr, stderr)."""
    def wrap(v):
        return _Plain({k: _V(float(x)) for k, x in zip(NAMES, v)})

    sol, cov, info, _, ier = leastsq(lambda v: gauss(wrap(v), *data), [10.0, 0.0, 1.0, 1.0], full_output=True,
                                     Dfun=(lambda v: gauss_jac(wrap(v), *data)) if analytic else None,
                                     ftol=1.49012e-8, xtol=1.49012e-8)
    assert ier in (1, 2, 3, 4)
    chi = float(info["fvec"] @ info["fvec"])
    return sol, chi, np.sqrt(np.diag(cov) * chi / (X.size - 4))


@pytest.mark.parametrize("analytic", [False, True], ids=["forward-differences", "Dfun"])
def test_values_chisqr_stderr_match_per_fit_leastsq(analytic):
    """Every fit agrees with scipy's leastsq on the same data: chi-square 1e-6, stderr 1e-4, values 1e-6.

    Values agree within 1e-6 relative, or within 1e-5 of their standard error for a value near zero
    (both fitters stop at xtol relative to the norm of all values, not of each one).
    """
    data = make_datasets()
    kws = {"Dfun": gauss_jac} if analytic else {}
    fits = fit_many(gauss, make_params(), data, vectorized=True, ftol=1.49012e-8, xtol=1.49012e-8, **kws)
    assert fits.success.all()
    for i, d in enumerate(data):
        values, chi, stderr = scipy_fit(d, analytic)
        got = [fits.values(k)[i] for k in NAMES]
        assert np.all(np.abs(np.subtract(got, values)) <= 1e-6 * np.abs(values) + 1e-5 * stderr)
        assert fits.chisqr[i] == pytest.approx(chi, rel=1e-6)
        np.testing.assert_allclose([fits.stderrs(k)[i] for k in NAMES], stderr, rtol=1e-4)


def test_same_answers_as_per_fit_fit_many_with_bounds_and_expressions():
    """Bounds (MINUIT transform) and a constraint expression, evaluated on the arrays, fit as the per-fit path does."""
    p = make_params()
    p["wid"].set(min=0.2, max=3.0)
    p["amp"].set(min=0.0)
    p.add("fwhm", expr="2.3548200 * wid")
    data = make_datasets(10)
    vec = fit_many(gauss, p, data, vectorized=True)
    one = fit_many(gauss, p, data)
    assert vec.success.all() and one.success.all()
    for k in (*NAMES, "fwhm"):
        np.testing.assert_allclose(vec.values(k), one.values(k), rtol=1e-5)
        np.testing.assert_allclose(vec.stderrs(k), one.stderrs(k), rtol=1e-3)
    np.testing.assert_allclose(vec.values("fwhm"), 2.35482 * vec.values("wid"), rtol=1e-12)


def test_fits_are_per_fit_results_built_on_request():
    """fits[i] is that fit's result: values, stderr, correl, statistics, the same as the arrays say."""
    data = make_datasets(6)
    fits = fit_many(gauss, make_params(), data, vectorized=True)
    assert len(fits) == 6
    r = fits[4]
    assert r.index == 4 and r.success and r.error is None
    assert r.values["cen"] == fits.values("cen")[4]
    assert r.stderr["wid"] == pytest.approx(fits.stderrs("wid")[4])
    assert r.chisqr == fits.chisqr[4] and r.nvarys == 4 and r.ndata == 64 and r.nfree == 60
    assert r.redchi == pytest.approx(r.chisqr / 60)
    assert r.correl["amp"]["wid"] == pytest.approx(fits.correl[4, 0, 2])
    assert fits[-1].index == 5
    np.testing.assert_allclose(r.covar, fits.covar[4])
    with pytest.raises(IndexError):
        fits[6]
    assert isinstance(r, fitcore.FitResult)
    assert r.params["wid"].value == fits.values("wid")[4] and r.params["wid"].stderr == r.stderr["wid"]
    report = fitcore.fit_report(r)
    assert "amp" in report and f"{r.chisqr:.7g}" in report


def test_unequal_dataset_shapes_refused_before_any_evaluation():
    """Datasets of different shapes: a ValueError naming the dataset, before the residual runs."""
    data = make_datasets(5)
    data[3] = (X[:50], data[3][1][:50])
    CALLS.clear()
    with pytest.raises(ValueError, match=r"dataset 3: argument 0 has shape \(50,\), the first dataset's has "
                                         r"shape \(64,\).*vectorized=False"):
        fit_many(counting_gauss, make_params(), data, vectorized=True)
    assert CALLS == []


@pytest.mark.parametrize(
    ("function", "match"),
    [
        (scalar_gauss, "raised TypeError.*numpy broadcasting"),
        (mixing_gauss, "does not broadcast.*mixes the fits"),
    ],
    ids=["scalar-only", "mixes-fits"],
)
def test_function_that_does_not_broadcast_is_refused_clearly(function, match):
    """A residual that cannot take columns, or that mixes the fits, is refused before fitting, saying why."""
    with pytest.raises(ResidualError, match=match):
        fit_many(function, make_params(), make_datasets(4), vectorized=True)


def test_wrong_shape_dfun_is_refused():
    """A Dfun returning one fit's Jacobian is refused with the shape it must have."""
    def per_fit_jac(p, x, y):
        return np.ones((x.shape[-1], 4))

    with pytest.raises(ResidualError, match=r"Dfun returned shape \(64, 4\) for 2 fits; expected \(2, 64, 4\)"):
        fit_many(gauss, make_params(), make_datasets(4), vectorized=True, Dfun=per_fit_jac)


def test_one_non_finite_dataset_fails_alone():
    """NaN in one dataset fails that fit only; the others are what they would be without it."""
    data = make_datasets(8)
    bad = data[5][1].copy()
    bad[10] = np.nan
    mixed = data[:5] + [(X, bad)] + data[6:]
    fits = fit_many(gauss, make_params(), mixed, vectorized=True)
    clean = fit_many(gauss, make_params(), data, vectorized=True)
    assert fits.success.tolist() == [True] * 5 + [False] + [True] * 2
    failed = fits[5]
    assert failed.error is not None and "NonFiniteResidualError" in failed.error.type
    assert isinstance(failed.error.exception, NonFiniteResidualError)
    assert math.isnan(fits.values("amp")[5]) and math.isnan(failed.chisqr)
    keep = [0, 1, 2, 3, 4, 6, 7]
    np.testing.assert_array_equal(fits.values("amp")[keep], clean.values("amp")[keep])
    assert [f.index for f in fits.failures] == [5]


def test_dataset_whose_model_raises_fails_alone():
    """The residual raising for one dataset's data (the whole batched call raises) fails only that fit."""
    data = make_datasets(6)
    y = data[4][1].copy()
    y[0] = 999.0
    mixed = data[:4] + [(X, y)] + data[5:]
    fits = fit_many(picky_gauss, make_params(), mixed, vectorized=True)
    assert fits.success.tolist() == [True, True, True, True, False, True]
    assert "cannot model a dataset holding 999" in fits[4].message
    ref = fit_many(gauss, make_params(), data, vectorized=True)
    np.testing.assert_array_equal(fits.values("wid")[[0, 1, 2, 3, 5]], ref.values("wid")[[0, 1, 2, 3, 5]])


def test_max_nfev_counts_per_fit():
    """max_nfev bounds each fit's evaluations; fits stopped by it are aborted, not successful."""
    fits = fit_many(gauss, make_params(), make_datasets(6), vectorized=True, max_nfev=12)
    assert (fits.nfev <= 12).all()
    assert not fits.success.any()
    assert all(f.aborted for f in fits)
    full = fit_many(gauss, make_params(), make_datasets(6), vectorized=True)
    assert (full.nfev > 12).all() and full.success.all()


@pytest.mark.parametrize(
    ("kws", "error", "match"),
    [
        ({"engine": "leastsq"}, EngineCapabilityError, "fits one problem at a time.*batch_lm"),
        ({"iter_cb": print}, EngineOptionError, "iter_cb is not supported"),
        ({"nan_policy": "omit"}, EngineOptionError, "nan_policy='omit' is not supported"),
        ({"ftol": -1.0}, EngineOptionError, "ftol=-1.0"),
        ({"bogus": 1}, EngineOptionError, "no option 'bogus'.*ftol"),
        ({"max_nfev": 0}, EngineOptionError, "max_nfev=0"),
    ],
)
def test_bad_setup_refused_before_any_evaluation(kws, error, match):
    """Wrong engine, unsupported or invalid options: refused before the residual runs."""
    CALLS.clear()
    with pytest.raises(error, match=match):
        fit_many(counting_gauss, make_params(), make_datasets(3), vectorized=True, **kws)
    assert CALLS == []


def test_batched_engine_refused_for_one_fit_at_a_time():
    """engine='batch_lm' without vectorized=True says how to use it."""
    with pytest.raises(EngineCapabilityError, match="batched engine.*vectorized=True"):
        fit_many(gauss, make_params(), make_datasets(2), engine="batch_lm")


def test_keyword_and_scalar_arguments_are_stacked():
    """FitArgs keywords are stacked too; a number per dataset becomes a column like the parameters."""
    def weighted(p, x, y, sigma=1.0):
        return gauss(p, x, y) / sigma

    data = make_datasets(4)
    fits = fit_many(weighted, make_params(), [FitArgs(x, y, sigma=0.5 + k) for k, (x, y) in enumerate(data)],
                    vectorized=True)
    plain = fit_many(gauss, make_params(), data, vectorized=True)
    np.testing.assert_allclose(fits.chisqr * (0.5 + np.arange(4)) ** 2, plain.chisqr, rtol=1e-8)


def test_two_dimensional_data_gets_parameter_blocks():
    """9x9 images: each parameter is an (n_fits, 1, 1) array and the residual is one image per fit."""
    shapes = set()

    def spot(p, xx, yy, z):
        shapes.add(np.shape(p["s"].value))
        a, x0, y0, s = p["a"].value, p["x0"].value, p["y0"].value, p["s"].value
        return a * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * s * s)) - z

    yy, xx = np.mgrid[0:9, 0:9].astype(float)
    truth = [(50.0, 4.2, 3.9, 1.3), (80.0, 3.5, 4.4, 1.1), (30.0, 4.0, 4.0, 1.6)]
    data = [(xx, yy, a * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * s * s))) for a, x0, y0, s in truth]
    p = fitcore.Parameters()
    for name, v in zip(("a", "x0", "y0", "s"), (40.0, 4.0, 4.0, 1.2)):
        p.add(name, value=v)
    fits = fit_many(spot, p, data, vectorized=True)
    assert fits.success.all() and fits[0].ndata == 81
    assert (3, 1, 1) in shapes and (1, 9, 9) not in shapes
    np.testing.assert_allclose(fits.values("x0"), [t[1] for t in truth], rtol=1e-7)


def test_generator_with_a_malformed_item_fails_that_item_alone():
    """A generator's malformed item (a list) fails its own fit; the fits before and after are kept."""
    data = make_datasets(7)

    def gen():
        for k, d in enumerate(data):
            yield list(d) if k == 5 else d

    fits = fit_many(gauss, make_params(), gen(), vectorized=True, chunksize=3)
    assert fits.success.tolist() == [True] * 5 + [False, True]
    assert "dataset 5 is a list" in fits[5].message


def test_generator_raising_midway_carries_the_finished_fits():
    """A generator that raises: BatchInterrupted, with every fit finished before it."""
    data = make_datasets(9)

    def gen():
        yield from data[:7]
        raise OSError("disk gone")

    with pytest.raises(BatchInterrupted, match="OSError: disk gone") as info:
        fit_many(gauss, make_params(), gen(), vectorized=True, chunksize=3)
    done = info.value.results
    assert len(done) == 6 and done.success.all()  # chunks 0-2 and 3-5 finished; 6 was in the unfinished chunk
    assert isinstance(info.value.__cause__, OSError)


@pytest.fixture(scope="module")
def pool():
    with cf.ProcessPoolExecutor(2) as ex:
        yield ex


def test_process_pool_equals_serial(pool):
    """Chunks on a process pool give exactly the serial arrays."""
    data = make_datasets(40)
    serial = fit_many(gauss, make_params(), data, vectorized=True, chunksize=7)
    parallel = fit_many(gauss, make_params(), data, vectorized=True, chunksize=7, executor=pool)
    for name in ("values", "stderr", "chisqr", "nfev", "success"):
        np.testing.assert_array_equal(getattr(parallel.arrays, name), getattr(serial.arrays, name))


def test_chunking_does_not_change_results():
    """Chunks of 5 give exactly the arrays of the default chunk: every fit depends on its own data only."""
    data = make_datasets(23)
    whole = fit_many(gauss, make_params(), data, vectorized=True)
    pieces = fit_many(gauss, make_params(), data, vectorized=True, chunksize=5)
    for name in ("values", "stderr", "covar", "chisqr", "nfev", "success"):
        np.testing.assert_array_equal(getattr(pieces.arrays, name), getattr(whole.arrays, name))


def ignoring_gauss(p, x, y):
    """The Gaussian with an extra parameter ``unused`` that the residual ignores."""
    return gauss(p, x, y) + 0.0 * p["unused"].value


def test_parameter_the_residual_ignores_gets_no_error_bars_and_says_why():
    """A singular Jacobian at the answer: values kept, no stderr, the reason names the parameter."""
    params = make_params()
    params.add("unused", value=1.0)
    fits = fit_many(ignoring_gauss, params, make_datasets(4), vectorized=True)
    assert not fits.arrays.errorbars.any()
    assert np.isnan(fits.stderrs("amp")).all()
    assert all("unused" in reason for reason in fits.arrays.errorbars_reason)
    reference = fit_many(gauss, make_params(), make_datasets(4), vectorized=True)
    np.testing.assert_allclose(fits.chisqr, reference.chisqr, rtol=1e-6)


def test_nearly_collinear_parameters_get_no_error_bars():
    """Two parameters that enter only as their sum: the scaled Gram matrix is singular to rounding."""
    def split_background(p, x, y):
        return gauss(p, x, y) + p["bkg2"].value

    params = make_params()
    params.add("bkg2", value=0.5)
    fits = fit_many(split_background, params, make_datasets(4), vectorized=True)
    assert not fits.arrays.errorbars.any()
    assert all("singular" in reason for reason in fits.arrays.errorbars_reason)


@pytest.mark.parametrize("datasets", [[], iter([])], ids=["list", "generator"])
def test_empty_batch_gives_empty_results_as_per_fit_fit_many(datasets):
    """No datasets: an empty batch (as fit_many without vectorized), after the same validation."""
    assert len(fit_many(gauss, make_params(), [])) == 0
    fits = fit_many(gauss, make_params(), datasets, vectorized=True)
    assert len(fits) == 0
    assert fits.success.shape == (0,) and fits.values("amp").shape == (0,)
    assert list(fits) == []


def test_empty_batch_still_refuses_a_bad_option():
    with pytest.raises(EngineOptionError, match="has no option 'maxiter'"):
        fit_many(gauss, make_params(), [], vectorized=True, maxiter=3)


_BUFFERS: dict = {}


def buffered_gauss(p, x, y):
    """The Gaussian written into one buffer per shape, returned every call (a legitimate way to save allocations)."""
    out = gauss(p, x, y)
    buf = _BUFFERS.setdefault(out.shape, np.empty(out.shape))
    buf[...] = out
    return buf


def test_residual_returning_one_reused_buffer_gives_the_same_fits_and_error_bars():
    data = make_datasets(6)
    plain = fit_many(gauss, make_params(), data, vectorized=True)
    reused = fit_many(buffered_gauss, make_params(), data, vectorized=True)
    np.testing.assert_array_equal(reused.arrays.values, plain.arrays.values)
    np.testing.assert_array_equal(reused.arrays.stderr, plain.arrays.stderr)
