"""Lineshapes: values against scipy.stats where a distribution exists, known points elsewhere, and lmfit 1.3."""

import importlib.util
import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from fitcore import lineshapes as ls

X = np.linspace(-6.0, 9.0, 301)


def test_peaks_match_scipy_stats():
    a, c, s = 2.5, 0.7, 1.3
    np.testing.assert_allclose(ls.gaussian(X, a, c, s), a * stats.norm.pdf(X, c, s), rtol=1e-12)
    np.testing.assert_allclose(ls.lorentzian(X, a, c, s), a * stats.cauchy.pdf(X, c, s), rtol=1e-12)
    np.testing.assert_allclose(ls.voigt(X, a, c, s, 0.4), a * special.voigt_profile(X - c, s, 0.4), rtol=1e-10)
    np.testing.assert_allclose(ls.students_t(X, a, c, 3.0), a * stats.t.pdf(X, 3.0, c), rtol=1e-12)
    g = 0.8
    np.testing.assert_allclose(ls.expgaussian(X, a, c, s, g), a * stats.exponnorm.pdf(X, 1 / (s * g), c, s),
                               rtol=1e-9)
    np.testing.assert_allclose(ls.skewed_gaussian(X, a, c, s, -2.0), a * stats.skewnorm.pdf(X, -2.0, c, s),
                               rtol=1e-10)
    xp = np.linspace(0.05, 9, 200)
    np.testing.assert_allclose(ls.lognormal(xp, a, 0.3, 0.6), a * stats.lognorm.pdf(xp, 0.6, scale=math.exp(0.3)),
                               rtol=1e-12)
    m = 2.5  # Pearson VII with exponent m is Student's t with 2m-1 degrees of freedom, rescaled
    nu = 2 * m - 1
    np.testing.assert_allclose(ls.pearson7(X, a, c, s, m), a * stats.t.pdf(X, nu, c, s / math.sqrt(nu)), rtol=1e-10)
    np.testing.assert_allclose(ls.pearson4(X, a, c, s, m, 0.0), ls.pearson7(X, a, c, s, m), rtol=1e-10)


def test_steps_match_distribution_functions():
    a, c, s = 3.0, 1.0, 0.7
    u = (X - c) / s
    np.testing.assert_allclose(ls.step(X, a, c, s, "erf"), a * stats.norm.cdf(math.sqrt(2) * u), rtol=1e-12,
                               atol=1e-300)
    np.testing.assert_allclose(ls.step(X, a, c, s, "logistic"), a * stats.logistic.cdf(u), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ls.step(X, a, c, s, "atan"), a * stats.cauchy.cdf(u), rtol=1e-12)
    np.testing.assert_allclose(ls.step(X, a, c, s, "linear"), a * np.clip(u + 0.5, 0, 1), rtol=1e-12)
    np.testing.assert_allclose(ls.step(X, a, c, -s, "erf"), a * stats.norm.sf(math.sqrt(2) * u), rtol=1e-12,
                               atol=1e-300)
    np.testing.assert_allclose(ls.logistic(X, a, c, s), a * stats.logistic.cdf(u), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ls.fermi(X, a, c, s), a * stats.logistic.sf(u), rtol=1e-9, atol=1e-12)
    rect = ls.rectangle(X, a, -1.0, 0.5, 4.0, 0.8, "erf")
    np.testing.assert_allclose(rect, a * 0.5 * (special.erf((X + 1) / 0.5) + special.erf((4 - X) / 0.8)), rtol=1e-12)
    assert ls.rectangle(1.5, a, -1.0, 0.5, 4.0, 0.8, "linear") == pytest.approx(a)
    assert ls.rectangle(-5.0, a, -1.0, 0.5, 4.0, 0.8, "linear") == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("func", ["gaussian", "lorentzian", "voigt", "pvoigt", "pearson7", "students_t",
                                  "expgaussian", "skewed_gaussian", "split_lorentzian", "skewed_voigt"])
def test_peak_areas_equal_amplitude(func):
    area, err = integrate.quad(lambda t: getattr(ls, func)(t, amplitude=3.7, center=0.4, sigma=0.9),
                               -np.inf, np.inf, limit=400)
    assert area == pytest.approx(3.7, rel=1e-6)


