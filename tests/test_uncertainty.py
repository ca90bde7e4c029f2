"""Error bars: stderr, correl and propagation against independent computations; bounds; polish."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import leastsq

import fitcore
from fitcore import uncertainty


def _cov_analytic(jac: np.ndarray, resid: np.ndarray) -> np.ndarray:
    """Covariance scaled by the residual variance, by SVD of an analytic Jacobian."""
    _, s, vt = np.linalg.svd(jac, full_matrices=False)
    return (vt.T / s**2) @ vt * (resid @ resid) / (jac.shape[0] - jac.shape[1])


# -- a linear model: the covariance is known in closed form -----------------------------------
def _line_fit(rng, **kws):
    """Fit y = a + b*x (40 noisy points); return the fit, its Parameters, the design matrix and y."""
    x = np.linspace(0.0, 10.0, 40)
    y = 1.5 + 0.7 * x + rng.normal(scale=0.3, size=x.size)
    p = fitcore.Parameters()
    p.add("a", value=0.0)
    p.add("b", value=1.0)
    fit = fitcore.minimize(lambda q: y - q["a"].value - q["b"].value * x, p, **kws)
    return fit, p, np.column_stack([np.ones_like(x), x]), y


def test_linear_model_stderr_equals_closed_form(rng):
    """For y = a + b*x the stderr are sqrt(diag((X^T X)^-1) * s^2), to 1e-6."""
    fit, p, design, y = _line_fit(rng)
    x = design[:, 1]
    coef, rss, *_ = np.linalg.lstsq(design, y, rcond=None)
    cov = np.linalg.inv(design.T @ design) * rss[0] / (x.size - 2)
    assert [p["a"].value, p["b"].value] == pytest.approx(coef, rel=1e-9)
    assert [p["a"].stderr, p["b"].stderr] == pytest.approx(np.sqrt(np.diag(cov)), rel=1e-6)
    assert p["a"].correl["b"] == pytest.approx(cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]), rel=1e-6)
    assert fit.covar == pytest.approx(cov, rel=1e-6)


def test_stderr_scales_with_the_data_down_to_tiny_magnitudes(rng):
    """Data and parameters of order 1e-150 (squared differences near 1e-316): stderr and correl
    scale with the data and equal the closed form to 1e-6."""
    tiny = 1.0e-150
    x = np.linspace(0.0, 10.0, 40)
    y = (1.5 + 0.7 * x + rng.normal(scale=0.3, size=x.size)) * tiny
    p = fitcore.Parameters()
    p.add("a", value=0.1 * tiny)
    p.add("b", value=1.0 * tiny)
    fit = fitcore.minimize(lambda q: y - q["a"].value - q["b"].value * x, p)
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, y / tiny, rcond=None)
    rss = float(np.sum((y / tiny - design @ coef) ** 2))
    cov = np.linalg.inv(design.T @ design) * rss / (x.size - 2)
    assert fit.errorbars, fit.errorbars_reason
    assert [p["a"].value / tiny, p["b"].value / tiny] == pytest.approx(coef, rel=1e-8)  # MINPACK stops near 1e-9
    assert [p["a"].stderr / tiny, p["b"].stderr / tiny] == pytest.approx(np.sqrt(np.diag(cov)), rel=1e-6)
    assert p["a"].correl["b"] == pytest.approx(cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]), rel=1e-6)


def test_stderr_scales_with_the_data_up_to_huge_magnitudes(rng):
    """Data of order 1e150 (squared residuals near 1e300): stderr equal the closed form times the scale."""
    huge = 1.0e150
    x = np.linspace(0.0, 10.0, 40)
    y = (1.5 + 0.7 * x + rng.normal(scale=0.3, size=x.size)) * huge
    p = fitcore.Parameters()
    p.add("a", value=0.1 * huge)
    p.add("b", value=1.0 * huge)
    fit = fitcore.minimize(lambda q: y - q["a"].value - q["b"].value * x, p)
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, y / huge, rcond=None)
    rss = float(np.sum((y / huge - design @ coef) ** 2))
    cov = np.linalg.inv(design.T @ design) * rss / (x.size - 2)
    assert fit.errorbars, fit.errorbars_reason
    assert [p["a"].stderr / huge, p["b"].stderr / huge] == pytest.approx(np.sqrt(np.diag(cov)), rel=1e-6)


# -- the damped sine with an analytic Jacobian -----------------------------------------------
def _sine_jacobian(b, x):
    amp, decay, shift, omega = b
    s, c, e = np.sin(x * omega + shift), np.cos(x * omega + shift), np.exp(-x * x * decay)
    return -np.column_stack([s * e, -amp * s * e * x * x, amp * c * e, amp * c * e * x])


def test_leastsq_stderr_matches_analytic_jacobian(damped_sine):
    """stderr and correl agree to 1e-6 with (J^T J)^-1 s^2 from the analytic Jacobian at the solution."""
    x, data, truth = damped_sine
    p = fitcore.Parameters()
    for name, v in (("amp", 10.0), ("decay", 0.02), ("shift", 0.0), ("omega", 3.05)):
        p.add(name, value=v)
    names = ["amp", "decay", "shift", "omega"]

    def resid(q):
        amp, decay, shift, omega = (q[n].value for n in names)
        return data - amp * np.sin(x * omega + shift) * np.exp(-x * x * decay)

    fit = fitcore.minimize(resid, p)
    best = np.array([p[n].value for n in names])
    ref, *_ = leastsq(lambda b: resid({n: type("V", (), {"value": v}) for n, v in zip(names, b)}),
                      best, xtol=1e-14, ftol=1e-14)
    assert best == pytest.approx(ref, rel=1e-8)  # at the minimum, to the engine's accuracy and beyond
    cov = _cov_analytic(_sine_jacobian(best, x), fit.residual)
    assert [p[n].stderr for n in names] == pytest.approx(np.sqrt(np.diag(cov)), rel=1e-6)
    corr = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    for i, a in enumerate(names):
        for k, b in enumerate(names):
            if i != k:
                assert p[a].correl[b] == pytest.approx(corr[i, k], rel=1e-5, abs=1e-8)
    for name, true in truth.items():  # and the truth is inside the error bars
        assert abs(p[name].value - true) < 4 * p[name].stderr


def test_ill_conditioned_fit_uses_accurate_jacobian(rng):
    """Two close exponentials (condition > 100): stderr still agree to 1e-6 with the analytic Jacobian."""
    x = np.linspace(0.0, 5.0, 60)
    y = 2.0 * np.exp(-1.0 * x) + 1.0 * np.exp(-1.6 * x) + rng.normal(scale=1e-3, size=x.size)
    names = ["a", "b", "c", "d"]
    p = fitcore.Parameters()
    for n, v in zip(names, (1.5, 0.8, 1.5, 2.0)):
        p.add(n, value=v)

    def model(b):
        return b[0] * np.exp(-b[1] * x) + b[2] * np.exp(-b[3] * x)

    fit = fitcore.minimize(lambda q: y - model([q[n].value for n in names]), p)
    assert fit.success and fit.errorbars
    b = np.array([p[n].value for n in names])
    jac = -np.column_stack([np.exp(-b[1] * x), -b[0] * x * np.exp(-b[1] * x),
                            np.exp(-b[3] * x), -b[2] * x * np.exp(-b[3] * x)])
    assert uncertainty.condition(jac) > uncertainty.REFINE_CONDITION
    cov = _cov_analytic(jac, fit.residual)
    assert [p[n].stderr for n in names] == pytest.approx(np.sqrt(np.diag(cov)), rel=1e-6)


def test_expression_stderr_is_propagated():
    """decay = omega**2/900 gets stderr 2*omega/900 * stderr(omega), to 1e-6."""
    x = np.linspace(0.0, 15.0, 300)
    data = 14.0 * np.sin(3.0 * x + 0.2) * np.exp(-x * x * 0.01) + np.random.default_rng(3).normal(0, 0.2, x.size)
    p = fitcore.Parameters()
    p.add("amp", value=10.0, min=0.0)
    p.add("shift", value=0.0, min=-np.pi / 2, max=np.pi / 2)
    p.add("omega", value=3.05)
    p.add("decay", expr="omega**2/900")

    def resid(q):
        return data - q["amp"].value * np.sin(x * q["omega"].value + q["shift"].value) * np.exp(
            -x * x * q["decay"].value)

    fit = fitcore.minimize(resid, p)
    assert fit.errorbars
    om = p["omega"]
    assert p["decay"].stderr == pytest.approx(2 * om.value / 900 * om.stderr, rel=1e-6)


def test_chained_expression_stderr_uses_the_full_covariance(rng):
    """d = c + 2*b with c = a*b (an expression of an expression), in a fit with a third parameter
    no expression reads: stderr(d)^2 = g^T C g with g = (b, a + 2, 0), to 1e-6."""
    x = np.linspace(0.0, 10.0, 60)
    y = 1.5 + 0.7 * x + 0.2 * np.sin(x) + rng.normal(scale=0.3, size=x.size)
    p = fitcore.Parameters()
    p.add("a", value=1.0)
    p.add("b", value=1.0)
    p.add("s", value=0.0)
    p.add("c", expr="a*b")
    p.add("d", expr="c + 2*b")
    fit = fitcore.minimize(lambda q: y - q["a"].value - q["b"].value * x - q["s"].value * np.sin(x), p)
    assert fit.errorbars and fit.var_names == ["a", "b", "s"]
    a, b = p["a"].value, p["b"].value
    g = np.array([b, a + 2.0, 0.0])
    assert p["d"].stderr == pytest.approx(np.sqrt(g @ fit.covar @ g), rel=1e-6)
    gc = np.array([b, a, 0.0])
    assert p["c"].stderr == pytest.approx(np.sqrt(gc @ fit.covar @ gc), rel=1e-6)


# -- bounds: the error bar does not collapse near or at a bound (issue 2) ----------------------
def _decay_fit(rng_seed: int, start: float = 1.2, **bounds_t):
    x = np.linspace(0.0, 6.0, 80)
    y = 3.0 * np.exp(-x / 1.7) + np.random.default_rng(rng_seed).normal(scale=0.05, size=x.size)
    p = fitcore.Parameters()
    p.add("a", value=2.5)
    p.add("t", value=start, **bounds_t)
    fit = fitcore.minimize(lambda q: y - q["a"].value * np.exp(-x / q["t"].value), p)
    return fit, p


@pytest.mark.parametrize("where", ["near", "at", "pinned"])
@pytest.mark.parametrize("kind", ["max", "both", "min"])
def test_stderr_near_or_at_bound_matches_unbounded(where, kind):
    """Near, at, or pinned past a bound, stderr stays within 10% of the same fit without the bound."""
    free, pf = _decay_fit(11)
    t, s = pf["t"].value, pf["t"].stderr
    edge = {"near": t + 0.05 * s, "at": t, "pinned": t - 0.5 * s}[where]
    if kind == "min":
        edge = 2 * t - edge  # mirror: the lower bound sits at/above the optimum
        bounds = {"min": edge}
    elif kind == "max":
        bounds = {"max": edge}
    else:
        bounds = {"min": 0.5, "max": edge}
    fit, pb = _decay_fit(11, start=2.5 if kind == "min" else 1.2, **bounds)
    assert fit.errorbars, fit.errorbars_reason
    assert pb["t"].stderr == pytest.approx(s, rel=0.10)
    assert pb["a"].stderr == pytest.approx(pf["a"].stderr, rel=0.10)
    lo, hi = bounds.get("min", -np.inf), bounds.get("max", np.inf)
    assert lo <= pb["t"].value <= hi


# -- polish --------------------------------------------------------------------------------------
def test_loose_engine_answer_is_polished_to_the_minimum(damped_sine):
    """With xtol=ftol=1e-3 the engine stops early; the Gauss-Newton polish reaches the true minimum."""
    x, data, _ = damped_sine
    names = ["amp", "decay", "shift", "omega"]

    def resid(q):
        amp, decay, shift, omega = (q[n].value for n in names)
        return data - amp * np.sin(x * omega + shift) * np.exp(-x * x * decay)

    def params():
        p = fitcore.Parameters()
        for n, v in zip(names, (10.0, 0.02, 0.0, 3.05)):
            p.add(n, value=v)
        return p

    p = params()
    fit = fitcore.minimize(resid, p, xtol=1e-3, ftol=1e-3)
    tight = params()
    ref = fitcore.minimize(resid, tight, xtol=1e-12, ftol=1e-12)
    assert fit.polished >= 1 and fit.success
    assert fit.chisqr <= ref.chisqr * (1 + 1e-12)
    loose = params()
    engine_only = fitcore.minimize(resid, loose, xtol=1e-3, ftol=1e-3, max_nfev=10_000)
    for n in names:  # the polished answer is the minimum to a millionth of a standard error
        assert abs(p[n].value - tight[n].value) < 1e-6 * tight[n].stderr, n
        assert p[n].stderr == pytest.approx(tight[n].stderr, rel=1e-7)
    assert fit.residual @ fit.residual == pytest.approx(fit.chisqr, rel=1e-12)
    assert engine_only.chisqr >= fit.chisqr


def test_failed_fit_is_not_polished(damped_sine):
    """A fit that ran out of evaluations keeps the engine's answer (no polish) and is not a success."""
    x, data, _ = damped_sine
    p = fitcore.Parameters()
    for n, v in zip(["amp", "decay", "shift", "omega"], (10.0, 0.02, 0.0, 3.05)):
        p.add(n, value=v)

    def resid(q):
        return data - q["amp"].value * np.sin(x * q["omega"].value + q["shift"].value) * np.exp(
            -x * x * q["decay"].value)

    fit = fitcore.minimize(resid, p, maxfev=8)
    assert not fit.success and fit.polished == 0


