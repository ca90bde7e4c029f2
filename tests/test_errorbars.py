"""Section 3.4: covariance, stderr, correl, when error bars cannot be estimated, and propagation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import sine_residual
from scipy.optimize import leastsq as scipy_leastsq

from fitcore import Parameters, minimize


@pytest.fixture
def line(rng):
    """x, y of a straight line with noise, and the exact least-squares answer."""
    x = np.linspace(0.0, 4.0, 41)
    y = 1.5 - 0.8 * x + rng.normal(0, 0.1, x.size)
    X = np.column_stack([np.ones_like(x), x])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    r = y - X @ beta
    chisqr = float(r @ r)
    return x, y, beta, np.linalg.inv(X.T @ X), chisqr


def _line_params():
    p = Parameters()
    p.add("a", value=0.0)
    p.add("b", value=0.0)
    return p


def _line_resid(x, y):
    return lambda p: y - (p["a"].value + p["b"].value * x)


def test_covariance_is_scaled_by_reduced_chi_square(line):
    """covar = redchi * (X^T X)^-1 for a linear model, exactly as ordinary least squares gives."""
    x, y, beta, xtx_inv, chisqr = line
    p = _line_params()
    m = minimize(_line_resid(x, y), p)
    assert [p["a"].value, p["b"].value] == pytest.approx(beta, rel=1e-8)
    assert m.redchi == pytest.approx(chisqr / (x.size - 2), rel=1e-10)
    assert np.allclose(m.covar, m.redchi * xtx_inv, rtol=1e-6, atol=0)


def test_scale_covar_false_gives_the_unscaled_covariance(line):
    """scale_covar=False: covar = (X^T X)^-1 (residual already divided by true sigmas)."""
    x, y, _, xtx_inv, _ = line
    m = minimize(_line_resid(x, y), _line_params(), scale_covar=False)
    assert np.allclose(m.covar, xtx_inv, rtol=1e-6, atol=0)


def test_stderr_is_sqrt_diag_and_correl_is_normalized_covariance(line):
    """stderr = sqrt(diag(covar)); correl[a][b] = covar_ab / (stderr_a stderr_b)."""
    x, y, _, xtx_inv, chisqr = line
    p = _line_params()
    m = minimize(_line_resid(x, y), p)
    cov = chisqr / (x.size - 2) * xtx_inv
    assert p["a"].stderr == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-6)
    assert p["b"].stderr == pytest.approx(math.sqrt(cov[1, 1]), rel=1e-6)
    rho = cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1])
    assert p["a"].correl == {"b": pytest.approx(rho, rel=1e-6)}
    assert p["b"].correl == {"a": pytest.approx(rho, rel=1e-6)}
    assert m.errorbars is True and m.errorbars_reason is None


def test_nonlinear_covariance_matches_scipy_leastsq(damped_sine):
    """The damped-sine covariance equals scipy.optimize.leastsq's cov_x * redchi."""
    x, data, _ = damped_sine
    names = ("amp", "omega", "shift", "decay")
    p = Parameters()
    for n, v in zip(names, (10, 3.05, 0.0, 0.02)):
        p.add(n, value=v)
    m = minimize(sine_residual, p, args=(x, data), xtol=1e-12, ftol=1e-12)

    def plain(v):
        a, w, s, d = v
        return data - a * np.sin(w * x + s) * np.exp(-x * x * d)

    best, cov_x, *_ = scipy_leastsq(plain, [10, 3.05, 0.0, 0.02], full_output=True, xtol=1e-12, ftol=1e-12)
    r = plain(best)
    ref = cov_x * float(r @ r) / (x.size - 4)
    assert [p[n].value for n in names] == pytest.approx(best, rel=1e-8)
    assert np.allclose(m.covar, ref, rtol=1e-4, atol=0)


def test_singular_covariance_gives_no_errorbars_with_reason(rng):
    """a*b appear only as a product: errorbars False, the reason names both, stderr stays None."""
    x = np.linspace(0, 1, 30)
    y = 3 * x + rng.normal(0, 0.01, x.size)
    p = Parameters()
    p.add("a", value=1.0)
    p.add("b", value=2.0)
    m = minimize(lambda q: y - q["a"].value * q["b"].value * x, p)
    assert m.success and p["a"].value * p["b"].value == pytest.approx(3.0, abs=0.01)
    assert m.errorbars is False and m.covar is None
    assert "singular" in m.errorbars_reason and "'a'" in m.errorbars_reason and "'b'" in m.errorbars_reason
    assert p["a"].stderr is None and p["b"].stderr is None and p["a"].correl is None


