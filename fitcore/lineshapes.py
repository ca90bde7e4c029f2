"""Lineshapes: plain functions of ``x`` with lmfit's names, parameter names and definitions.

Every function takes the independent variable first and its parameters as
keywords with defaults, so that :class:`fitcore.Model` can wrap it directly::

    >>> import numpy as np
    >>> from fitcore.lineshapes import gaussian
    >>> round(float(gaussian(0.0, amplitude=2.0, center=0.0, sigma=1.0)), 6)
    0.797885

Peak functions are normalised as lmfit's are: ``amplitude`` is the area under
the curve (except ``moffat``, ``breit_wigner``, ``damped_oscillator``, ``logistic``
and the thermal distributions, where it scales the height). Widths in a
denominator are held above :data:`TINY` so that a fit passing through zero width
gets a large finite value rather than a division error, as in lmfit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import betaln, erf, erfc, erfcx, loggamma, wofz
from scipy.special import gamma as gamma_fn

__all__ = [
    "TINY",
    "not_zero",
    "constant",
    "linear",
    "parabolic",
    "quadratic",
    "polynomial",
    "gaussian",
    "gaussian2d",
    "lorentzian",
    "split_lorentzian",
    "voigt",
    "pvoigt",
    "moffat",
    "pearson4",
    "pearson7",
    "breit_wigner",
    "damped_oscillator",
    "dho",
    "logistic",
    "lognormal",
    "students_t",
    "expgaussian",
    "doniach",
    "skewed_gaussian",
    "skewed_voigt",
    "sine",
    "expsine",
    "thermal_distribution",
    "bose",
    "fermi",
    "step",
    "rectangle",
    "exponential",
    "powerlaw",
    "STEP_FORMS",
]

#: smallest width (or other divisor) a lineshape divides by; numpy's float64 resolution, as lmfit uses
TINY = 1.0e-15
_LN2 = math.log(2.0)
_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)
#: the ``form`` values of :func:`step` and :func:`rectangle`
STEP_FORMS = ("linear", "atan", "arctan", "erf", "logistic")


def _pos(value: Any) -> float:
    """``value`` as a float, raised to at least :data:`TINY` (a divisor that must stay positive)."""
    return max(TINY, float(value))


def not_zero(value: Any) -> float:
    """Return ``value`` with magnitude at least :data:`TINY`, keeping its sign (a divisor that must not be 0)."""
    value = float(value)
    return math.copysign(max(TINY, abs(value)), value)


def _x(x: Any) -> Any:
    """``x`` as floats (integer arrays would make integer arithmetic below)."""
    return np.asarray(x, dtype=float) if not isinstance(x, float) else x


# -- backgrounds ------------------------------------------------------------------------------
def constant(x: Any, c: float = 0.0) -> Any:
    """Return ``c`` at every ``x`` (an array shaped like ``x``)."""
    return c * np.ones(np.shape(x))


def linear(x: Any, slope: float = 1.0, intercept: float = 0.0) -> Any:
    """Return ``slope * x + intercept``."""
    return slope * _x(x) + intercept


def parabolic(x: Any, a: float = 0.0, b: float = 0.0, c: float = 0.0) -> Any:
    """Return ``a * x**2 + b * x + c``."""
    x = _x(x)
    return a * x**2 + b * x + c


quadratic = parabolic


def polynomial(x: Any, c0: float = 0.0, c1: float = 0.0, c2: float = 0.0, c3: float = 0.0, c4: float = 0.0,
               c5: float = 0.0, c6: float = 0.0, c7: float = 0.0) -> Any:
    """Return ``c0 + c1*x + ... + c7*x**7`` (Horner's rule)."""
    x = _x(x)
    out: Any = 0.0
    for c in (c7, c6, c5, c4, c3, c2, c1, c0):
        out = out * x + c
    return out * np.ones(np.shape(x)) if np.ndim(out) < np.ndim(x) else out


# -- peaks ------------------------------------------------------------------------------------
def gaussian(x: Any, amplitude: float = 1.0, center: float = 0.0, sigma: float = 1.0) -> Any:
    """Return ``amplitude / (sqrt(2 pi) sigma) * exp(-(x - center)**2 / (2 sigma**2))`` (area ``amplitude``)."""
    return (amplitude / _pos(_SQRT2PI * sigma)) * np.exp(-((_x(x) - center) ** 2) / _pos(2.0 * sigma**2))


def gaussian2d(x: Any, y: Any = 0.0, amplitude: float = 1.0, centerx: float = 0.0, centery: float = 0.0,
               sigmax: float = 1.0, sigmay: float = 1.0) -> Any:
    """Return a 2-d Gaussian of volume ``amplitude``: the product of two unit-area Gaussians."""
    return amplitude * gaussian(x, 1.0, centerx, sigmax) * gaussian(y, 1.0, centery, sigmay)


def lorentzian(x: Any, amplitude: float = 1.0, center: float = 0.0, sigma: float = 1.0) -> Any:
    """Return ``amplitude / (pi sigma (1 + ((x - center)/sigma)**2))`` (area ``amplitude``, HWHM ``sigma``)."""
    u = (_x(x) - center) / _pos(sigma)
    return amplitude / (1.0 + u * u) / _pos(math.pi * sigma)


def split_lorentzian(x: Any, amplitude: float = 1.0, center: float = 0.0, sigma: float = 1.0,
                     sigma_r: float = 1.0) -> Any:
    """Return a Lorentzian of half-width ``sigma`` left of ``center``, ``sigma_r`` right of it (area ``amplitude``)."""
    x = _x(x)
    left, right = _pos(sigma), _pos(sigma_r)
    d2 = (x - center) ** 2
    scale = 2.0 * amplitude / (math.pi * (left + right))
    return scale * (left**2 * (x < center) / (left**2 + d2) + right**2 * (x >= center) / (right**2 + d2))


def voigt(x: Any, amplitude: float = 1.0, center: float = 0.0, sigma: float = 1.0,
          gamma: float | None = None) -> Any:
    """Return the Voigt profile (area ``amplitude``) from the Faddeeva function :func:`scipy.special.wofz`.

    ``amplitude * Re[w(z)] / (sigma sqrt(2 pi))`` with ``z = (x - center + i gamma) / (sigma sqrt 2)``;
    ``gamma`` defaults to ``sigma``.
    """
    if gamma is None:
        gamma = sigma
    z = (_x(x) - center + 1j * float(gamma)) / _pos(sigma * _SQRT2)
    return amplitude * np.real(wofz(z)) / _pos(sigma * _SQRT2PI)


def pvoigt(x: Any, amplitude: float = 1.0, center: float = 0.0, sigma: float = 1.0,
           fraction: float = 0.5) -> Any:
    """Return the pseudo-Voigt: ``(1-fraction)`` Gaussian + ``fraction`` Lorentzian, both of FWHM ``2 sigma``."""
    sigma_g = sigma / math.sqrt(2.0 * _LN2)
    return ((1.0 - fraction) * gaussian(x, amplitude, center, sigma_g)
            + fraction * lorentzian(x, amplitude, center, sigma))


def moffat(x: Any, amplitude: float = 1.0, center: float = 0.0, sigma: float = 1.0, beta: float = 1.0) -> Any:
    """Return ``amplitude / (((x - center)/sigma)**2 + 1)**beta`` (height ``amplitude``)."""
    return amplitude / (((_x(x) - center) / _pos(sigma)) ** 2 + 1.0) ** beta


def pearson4(x: Any, amplitude: float = 1.0, center: float = 0.0, sigma: float = 1.0, expon: float = 1.0,
             skew: float = 0.0) -> Any:
    """Return the Pearson type IV distribution (area ``amplitude``), with ``m = expon`` and ``nu = skew``."""
    m, s = _pos(expon), _pos(sigma)
    u = (_x(x) - center) / s
    log_norm = 2.0 * (np.real(loggamma(m + 0.5j * float(skew))) - float(np.real(loggamma(m)))) - betaln(m - 0.5, 0.5)
    return (amplitude / s) * np.exp(log_norm - m * np.log1p(u * u) - skew * np.arctan(u))


def pearson7(x: Any, amplitude: float = 1.0, center: float = 0.0, sigma: float = 1.0, expon: float = 1.0) -> Any:
    """Return the Pearson VII distribution (area ``amplitude``): ``(1 + u**2)**-expon / (sigma B(expon-1/2, 1/2))``."""
    m = _pos(expon)
    u = (_x(x) - center) / _pos(sigma)
    scale = amplitude * gamma_fn(m) / (gamma_fn(0.5) * gamma_fn(m - 0.5))
    return scale * (1.0 + u * u) ** (-m) / _pos(sigma)


def breit_wigner(x: Any, amplitude: float = 1.0, center: float = 0.0, sigma: float = 1.0, q: float = 1.0) -> Any:
    """Return the Breit-Wigner-Fano shape ``amplitude (q sigma/2 + d)**2 / ((sigma/2)**2 + d**2)``, d = x - center."""
    d = _x(x) - center
    half = sigma / 2.0
    return amplitude * (q * half + d) ** 2 / (half * half + d * d)


def damped_oscillator(x: Any, amplitude: float = 1.0, center: float = 1.0, sigma: float = 0.1) -> Any:
    """Return a damped oscillator amplitude ``amplitude / sqrt((1 - r**2)**2 + (2 sigma r)**2)``, r = x/center."""
    r = _x(x) / _pos(abs(float(center)))
    return amplitude / np.sqrt((1.0 - r * r) ** 2 + (2.0 * sigma * r) ** 2)


def dho(x: Any, amplitude: float = 1.0, center: float = 1.0, sigma: float = 1.0, gamma: float = 1.0) -> Any:
    """Return the damped harmonic oscillator with Bose factor (as in PAN).

    ``amplitude sigma/pi (L(x - center) - L(x + center)) / (1 - exp(-x/gamma))`` with
    ``L(d) = 1/(d**2 + sigma**2)``; at ``x = 0`` its limit.
    """
    x = _x(x)
    bose = 1.0 - np.exp(-x / _pos(gamma))
    bose = np.where(np.isnan(bose) | (np.abs(bose) <= TINY), TINY, bose)
    minus = 1.0 / ((x - center) ** 2 + sigma**2)
    plus = 1.0 / ((x + center) ** 2 + sigma**2)
    at_zero = 4.0 * gamma * center / (center**2 + sigma**2) ** 2
    return amplitude * sigma / math.pi * np.where(np.isclose(x, 0.0), at_zero, (minus - plus) / bose)


def logistic(x: Any, amplitude: float = 1.0, center: float = 0.0, sigma: float = 1.0) -> Any:
    """Return the sigmoid ``amplitude (1 - 1/(1 + exp((x - center)/sigma)))``."""
    return amplitude * (1.0 - 1.0 / (1.0 + np.exp((_x(x) - center) / _pos(sigma))))


def lognormal(x: Any, amplitude: float = 1.0, center: float = 0.0, sigma: float = 1.0) -> Any:
    """Return the log-normal density (area ``amplitude``); ``x`` below :data:`TINY` is taken as :data:`TINY`."""
    x = np.maximum(_x(x), TINY)
    return (amplitude / (x * _pos(sigma * _SQRT2PI))) * np.exp(-((np.log(x) - center) ** 2) / _pos(2.0 * sigma**2))


def students_t(x: Any, amplitude: float = 1.0, center: float = 0.0, sigma: float = 1.0) -> Any:
    """Return Student's t density with ``sigma`` degrees of freedom, centred on ``center`` (area ``amplitude``)."""
    half = (sigma + 1.0) / 2.0
    norm = gamma_fn(half) / _pos(math.sqrt(float(sigma) * math.pi) * gamma_fn(_pos(sigma / 2.0)))
    return amplitude * (1.0 + (_x(x) - center) ** 2 / _pos(sigma)) ** (-half) * norm


def expgaussian(x: Any, amplitude: float = 1.0, center: float = 0.0, sigma: float = 1.0, gamma: float = 1.0) -> Any:
    """Return the exponentially modified Gaussian (area ``amplitude``, decay rate ``gamma``).

    ``amplitude gamma/2 exp(gamma (center + gamma sigma**2/2 - x)) erfc((center + gamma sigma**2 - x)/(sqrt 2 sigma))``.
    """
    x = _x(x)
    gs2 = gamma * sigma * sigma
    arg = gamma * (center + gs2 / 2.0 - x)
    z = (center + gs2 - x) / _pos(_SQRT2 * sigma)
    # exp(arg) erfc(z) = exp(arg - z**2) erfcx(z): the scaled form stays finite far into the tail (z > 0)
    zpos = np.maximum(z, 0.0)
    tail = np.exp(arg - zpos * zpos) * erfcx(zpos)
    with np.errstate(over="ignore", invalid="ignore"):
        head = np.exp(arg) * erfc(z)
    return amplitude * (gamma / 2.0) * np.where(z > 0, tail, head)


def doniach(x: Any, amplitude: float = 1.0, center: float = 0.0, sigma: float = 1.0, gamma: float = 0.0) -> Any:
    """Return the Doniach-Sunjic asymmetric shape of photo-emission (asymmetry ``gamma``)."""
    u = (_x(x) - center) / _pos(sigma)
    g = 1.0 - gamma
    return amplitude / _pos(sigma**g) * np.cos(math.pi * gamma / 2.0 + g * np.arctan(u)) / (1.0 + u * u) ** (g / 2.0)


def skewed_gaussian(x: Any, amplitude: float = 1.0, center: float = 0.0, sigma: float = 1.0,
                    gamma: float = 0.0) -> Any:
    """Return the skew-normal shape ``gaussian(x) * (1 + erf(gamma (x - center) / (sigma sqrt 2)))``."""
    skew = erfc(-gamma * (_x(x) - center) / _pos(_SQRT2 * sigma))  # 1 + erf(t), without cancellation
    return skew * gaussian(x, amplitude, center, sigma)


def skewed_voigt(x: Any, amplitude: float = 1.0, center: float = 0.0, sigma: float = 1.0,
                 gamma: float | None = None, skew: float = 0.0) -> Any:
    """Return ``voigt(x) * (1 + erf(skew (x - center) / (sigma sqrt 2)))``."""
    factor = erfc(-skew / _pos(_SQRT2 * sigma) * (_x(x) - center))  # 1 + erf(t), without cancellation
    return factor * voigt(x, amplitude, center, sigma, gamma=gamma)


# -- oscillations, decays, distributions ------------------------------------------------------------
def sine(x: Any, amplitude: float = 1.0, frequency: float = 1.0, shift: float = 0.0) -> Any:
    """Return ``amplitude sin(frequency x + shift)``."""
    return amplitude * np.sin(_x(x) * frequency + shift)


def expsine(x: Any, amplitude: float = 1.0, frequency: float = 1.0, shift: float = 0.0, decay: float = 0.0) -> Any:
    """Return ``amplitude sin(frequency x + shift) exp(-decay x)``."""
    x = _x(x)
    return amplitude * np.sin(x * frequency + shift) * np.exp(-x * decay)


def thermal_distribution(x: Any, amplitude: float = 1.0, center: float = 0.0, kt: float = 1.0,
                         form: str = "bose") -> Any:
    """Return ``1 / (amplitude exp((x - center)/kt) + k)``: k = -1 (``'bose'``), 0 (``'maxwell'``), 1 (``'fermi'``)."""
    kind = str(form).lower()
    offsets = {"bose": -1.0, "maxwell": 0.0, "fermi": 1.0}
    offset = next((v for k, v in offsets.items() if kind.startswith(k)), None)
    if offset is None:
        raise ValueError(f"thermal_distribution: form={form!r}; use one of 'bose', 'maxwell' or 'fermi'")
    return np.real(1.0 / (amplitude * np.exp((_x(x) - center) / not_zero(kt)) + offset + TINY * 1j))


def bose(x: Any, amplitude: float = 1.0, center: float = 0.0, kt: float = 1.0) -> Any:
    """Return the Bose-Einstein occupation ``amplitude / (exp((x - center)/kt) - 1)`` (finite at ``x = center``)."""
    denom = np.exp((_x(x) - center) / not_zero(kt)) - 1.0
    denom = np.where(np.abs(denom) < TINY * TINY, TINY * TINY, denom)
    return amplitude / denom


def fermi(x: Any, amplitude: float = 1.0, center: float = 0.0, kt: float = 1.0) -> Any:
    """Return the Fermi-Dirac occupation ``amplitude / (exp((x - center)/kt) + 1)``."""
    return amplitude / (np.exp((_x(x) - center) / not_zero(kt)) + 1.0)


def _check_form(form: str, where: str) -> None:
    if form not in STEP_FORMS:
        raise ValueError(f"{where}: form={form!r}; use one of {', '.join(map(repr, STEP_FORMS))}")


def step(x: Any, amplitude: float = 1.0, center: float = 0.0, sigma: float = 1.0, form: str = "linear") -> Any:
    """Return a step from 0 to ``amplitude`` with half height at ``center`` and width ``sigma``.

    ``form`` is ``'linear'`` (a ramp ``clip(u + 1/2, 0, 1)``), ``'atan'``/``'arctan'``
    (``1/2 + atan(u)/pi``), ``'erf'`` (``(1 + erf(u))/2``) or ``'logistic'``
    (``1 - 1/(1 + exp(u))``), with ``u = (x - center)/sigma``; a negative ``sigma`` steps down.
    """
    _check_form(form, "step")
    s = float(sigma)
    u = math.copysign(1.0, s) * (_x(x) - center) / max(TINY * TINY, abs(s))
    if form == "erf":
        out = 0.5 * erfc(-u)  # (1 + erf(u)) / 2, without cancellation
    elif form == "logistic":
        out = 1.0 - 1.0 / (1.0 + np.exp(u))
    elif form in ("atan", "arctan"):
        out = 0.5 + np.arctan(u) / math.pi
    else:
        out = np.clip(u + 0.5, 0.0, 1.0)
    return amplitude * out


def rectangle(x: Any, amplitude: float = 1.0, center1: float = 0.0, sigma1: float = 1.0, center2: float = 1.0,
              sigma2: float = 1.0, form: str = "linear") -> Any:
    """Return a step up at ``center1`` (width ``sigma1``), down at ``center2`` (width ``sigma2``), height ``amplitude``.

    ``form`` as for :func:`step`; with ``u1 = (x - center1)/sigma1`` and ``u2 = (center2 - x)/sigma2``
    the linear form is ``(clip(u1, -1, 1) + clip(u2, -1, 1))/2``.
    """
    _check_form(form, "rectangle")
    x = _x(x)
    u1 = (x - center1) / _pos(sigma1)
    u2 = (center2 - x) / _pos(sigma2)
    if form == "erf":
        out = 0.5 * (erf(u1) + erf(u2))
    elif form == "logistic":
        out = 1.0 - 1.0 / (1.0 + np.exp(u1)) - 1.0 / (1.0 + np.exp(u2))
    elif form in ("atan", "arctan"):
        out = (np.arctan(u1) + np.arctan(u2)) / math.pi
    else:
        out = 0.5 * (np.clip(u1, -1.0, 1.0) + np.clip(u2, -1.0, 1.0))
    return amplitude * out


def exponential(x: Any, amplitude: float = 1.0, decay: float = 1.0) -> Any:
    """Return ``amplitude exp(-x/decay)``."""
    return amplitude * np.exp(-_x(x) / not_zero(decay))


def powerlaw(x: Any, amplitude: float = 1.0, exponent: float = 1.0) -> Any:
    """Return ``amplitude x**exponent``."""
    return amplitude * _x(x) ** exponent