def test_singular_covariance_is_explained(rng):
    """a*b*x cannot separate a and b: no error bars, and the reason names them."""
    x = np.linspace(0, 1, 20)
    y = 2.0 * x + rng.normal(scale=0.01, size=x.size)
    p = fitcore.Parameters()
    p.add("a", value=1.0)
    p.add("b", value=1.5)
    fit = fitcore.minimize(lambda q: y - q["a"].value * q["b"].value * x, p)
    assert not fit.errorbars
    assert "'a'" in fit.errorbars_reason and "'b'" in fit.errorbars_reason
    assert p["a"].stderr is None and p["b"].stderr is None


def test_no_degrees_of_freedom_gives_no_error_bars():
    """Two points, two parameters: nfree = 0, errorbars False with the reason."""
    x = np.array([0.0, 1.0])
    y = np.array([1.0, 3.0])
    p = fitcore.Parameters()
    p.add("a", value=0.0)
    p.add("b", value=0.0)
    fit = fitcore.minimize(lambda q: y - q["a"].value - q["b"].value * x, p)
    assert not fit.errorbars and "nfree = 0" in fit.errorbars_reason
    assert p["a"].value == pytest.approx(1.0) and p["b"].value == pytest.approx(2.0)


def test_scale_covar_false_uses_unscaled_covariance(rng):
    """scale_covar=False: covariance is (J^T J)^-1, independent of the residual size."""
    fit, _, design, _ = _line_fit(rng, scale_covar=False)
    assert fit.covar == pytest.approx(np.linalg.inv(design.T @ design), rel=1e-6)