def test_parameter_with_no_effect_gives_no_errorbars_naming_it(rng):
    """A varied parameter the residual ignores: errorbars False, the reason names it."""
    x = np.linspace(0, 1, 30)
    y = 3 * x + rng.normal(0, 0.01, x.size)
    p = Parameters()
    p.add("slope", value=1.0)
    p.add("unused", value=5.0)
    m = minimize(lambda q: y - q["slope"].value * x, p)
    assert m.errorbars is False and "'unused'" in m.errorbars_reason and "no effect" in m.errorbars_reason
    assert p["slope"].value == pytest.approx(np.dot(x, y) / np.dot(x, x), rel=1e-7)


@pytest.mark.parametrize("npts", [2, 3])
def test_no_degrees_of_freedom_gives_no_errorbars(npts):
    """nfree <= 0: the fit still runs, errorbars False, the reason says nfree."""
    x = np.linspace(0, 1, npts)
    y = 1 + 2 * x + 3 * x * x
    p = Parameters()
    for n in ("c0", "c1", "c2"):
        p.add(n, value=0.5)
    m = minimize(lambda q: y - (q["c0"].value + q["c1"].value * x + q["c2"].value * x * x), p)
    assert m.nfree == npts - 3 and m.errorbars is False
    assert "nfree" in m.errorbars_reason and math.isnan(m.redchi)
    assert m.chisqr == pytest.approx(0.0, abs=1e-12)
    assert p["c0"].stderr is None


def test_expression_stderr_is_first_order_propagation(line):
    """Expression parameters get sqrt(g^T C g), with g the expression's gradient in the free parameters."""
    x, y, _, _, _ = line
    p = _line_params()
    p["a"].value, p["b"].value = 1.0, -1.0
    p.add("ratio", expr="a / b")
    p.add("root", expr="-a / b")  # where the line crosses zero
    p.add("log_a", expr="log(abs(a))")
    p.add("chained", expr="root * 2 + 1")
    m = minimize(_line_resid(x, y), p)
    a, b, C = p["a"].value, p["b"].value, m.covar
    for name, grad in {
        "ratio": [1 / b, -a / b**2],
        "root": [-1 / b, a / b**2],
        "log_a": [1 / a, 0.0],
        "chained": [-2 / b, 2 * a / b**2],
    }.items():
        g = np.array(grad)
        assert p[name].stderr == pytest.approx(math.sqrt(g @ C @ g), rel=1e-6), name
    assert p["ratio"].correl is None


def test_fixed_parameters_get_zero_stderr(line):
    """A fixed parameter gets stderr 0 (known exactly) and takes no part in the covariance."""
    x, y, _, _, _ = line
    p = _line_params()
    p.add("offset", value=0.0, vary=False)
    m = minimize(_line_resid(x, y), p)
    assert p["offset"].stderr == 0.0 and p["offset"].correl is None
    assert m.covar.shape == (2, 2) and "offset" not in p["a"].correl


def test_stderr_scales_with_noise(rng):
    """Doubling the noise doubles the stderr (scaling by redchi is what makes them honest)."""
    x = np.linspace(0, 1, 200)
    base = rng.normal(0, 1, x.size)
    errs = []
    for sigma in (0.05, 0.1):
        y = 2.0 + 1.0 * x + sigma * base
        p = _line_params()
        minimize(_line_resid(x, y), p)
        errs.append(p["b"].stderr)
    assert errs[1] == pytest.approx(2 * errs[0], rel=1e-6)


def test_exact_fit_has_zero_error_bars_and_defined_correlations():
    """Noise-free data: chi-square 0 gives stderr 0 (not 'no error bars'), correl as without scaling."""
    x = np.linspace(0, 10, 50)
    y = 3.0 * np.exp(-x / 2.0)
    def resid(q):
        return q["a"].value * np.exp(-x / q["t"].value) - y

    p = Parameters()
    p.add("a", value=3.0)  # starting at the truth: the residual is exactly zero
    p.add("t", value=2.0)
    m = minimize(resid, p)
    assert m.success and m.chisqr == 0.0
    assert m.errorbars is True and m.errorbars_reason is None
    assert p["a"].stderr == 0.0 and p["t"].stderr == 0.0
    q = Parameters()
    q.add("a", value=2.0)
    q.add("t", value=1.5)
    minimize(resid, q, xtol=1e-12, ftol=1e-12, scale_covar=False)
    assert p["a"].correl["t"] == pytest.approx(q["a"].correl["t"], rel=1e-6)
    assert q["a"].stderr > 1e-3
