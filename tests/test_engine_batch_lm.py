"""The batch_lm engine through the batched engine contract: a BatchProblem in, a BatchEngineResult out."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import leastsq

import fitcore
from fitcore import BatchEngineResult, BatchProblem
from fitcore.errors import EngineOptionError

T = np.linspace(0.0, 4.0, 30)


def engine():
    """The installed batch_lm engine callable, found through the plugin registry."""
    return fitcore.plugins.get_engine("batch_lm").load()


class Counted:
    """A batch of exponential decays ``a * exp(-t / tau) + c - y`` as a BatchProblem, counting evaluations."""

    def __init__(self, ys, x0, analytic=False, max_nfev=None, poison=()):
        self.ys = np.asarray(ys, dtype=float)
        n = len(self.ys)
        self.nfev = np.zeros(n, dtype=np.int64)
        self.calls: list[np.ndarray] = []
        self.poison = set(poison)
        inf = np.full((n, 3), np.inf)
        self.problem = BatchProblem(
            x0=np.tile(np.asarray(x0, dtype=float), (n, 1)), lower=-inf, upper=inf.copy(), names=("a", "tau", "c"),
            residual=self.residual, jacobian=self.jacobian, ndata=T.size, has_analytic_jacobian=analytic,
            max_nfev=max_nfev, _counter=lambda: self.nfev)
        self.analytic = analytic

    def residual(self, x, fits):
        self.nfev[fits] += 1
        self.calls.append(np.array(fits))
        a, tau, c = x[:, 0:1], x[:, 1:2], x[:, 2:3]
        r = a * np.exp(-T / tau) + c - self.ys[fits]
        for k, fit in enumerate(fits.tolist()):
            if fit in self.poison:
                r[k] = np.nan
        return r

    def jacobian(self, x, fits, r=None):
        if not self.analytic:
            if r is None:
                r = self.residual(x, fits)
            jac = np.empty((len(fits), T.size, 3))
            for j in range(3):
                h = 1.49e-8 * np.where(x[:, j] == 0, 1.0, np.abs(x[:, j]))
                xj = x.copy()
                xj[:, j] += h
                jac[:, :, j] = (self.residual(xj, fits) - r) / h[:, None]
            return jac
        a, tau = x[:, 0:1], x[:, 1:2]
        e = np.exp(-T / tau)
        return np.stack([e, a * e * T / tau ** 2, np.ones_like(e)], axis=-1)


def decays(n=12, seed=0, noise=0.01):
    """Noisy decays with varied truths."""
    rng = np.random.default_rng(seed)
    truth = np.column_stack([rng.uniform(1, 5, n), rng.uniform(0.3, 2.0, n), rng.uniform(-1, 1, n)])
    ys = truth[:, 0:1] * np.exp(-T / truth[:, 1:2]) + truth[:, 2:3] + rng.normal(0, noise, (n, T.size))
    return truth, ys


def test_registered_as_a_batched_engine():
    """batch_lm comes from its own distribution's entry point and declares batched=True."""
    info = fitcore.plugins.get_engine("batch_lm")
    assert info.spec.batched and info.distribution == "fitcore-engine-batch-lm"
    assert [e.name for e in fitcore.list_engines(batched=True)] == ["batch_lm"]
    assert "batch_lm" not in [e.name for e in fitcore.list_engines(batched=False)]


@pytest.mark.parametrize("analytic", [False, True])
def test_each_fit_matches_minpack(analytic):
    """Every fit of the batch ends where scipy's MINPACK leastsq ends on that fit alone."""
    _, ys = decays()
    batch = Counted(ys, [1.0, 1.0, 0.0], analytic=analytic)
    out = engine()(batch.problem, ftol=1.49012e-8, xtol=1.49012e-8)
    assert isinstance(out, BatchEngineResult)
    assert out.success.all() and set(out.status.tolist()) <= {1, 2, 3, 4}
    np.testing.assert_array_equal(out.nfev, batch.nfev)
    for i, y in enumerate(ys):
        def f(v, y=y):
            return v[0] * np.exp(-T / v[1]) + v[2] - y

        ref = leastsq(f, [1.0, 1.0, 0.0], ftol=1.49012e-8, xtol=1.49012e-8)[0]
        np.testing.assert_allclose(out.x[i], ref, rtol=1e-6, atol=1e-9)


def test_linear_parameters_at_their_least_squares_solution():
    """Given the fitted tau, a and c are exactly the linear least-squares solution."""
    rng = np.random.default_rng(1)
    ys = 2.0 * np.exp(-T / 1.0) + 0.5 + rng.normal(0, 0.05, (5, T.size))
    batch = Counted(ys, [1.0, 1.0, 0.0], analytic=True)
    out = engine()(batch.problem)
    for i, y in enumerate(ys):
        design = np.column_stack([np.exp(-T / out.x[i, 1]), np.ones_like(T)])
        coef = np.linalg.lstsq(design, y, rcond=None)[0]
        np.testing.assert_allclose(out.x[i, [0, 2]], coef, rtol=1e-7)