def test_a_difference_step_that_underflows_gives_no_error_bars_and_says_why():
    """At a value of 5e-324, sqrt(eps) * |v| underflows to a zero step: the column is not finite, so no
    error bars, with the parameter named (not a ZeroDivisionError)."""
    x = np.linspace(-1.0, 1.0, 12)

    def evaluate(v):
        return v[0] + v[1] * x - x

    v = np.array([5e-324, 1.0])
    eb = uncertainty.least_squares_errorbars(evaluate, v, evaluate(v), ["c", "d"], [0.0, -np.inf], [1.0, np.inf],
                                             nfree=10, scale_covar=True, polish=False)
    assert eb.covar is None
    assert "not finite" in eb.reason and "'c'" in eb.reason


def test_a_well_converged_fit_pays_only_forward_differences(damped_sine):
    """Converged to tight tolerances, nothing is polished: at most one evaluation per parameter."""
    x, data, _ = damped_sine
    p = fitcore.Parameters()
    for n, v in zip(["amp", "decay", "shift", "omega"], (10.0, 0.02, 0.0, 3.05)):
        p.add(n, value=v)

    def resid(q):
        return data - q["amp"].value * np.sin(x * q["omega"].value + q["shift"].value) * np.exp(
            -x * x * q["decay"].value)

    fit = fitcore.minimize(resid, p, xtol=1e-12, ftol=1e-12)
    assert fit.success and fit.errorbars and fit.polished == 0 and fit.nfev_errorbars <= 4