def test_known_points_of_height_scaled_and_plain_shapes():
    assert ls.moffat(2.0, 5.0, 2.0, 0.5, 1.5) == 5.0 and ls.moffat(2.5, 5.0, 2.0, 0.5, 1.5) == pytest.approx(5 / 2**1.5)
    assert ls.damped_oscillator(3.0, 2.0, 3.0, 0.1) == pytest.approx(2.0 / 0.2)
    assert ls.breit_wigner(1.0, 2.0, 1.0, 2.0, 3.0) == pytest.approx(2.0 * 3.0**2)
    fwhm = ls.pvoigt(np.array([0.0, 1.3]), 1.0, 0.0, 1.3, 0.3)
    assert fwhm[1] / fwhm[0] == pytest.approx(0.5)  # both components have FWHM 2 sigma
    np.testing.assert_allclose(ls.sine(X, 2, 3, 0.5), 2 * np.sin(3 * X + 0.5))
    np.testing.assert_allclose(ls.expsine(X, 2, 3, 0.5, 0.2), 2 * np.sin(3 * X + 0.5) * np.exp(-0.2 * X))
    np.testing.assert_allclose(ls.exponential(X, 2, 4), 2 * np.exp(-X / 4))
    np.testing.assert_allclose(ls.powerlaw(np.arange(1.0, 5), 2, 1.5), 2 * np.arange(1.0, 5) ** 1.5)
    np.testing.assert_allclose(ls.linear(X, 2, -1), 2 * X - 1)
    np.testing.assert_allclose(ls.parabolic(X, 1, 2, 3), X**2 + 2 * X + 3)
    np.testing.assert_allclose(ls.polynomial(X, 1, 2, 0, -1), np.polynomial.polynomial.polyval(X, [1, 2, 0, -1]))
    np.testing.assert_array_equal(ls.constant(X, 4.5), np.full(X.shape, 4.5))
    np.testing.assert_allclose(ls.bose(X + 0.01, 1.0, 0.0, 0.5), 1 / np.expm1((X + 0.01) / 0.5), rtol=1e-9)
    np.testing.assert_allclose(ls.thermal_distribution(X, 1.0, 0.0, 0.5, "maxwell"), np.exp(-X / 0.5), rtol=1e-12)
    np.testing.assert_allclose(ls.gaussian2d(X, 0.5, 2.0, 0, 0.5, 1, 2),
                               2.0 * stats.norm.pdf(X, 0, 1) * stats.norm.pdf(0.5, 0.5, 2))


def test_integer_x_is_computed_in_floats():
    assert ls.linear(np.arange(3), 0.5, 0)[1] == 0.5
    assert ls.powerlaw(np.arange(1, 4), 1.0, -1.0)[1] == 0.5


def test_bad_form_is_a_clear_error():
    with pytest.raises(ValueError, match="form='smooth'; use one of 'linear'"):
        ls.step(X, form="smooth")
    with pytest.raises(ValueError, match="form='smooth'"):
        ls.rectangle(X, form="smooth")
    with pytest.raises(ValueError, match="'bose', 'maxwell' or 'fermi'"):
        ls.thermal_distribution(X, form="boltzmann")


HAVE_LMFIT = importlib.util.find_spec("lmfit") is not None
CASES = {
    "gaussian": (1.7, 0.3, 0.8), "lorentzian": (1.7, 0.3, 0.8), "voigt": (1.7, 0.3, 0.8, 0.5),
    "pvoigt": (1.7, 0.3, 0.8, 0.3), "moffat": (1.7, 0.3, 0.8, 1.4), "pearson4": (1.7, 0.3, 0.8, 1.6, 0.7),
    "pearson7": (1.7, 0.3, 0.8, 1.6), "breit_wigner": (1.7, 0.3, 0.8, 2.0),
    "damped_oscillator": (1.7, 1.3, 0.2), "dho": (1.7, 1.3, 0.8, 0.6), "logistic": (1.7, 0.3, 0.8),
    "students_t": (1.7, 0.3, 2.5), "expgaussian": (1.7, 0.3, 0.8, 1.5), "doniach": (1.7, 0.3, 0.8, 0.2),
    "skewed_gaussian": (1.7, 0.3, 0.8, 1.5), "skewed_voigt": (1.7, 0.3, 0.8, 0.4, 1.5),
    "split_lorentzian": (1.7, 0.3, 0.8, 1.6), "sine": (1.7, 0.3, 0.8), "expsine": (1.7, 0.3, 0.8, 0.1),
    "fermi": (1.7, 0.3, 0.8), "exponential": (1.7, 2.3), "linear": (1.7, 0.3), "parabolic": (1.7, 0.3, 0.8),
    "step": (1.7, 0.3, 0.8), "rectangle": (1.7, -1.0, 0.8, 3.0, 0.5),
}


@pytest.mark.skipif(not HAVE_LMFIT, reason="lmfit (the bench extra) is not installed")
@pytest.mark.parametrize("name", sorted(CASES))
def test_same_values_as_lmfit(name):
    from lmfit import lineshapes as ref

    x = np.linspace(0.05, 6.0, 97)
    args = CASES[name]
    np.testing.assert_allclose(getattr(ls, name)(x, *args), getattr(ref, name)(x.copy(), *args), rtol=1e-12,
                               atol=1e-300)
    if name in ("step", "rectangle"):
        for form in ("atan", "erf", "logistic"):
            np.testing.assert_allclose(getattr(ls, name)(x, *args, form=form),
                                       getattr(ref, name)(x, *args, form=form), rtol=1e-12)