def test_converged_fits_leave_the_active_set():
    """A fit that starts at its answer stops early and is never evaluated again while the others go on."""
    truth, ys = decays(4, noise=0.0)
    start = truth[0]
    batch = Counted(ys, start, analytic=True)
    out = engine()(batch.problem)
    assert out.success.all()
    last_eval_of_0 = max(k for k, fits in enumerate(batch.calls) if 0 in fits)
    assert last_eval_of_0 < len(batch.calls) - 1
    assert batch.nfev[0] < batch.nfev[1:].min()


def test_non_finite_fit_stops_alone():
    """A fit whose residual is NaN gets status -1; the others converge as they would without it."""
    _, ys = decays(6)
    clean = engine()(Counted(ys, [1.0, 1.0, 0.0]).problem)
    batch = Counted(ys, [1.0, 1.0, 0.0], poison={2})
    out = engine()(batch.problem)
    assert out.status[2] == -1 and not out.success[2]
    assert batch.nfev[2] == 1
    keep = [0, 1, 3, 4, 5]
    np.testing.assert_array_equal(out.x[keep], clean.x[keep])


def test_budget_is_per_fit_and_never_exceeded():
    """max_nfev bounds every fit's evaluations; fits stopped by it say so (status 5, aborted)."""
    _, ys = decays(5)
    batch = Counted(ys, [1.0, 1.0, 0.0], max_nfev=9)
    out = engine()(batch.problem)
    assert (batch.nfev <= 9).all()
    assert (out.status == 5).all() and out.aborted.all() and not out.success.any()


def test_rank_deficient_fits_take_the_eigen_path():
    """A parameter the residual does not depend on: the fit still reaches the minimum of the others."""
    _, ys = decays(3)

    class Flat(Counted):
        def residual(self, x, fits):
            x = x.copy()
            x[:, 2] = 0.25  # c is ignored
            return super().residual(x, fits)

    batch = Flat(ys, [1.0, 1.0, 0.0])
    out = engine()(batch.problem)
    assert np.isfinite(out.x).all()
    for i, y in enumerate(ys):
        ref = leastsq(lambda v, y=y: v[0] * np.exp(-T / v[1]) + 0.25 - y, [1.0, 1.0])[0]
        np.testing.assert_allclose(out.x[i, :2], ref, rtol=1e-5)


def test_rank_deficient_fits_among_regular_ones_each_reach_their_minimum():
    """Fit 1 ignores c (singular Gram matrix), fits 0 and 2 do not: each still matches leastsq."""
    _, ys = decays(3)

    class OneFlat(Counted):
        def residual(self, x, fits):
            x = x.copy()
            x[fits == 1, 2] = 0.25
            return super().residual(x, fits)

    out = engine()(OneFlat(ys, [1.0, 1.0, 0.0]).problem)
    assert out.success.all()
    ref = leastsq(lambda v: v[0] * np.exp(-T / v[1]) + 0.25 - ys[1], [1.0, 1.0])[0]
    np.testing.assert_allclose(out.x[1, :2], ref, rtol=1e-5)
    for i in (0, 2):
        ref = leastsq(lambda v, y=ys[i]: v[0] * np.exp(-T / v[1]) + v[2] - y, [1.0, 1.0, 0.0])[0]
        np.testing.assert_allclose(out.x[i], ref, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"ftol": -1}, "ftol=-1"),
        ({"xtol": "1e-8"}, "xtol='1e-8' must be a number"),
        ({"factor": 0}, "factor=0"),
        ({"maxfev": 2.5}, "maxfev=2.5"),
        ({"diag": [1.0, 2.0]}, "diag must hold 3 finite positive numbers"),
    ],
)
def test_option_values_refused_before_evaluation(options, match):
    """The precheck refuses bad option values, through fit_many, before the residual runs."""
    calls = []

    def residual(p, t, y):
        calls.append(1)
        return p["a"].value * np.exp(-t / p["tau"].value) + p["c"].value - y

    p = fitcore.Parameters()
    p.add("a", value=1.0)
    p.add("tau", value=1.0)
    p.add("c", value=0.0)
    _, ys = decays(2)
    with pytest.raises(EngineOptionError, match=match):
        fitcore.fit_many(residual, p, [(T, y) for y in ys], vectorized=True, **options)
    assert calls == []


def test_given_diag_is_used():
    """A user diag (MINPACK mode 2) still converges to the same answers."""
    _, ys = decays(4)
    default = engine()(Counted(ys, [1.0, 1.0, 0.0]).problem)
    scaled = engine()(Counted(ys, [1.0, 1.0, 0.0]).problem, diag=[1.0, 3.0, 1.0])
    assert scaled.success.all()
    np.testing.assert_allclose(scaled.x, default.x, rtol=1e-5, atol=1e-8)


def test_refuses_a_single_fit_problem():
    """Handed a per-fit Problem, the engine says it is batched and what to use."""
    with pytest.raises(TypeError, match="batched engine.*vectorized=True"):
        engine()(object())