def test_errorbars_never_evaluate_outside_the_bounds():
    """At a bound the differences step inwards: the model, undefined past the bound, is never called there."""
    x = np.linspace(0.0, 4.0, 30)
    y = 2.0 * np.sqrt(x) + 0.5 + np.random.default_rng(5).normal(scale=0.05, size=x.size)

    def evaluate(v):
        assert v[1] >= 0.0, v  # sqrt of a negative would be NaN
        return v[0] * np.sqrt(x + v[1]) + 0.5 - y

    v = np.array([2.0, 0.0])
    for polish in (False, True):
        eb = uncertainty.least_squares_errorbars(evaluate, v, evaluate(v), ["a", "s"], [-np.inf, 0.0],
                                                 [np.inf, np.inf], nfree=28, scale_covar=True, polish=polish)
        assert eb.covar is not None and eb.nfev >= 2


def test_covariance_from_samples_is_their_spread():
    """Posterior samples: medians, half the 68 % width, the samples' covariance and correlation."""
    rng = np.random.default_rng(7)
    cov = np.array([[4.0, 1.2], [1.2, 1.0]])
    samples = rng.multivariate_normal([10.0, -3.0], cov, size=200_000)
    eb = uncertainty.errorbars_from_samples(samples, ["a", "b"])
    assert eb.v == pytest.approx([10.0, -3.0], abs=0.02)
    assert [eb.stderr["a"], eb.stderr["b"]] == pytest.approx([2.0, 1.0], rel=0.01)
    assert eb.correl["a"]["b"] == pytest.approx(0.6, abs=0.01)
    np.testing.assert_allclose(eb.covar, cov, rtol=0.02, atol=0.02)


def test_covariance_given_by_an_engine_gives_stderr_and_correl():
    """A covariance handed over: stderr its roots, correl normalized; a negative variance is refused, saying so."""
    eb = uncertainty.errorbars_from_covariance(np.array([[4.0, -1.0], [-1.0, 1.0]]), ["a", "b"])
    assert eb.stderr == {"a": 2.0, "b": 1.0} and eb.correl == {"a": {"b": -0.5}, "b": {"a": -0.5}}
    bad = uncertainty.errorbars_from_covariance(np.array([[-4.0, 0.0], [0.0, 1.0]]), ["a", "b"])
    assert bad.covar is None and "non-positive" in bad.reason


def test_propagate_is_the_delta_method():
    """stderr of f(a, b) = a * exp(b) is sqrt(g^T C g) with the analytic gradient."""
    cov = np.array([[0.04, 0.01], [0.01, 0.09]])
    v = np.array([2.0, 0.5])
    out = uncertainty.propagate(lambda w: {"f": w[0] * np.exp(w[1]), "g": 3.0 * w[0]}, v, cov, ["a", "b"])
    g = np.array([np.exp(0.5), 2.0 * np.exp(0.5)])
    assert out["f"] == pytest.approx(np.sqrt(g @ cov @ g), rel=1e-8)
    assert out["g"] == pytest.approx(3.0 * 0.2, rel=1e-8)


# -- cost fits: the numerical Hessian against MINUIT's HESSE ----------------------------------------
def test_cost_errorbars_match_iminuit_hesse_on_a_poisson_likelihood():
    """A Poisson negative log-likelihood of a peak on a background: errors within 1e-3 of HESSE's."""
    iminuit = pytest.importorskip("iminuit")
    from scipy.special import gammaln

    rng = np.random.default_rng(11)
    x = np.linspace(-5.0, 5.0, 40)

    def mu(b):
        return b[0] * np.exp(-0.5 * ((x - b[1]) / b[2]) ** 2) + b[3]

    counts = rng.poisson(mu([40.0, 0.3, 1.1, 5.0]))

    def nll(b):
        m = mu(b)
        return float(np.sum(m - counts * np.log(m) + gammaln(counts + 1.0)))

    m = iminuit.Minuit(lambda a, c, s, k: nll([a, c, s, k]), a=30.0, c=0.0, s=1.0, k=4.0)
    m.errordef = iminuit.Minuit.LIKELIHOOD
    m.strategy = 2
    m.migrad()
    m.hesse()
    assert m.valid
    v = np.array(m.values)
    names = ["a", "c", "s", "k"]
    eb = uncertainty.cost_errorbars(nll, v, names, np.full(4, -np.inf), np.full(4, np.inf), errordef=0.5)
    assert eb.covar is not None, eb.reason
    assert [eb.stderr[n] for n in names] == pytest.approx(list(m.errors), rel=1e-3)
    np.testing.assert_allclose(eb.covar, np.array(m.covariance), rtol=2e-3, atol=1e-6)
    assert eb.correl["a"]["s"] == pytest.approx(m.covariance.correlation()["a", "s"], abs=1e-3)
    assert eb.nfev == 1 + 4 * 4 + 2 * 4 * 3  # the documented cost: 1 + 4n + 2n(n - 1)


def test_cost_errorbars_at_a_bound_stay_inside_and_match_the_unbounded():
    """A minimum exactly at a bound: the Hessian is taken inwards, and equals the quadratic's own."""
    def quadratic(v):
        return float((v[0] - 1.0) ** 2 / 0.04 + (v[1] - 2.0) ** 2 / 0.25 + (v[0] - 1.0) * (v[1] - 2.0) / 0.1)

    def bounded_cost(v):
        assert v[0] >= 1.0, v  # never evaluated past the bound
        return quadratic(v)

    v = np.array([1.0, 2.0])
    free = uncertainty.cost_errorbars(quadratic, v, ["a", "b"], [-np.inf, -np.inf], [np.inf, np.inf], errordef=1.0)
    bounded = uncertainty.cost_errorbars(bounded_cost, v, ["a", "b"], [1.0, -np.inf], [np.inf, np.inf],
                                         errordef=1.0)
    hess = np.array([[2 / 0.04, 1 / 0.1], [1 / 0.1, 2 / 0.25]])
    assert bounded.covar is not None and free.covar is not None
    np.testing.assert_allclose(free.covar, 2.0 * np.linalg.inv(hess), rtol=1e-6)
    np.testing.assert_allclose(bounded.covar, free.covar, rtol=1e-5)


def test_cost_errorbars_refuse_a_saddle_and_say_why():
    """A saddle point is not a minimum: no error bars, with the reason."""
    eb = uncertainty.cost_errorbars(lambda w: float(w[0] ** 2 - w[1] ** 2 + 0.1 * w[0] * w[1]), np.zeros(2),
                                    ["a", "b"], [-np.inf] * 2, [np.inf] * 2, errordef=0.5)
    assert eb.covar is None and "'b'" in eb.reason and "not a minimum" in eb.reason


def test_central_gradient_is_accurate_and_stays_inside_the_bounds():
    """The cost gradient for scalar engines: central inside, one-sided at a bound, to about eps**(2/3)."""
    from fitcore.differences import central_gradient

    def cost(w):
        assert w[1] >= 0.5, w
        return float(np.exp(w[0]) + w[1] ** 3 + w[0] * w[1])

    x = np.array([0.3, 0.5])  # the second coordinate sits on its lower bound
    grad = central_gradient(cost, x, [-np.inf, 0.5], [np.inf, np.inf])
    assert grad == pytest.approx([np.exp(0.3) + 0.5, 3 * 0.25 + 0.3], rel=1e-8)
