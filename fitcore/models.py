"""Built-in models with lmfit's class names, parameter names, derived parameters and ``guess``.

Each class wraps a function of :mod:`fitcore.lineshapes`. Peak models add the
derived parameters ``fwhm`` and ``height`` as constraint expressions (they are
computed, never fitted, and get standard errors propagated from the fit), bound
their widths below by 0, and offer ``guess(data, x)``: starting values read from
the data (a peak's position, half-maximum width and area).

    >>> import numpy as np
    >>> from fitcore.models import GaussianModel
    >>> x = np.linspace(-5, 5, 201)
    >>> y = 3.0 * np.exp(-(x - 0.5)**2 / (2 * 0.8**2))
    >>> model = GaussianModel()
    >>> result = model.fit(y, model.guess(y, x=x), x=x)
    >>> round(result.params['center'].value, 6), round(result.params['fwhm'].value, 4)
    (0.5, 1.8839)

The models are also registered by name through the ``fitcore_models`` plugin hook
(``Model('gaussian', prefix='p1_')``; ``fitcore models`` lists them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from . import lineshapes as ls
from .lineshapes import TINY
from .model import Model
from .model_support import update_expressions
from .parameters import Parameters

__all__ = [
    "ConstantModel", "ComplexConstantModel", "LinearModel", "QuadraticModel", "ParabolicModel", "PolynomialModel",
    "SplineModel", "SineModel", "GaussianModel", "Gaussian2dModel", "LorentzianModel", "SplitLorentzianModel",
    "VoigtModel",
    "PseudoVoigtModel", "MoffatModel", "Pearson4Model", "Pearson7Model", "StudentsTModel", "BreitWignerModel",
    "LognormalModel", "DampedOscillatorModel", "DampedHarmonicOscillatorModel", "ExponentialGaussianModel",
    "SkewedGaussianModel", "SkewedVoigtModel", "ThermalDistributionModel", "DoniachModel", "PowerLawModel",
    "ExponentialModel", "StepModel", "RectangleModel", "BoseModel", "FermiModel", "BUILTIN_MODELS", "guess_from_peak",
]

TAU = 2.0 * math.pi


# -- guessing helpers ------------------------------------------------------------------------------
def guess_from_peak(model: Model, data: Any, x: Any, negative: bool = False, ampscale: float = 1.0,
                    sigscale: float = 1.0) -> Parameters:
    """Starting ``amplitude``, ``center``, ``sigma`` of a peak in ``data`` at ``x``.

    The centre and width come from the points above half the peak's height (below
    it for ``negative`` peaks): their mean and half their span. The amplitude
    (an area) is three times the data's range times that width, scaled by
    ``ampscale``; ``sigscale`` scales the width.
    """
    x, y = _xy(data, x)
    order = np.argsort(x)
    x, y = x[order], y[order]
    top, bottom = float(y.max()), float(y.min())
    center = float(x[np.argmax(y)])
    sigma = float(x.max() - x.min()) / 6.0
    height = (top - bottom) * 3.0
    half = (top + bottom) / 2.0
    above = x[y < half] if negative else x[y > half]
    if negative:
        height = -height
    if above.size > 2:
        sigma = float(above[-1] - above[0]) / 2.0
        center = float(above.mean())
    params = model.make_params(amplitude=height * sigma * ampscale, center=center, sigma=sigma * sigscale)
    params[f"{model.prefix}sigma"].set(min=0.0)
    return params


def _xy(data: Any, x: Any) -> tuple[np.ndarray, np.ndarray]:
    if x is None:
        raise TypeError("guess needs the independent variable: guess(data, x=x)")
    xa, ya = np.asarray(x, dtype=float).ravel(), np.asarray(data, dtype=float).ravel()
    if xa.size != ya.size or xa.size == 0:
        raise ValueError(f"guess: data ({ya.size} points) and x ({xa.size} points) must have the same, "
                         "non-zero length")
    return xa, ya


def _finish(model: Model, params: Parameters, kwargs: dict[str, Any]) -> Parameters:
    """Apply the values given to ``guess`` as keywords (names without prefix), as lmfit's guess does."""
    for key, val in kwargs.items():
        name = f"{model.prefix}{key}"
        if name in params:
            params[name].value = val
            params[name].init_value = params[name].value
    update_expressions(params)
    return params


def _fwhm_expr(model: Model, factor: float) -> str:
    return f"{factor:.7f}*{model.prefix}sigma"


def _height_expr(model: Model, factor: float) -> str:
    return f"{factor:.7f}*{model.prefix}amplitude/max({TINY}, {model.prefix}sigma)"


class _Builtin(Model):
    """Shared constructor of the built-in models: lmfit's ``(independent_vars, prefix, nan_policy, **kwargs)``."""

    #: the lineshape function
    lineshape: Callable[..., Any]
    #: registered name (``Model('gaussian')``)
    registered_name = ""

    def __init__(self, independent_vars: Sequence[str] = ("x",), prefix: str = "", nan_policy: str = "raise",
                 **kwargs: Any) -> None:
        func = kwargs.pop("func", None) or type(self).lineshape
        super().__init__(func, independent_vars=list(independent_vars), prefix=prefix, nan_policy=nan_policy,
                         **kwargs)
        self._set_paramhints_prefix()

    def _set_paramhints_prefix(self) -> None:
        """Set the hints (bounds, derived parameters) that depend on the prefix."""

    def init_kws(self) -> dict[str, Any]:
        """Return the constructor keywords that rebuild this model."""
        return {"independent_vars": list(self.independent_vars), "prefix": self.prefix,
                "nan_policy": self.nan_policy}


class _Peak(_Builtin):
    """A peak with ``amplitude``, ``center``, ``sigma``: ``fwhm`` and ``height`` derived, ``sigma >= 0``."""

    fwhm_factor = 1.0
    height_factor = 1.0
    guess_ampscale = 1.0
    guess_sigscale = 1.0

    def _set_paramhints_prefix(self) -> None:
        self.set_param_hint("sigma", min=0)
        self.set_param_hint("fwhm", expr=_fwhm_expr(self, self.fwhm_factor))
        self.set_param_hint("height", expr=_height_expr(self, self.height_factor))

    def guess(self, data: Any, x: Any, negative: bool = False, **kwargs: Any) -> Parameters:
        """Starting values from the peak in ``data`` (:func:`guess_from_peak`); keywords set values by name."""
        params = guess_from_peak(self, data, x, negative, self.guess_ampscale, self.guess_sigscale)
        return _finish(self, params, kwargs)


# -- backgrounds -----------------------------------------------------------------------------------
class ConstantModel(_Builtin):
    """``c``, independent of ``x`` (``c`` is fitted)."""

    lineshape = staticmethod(ls.constant)
    registered_name = "constant"

    @staticmethod
    def partials(x: Any, c: float) -> dict[str, Any]:
        """Derivative of ``c`` (one everywhere)."""
        return {"c": np.ones(np.shape(x))}

    def guess(self, data: Any, x: Any = None, **kwargs: Any) -> Parameters:
        """``c`` = the mean of ``data``."""
        return _finish(self, self.make_params(c=float(np.mean(data))), kwargs)


def _complex_constant(x: Any, re: float = 0.0, im: float = 0.0) -> Any:
    return (re + 1j * im) * np.ones(np.shape(x))


class ComplexConstantModel(_Builtin):
    """``re + 1j*im``, independent of ``x``."""

    lineshape = staticmethod(_complex_constant)
    registered_name = "complex_constant"

    def guess(self, data: Any, x: Any = None, **kwargs: Any) -> Parameters:
        """The means of the real and imaginary parts of ``data``."""
        data = np.asarray(data)
        return _finish(self, self.make_params(re=float(np.real(data).mean()), im=float(np.imag(data).mean())),
                       kwargs)


class LinearModel(_Builtin):
    """``slope * x + intercept``."""

    lineshape = staticmethod(ls.linear)
    registered_name = "linear"

    @staticmethod
    def partials(x: Any, slope: float, intercept: float) -> dict[str, Any]:
        """Derivatives of ``slope * x + intercept``."""
        x = np.asarray(x, dtype=float)
        return {"slope": x, "intercept": np.ones(x.shape)}

    def guess(self, data: Any, x: Any, **kwargs: Any) -> Parameters:
        """A straight-line least-squares fit."""
        xa, ya = _xy(data, x)
        slope, intercept = np.polyfit(xa, ya, 1)
        return _finish(self, self.make_params(intercept=float(intercept), slope=float(slope)), kwargs)


class QuadraticModel(_Builtin):
    """``a * x**2 + b * x + c``."""

    lineshape = staticmethod(ls.parabolic)
    registered_name = "quadratic"

    @staticmethod
    def partials(x: Any, a: float, b: float, c: float) -> dict[str, Any]:
        """Derivatives of ``a x**2 + b x + c``."""
        x = np.asarray(x, dtype=float)
        return {"a": x * x, "b": x, "c": np.ones(x.shape)}

    def guess(self, data: Any, x: Any, **kwargs: Any) -> Parameters:
        """A parabola least-squares fit."""
        xa, ya = _xy(data, x)
        a, b, c = np.polyfit(xa, ya, 2)
        return _finish(self, self.make_params(a=float(a), b=float(b), c=float(c)), kwargs)


ParabolicModel = QuadraticModel


class PolynomialModel(_Builtin):
    """``c0 + c1*x + ... + c{degree}*x**degree`` (degree 0 to 7).

    Parameters
    ----------
    degree : int, default 2
        The polynomial's degree; the parameters are ``c0`` ... ``c{degree}``.
    """

    MAX_DEGREE = 7
    lineshape = staticmethod(ls.polynomial)
    registered_name = "polynomial"

    def __init__(self, degree: int = 2, independent_vars: Sequence[str] = ("x",), prefix: str = "",
                 nan_policy: str = "raise", **kwargs: Any) -> None:
        if "form" in kwargs:
            degree = kwargs.pop("form")
        if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or not 0 <= degree <= self.MAX_DEGREE:
            raise TypeError(f"PolynomialModel: degree must be an integer from 0 to {self.MAX_DEGREE}, got {degree!r}")
        self.poly_degree = int(degree)
        kwargs["param_names"] = [f"c{i}" for i in range(self.poly_degree + 1)]
        super().__init__(independent_vars, prefix, nan_policy, **kwargs)

    def guess(self, data: Any, x: Any, **kwargs: Any) -> Parameters:
        """A least-squares polynomial fit of the model's degree."""
        xa, ya = _xy(data, x)
        coefs = np.polyfit(xa, ya, self.poly_degree)[::-1]
        values: dict[str, Any] = {f"c{i}": float(c) for i, c in enumerate(coefs)}
        return _finish(self, self.make_params(**values), kwargs)

    def init_kws(self) -> dict[str, Any]:
        """Return the constructor keywords that rebuild this model."""
        return {**super().init_kws(), "degree": self.poly_degree}


class SplineModel(_Builtin):
    """A cubic B-spline through knots at ``xknots``; parameters ``s0`` ... ``s{N-1}``, about the curve at each knot.

    Parameters
    ----------
    xknots : array_like
        The knots' ``x`` values (4 to 100 of them, increasing).
    """

    MAX_KNOTS = 100
    registered_name = "spline"

    def __init__(self, xknots: Any, independent_vars: Sequence[str] = ("x",), prefix: str = "",
                 nan_policy: str = "raise", **kwargs: Any) -> None:
        from scipy.interpolate import splrep

        knots = np.asarray(xknots, dtype=float)
        if knots.ndim != 1 or not 4 <= knots.size <= self.MAX_KNOTS:
            raise TypeError(f"SplineModel: xknots must be a 1-d sequence of 4 to {self.MAX_KNOTS} values, "
                            f"got shape {knots.shape}")
        if len(list(independent_vars)) != 1:
            raise TypeError("SplineModel has one independent variable")
        self.xknots = knots
        self.nknots = knots.size
        self.order = 3
        self.knots = splrep(knots, np.ones(knots.size), k=self.order)[0]
        kwargs["param_names"] = [f"s{i}" for i in range(self.nknots)]
        super().__init__(independent_vars, prefix, nan_policy, func=self._spline, **kwargs)
        self._name = "spline_model"

    def _spline(self, x: Any, **coefs: float) -> Any:
        from scipy.interpolate import splev

        values = [coefs[f"s{i}"] for i in range(self.nknots)]
        values.extend([values[-1]] * (self.order + 1))  # splev reads len(knots) coefficients
        return splev(x, (self.knots, np.array(values, dtype=float), self.order))

    def guess(self, data: Any, x: Any, **kwargs: Any) -> Parameters:
        """Each ``s{i}``: a weighted mean of the data at the knot and its neighbours (4:1:1)."""
        xa, ya = _xy(data, x)
        values: dict[str, Any] = {}
        for i, xk in enumerate(self.xknots):
            k = int(np.abs(xa - xk).argmin())
            here = ya[k]
            after = ya[k + 1] if k < len(xa) - 2 else here
            before = ya[k - 1] if k > 0 else here
            values[f"s{i}"] = float(4.0 * here + after + before) / 6.0
        return _finish(self, self.make_params(**values), kwargs)

    def init_kws(self) -> dict[str, Any]:
        """Return the constructor keywords that rebuild this model."""
        return {**super().init_kws(), "xknots": self.xknots}


# -- periodic, decays ------------------------------------------------------------------------------
class SineModel(_Builtin):
    """``amplitude * sin(frequency * x + shift)``, with ``amplitude, frequency >= 0`` and ``|shift| <= 2 pi``."""

    lineshape = staticmethod(ls.sine)
    registered_name = "sine"

    @staticmethod
    def partials(x: Any, amplitude: float, frequency: float, shift: float) -> dict[str, Any]:
        """Derivatives of ``amplitude sin(frequency x + shift)``."""
        x = np.asarray(x, dtype=float)
        phase = x * frequency + shift
        c = amplitude * np.cos(phase)
        return {"amplitude": np.sin(phase), "frequency": c * x, "shift": c}

    def _set_paramhints_prefix(self) -> None:
        self.set_param_hint("amplitude", min=0)
        self.set_param_hint("frequency", min=0)
        self.set_param_hint("shift", min=-TAU - 1e-5, max=TAU + 1e-5)

    def guess(self, data: Any, x: Any, **kwargs: Any) -> Parameters:
        """Frequency and amplitude from the largest Fourier component; the shift that best matches the data."""
        xa, ya = _xy(data, x)
        ya = ya - ya.mean()
        freqs = np.fft.fftfreq(len(xa), abs(xa[-1] - xa[0]) / (len(xa) - 1))
        spectrum = np.abs(np.fft.fft(ya))
        k = int(spectrum.argmax())
        amplitude = 2.0 * float(spectrum[k]) / len(spectrum)
        frequency = TAU * abs(float(freqs[k]))
        shifts = np.linspace(0, TAU, 11, endpoint=False)
        misfit = [np.linalg.norm(ls.sine(xa, amplitude, frequency, s) - ya) for s in shifts]
        params = self.make_params(amplitude=amplitude, frequency=frequency, shift=float(shifts[int(np.argmin(misfit))]))
        return _finish(self, params, kwargs)


class ExponentialModel(_Builtin):
    """``amplitude * exp(-x / decay)``."""

    lineshape = staticmethod(ls.exponential)
    registered_name = "exponential"

    @staticmethod
    def partials(x: Any, amplitude: float, decay: float) -> dict[str, Any]:
        """Derivatives of ``amplitude exp(-x/decay)``."""
        x = np.asarray(x, dtype=float)
        decay = ls.not_zero(decay)
        e = np.exp(-x / decay)
        return {"amplitude": e, "decay": amplitude * e * x / decay**2}

    def guess(self, data: Any, x: Any, **kwargs: Any) -> Parameters:
        """A straight-line fit of ``log|data|``."""
        xa, ya = _xy(data, x)
        try:
            slope, offset = np.polyfit(xa, np.log(np.abs(ya) + 1e-15), 1)
        except (TypeError, ValueError, np.linalg.LinAlgError):
            slope, offset = 1.0, math.log(abs(ya.max()) + 1e-9)
        return _finish(self, self.make_params(amplitude=float(np.exp(offset)), decay=float(-1.0 / slope)), kwargs)


class PowerLawModel(_Builtin):
    """``amplitude * x**exponent``."""

    lineshape = staticmethod(ls.powerlaw)
    registered_name = "powerlaw"

    def guess(self, data: Any, x: Any, **kwargs: Any) -> Parameters:
        """A straight-line fit of ``log(data)`` against ``log(x)``."""
        xa, ya = _xy(data, x)
        try:
            with np.errstate(invalid="raise", divide="raise"):
                expon, offset = np.polyfit(np.log(xa + 1e-14), np.log(ya + 1e-14), 1)
        except (FloatingPointError, TypeError, ValueError, np.linalg.LinAlgError):
            expon, offset = 1.0, math.log(abs(ya.max()) + 1e-9)
        return _finish(self, self.make_params(amplitude=float(np.exp(offset)), exponent=float(expon)), kwargs)


# -- peaks -----------------------------------------------------------------------------------------
class GaussianModel(_Peak):
    """``amplitude/(sigma sqrt(2 pi)) exp(-(x - center)**2/(2 sigma**2))``; ``fwhm = 2.3548 sigma``."""

    lineshape = staticmethod(ls.gaussian)
    registered_name = "gaussian"

    @staticmethod
    def partials(x: Any, amplitude: float, center: float, sigma: float) -> dict[str, Any]:
        """Derivatives of the Gaussian (away from ``sigma = 0``, where the lineshape holds its width at TINY)."""
        x = np.asarray(x, dtype=float)
        g = ls.gaussian(x, amplitude, center, sigma)
        d = x - center
        s = max(float(sigma), TINY)
        return {"amplitude": ls.gaussian(x, 1.0, center, sigma),
                "center": g * d / s**2, "sigma": g * (d * d / s**3 - 1.0 / s)}
    fwhm_factor = 2.0 * math.sqrt(2.0 * math.log(2.0))
    height_factor = 1.0 / math.sqrt(2.0 * math.pi)


class LorentzianModel(_Peak):
    """``amplitude/pi * sigma/((x - center)**2 + sigma**2)``; ``fwhm = 2 sigma``."""

    lineshape = staticmethod(ls.lorentzian)
    registered_name = "lorentzian"

    @staticmethod
    def partials(x: Any, amplitude: float, center: float, sigma: float) -> dict[str, Any]:
        """Derivatives of the Lorentzian (away from ``sigma = 0``)."""
        x = np.asarray(x, dtype=float)
        s = max(float(sigma), TINY)
        d = x - center
        q = d * d + s * s
        unit = s / (math.pi * q)
        return {"amplitude": unit, "center": amplitude * unit * 2 * d / q,
                "sigma": amplitude / math.pi * (d * d - s * s) / (q * q)}
    fwhm_factor = 2.0
    height_factor = 1.0 / math.pi
    guess_ampscale = 1.25


class SplitLorentzianModel(_Peak):
    """A Lorentzian of half-width ``sigma`` left and ``sigma_r`` right of ``center``; ``fwhm = sigma + sigma_r``."""

    lineshape = staticmethod(ls.split_lorentzian)
    registered_name = "split_lorentzian"
    guess_ampscale = 1.25

    def _set_paramhints_prefix(self) -> None:
        pre = self.prefix
        self.set_param_hint("sigma", min=0)
        self.set_param_hint("sigma_r", min=0)
        self.set_param_hint("fwhm", expr=f"{pre}sigma+{pre}sigma_r")
        self.set_param_hint("height", expr=f"2*{pre}amplitude/{math.pi:.7f}/max({TINY:.7f}, ({pre}sigma+{pre}sigma_r))")

    def guess(self, data: Any, x: Any, negative: bool = False, **kwargs: Any) -> Parameters:
        """As for a peak, with ``sigma_r`` starting equal to ``sigma``."""
        params = guess_from_peak(self, data, x, negative, self.guess_ampscale)
        sigma = params[f"{self.prefix}sigma"]
        params[f"{self.prefix}sigma_r"].set(value=sigma.value, min=sigma.min, max=sigma.max)
        return _finish(self, params, kwargs)


class VoigtModel(_Peak):
    """The Voigt profile (:func:`fitcore.lineshapes.voigt`); ``gamma`` starts constrained equal to ``sigma``.

    ``fwhm`` is Olivero and Longbothum's approximation (0.02 % accurate);
    ``height`` the exact peak value.
    """

    lineshape = staticmethod(ls.voigt)
    registered_name = "voigt"
    guess_ampscale = 1.5

    def _set_paramhints_prefix(self) -> None:
        pre = self.prefix
        self.set_param_hint("sigma", min=0)
        self.set_param_hint("gamma", expr=f"{pre}sigma")
        self.set_param_hint("fwhm", expr=f"1.0692*{pre}gamma+sqrt(0.8664*{pre}gamma**2+5.545083*{pre}sigma**2)")
        self.set_param_hint("height", expr=f"({pre}amplitude/(max({TINY}, {pre}sigma*sqrt(2*pi))))*"
                                           f"real(wofz((1j*{pre}gamma)/(max({TINY}, {pre}sigma*sqrt(2)))))")

    def guess(self, data: Any, x: Any, negative: bool = False, **kwargs: Any) -> Parameters:
        """As for a peak, with the width scaled for a Voigt shape."""
        params = guess_from_peak(self, data, x, negative, ampscale=1.5, sigscale=0.65)
        return _finish(self, params, kwargs)


class PseudoVoigtModel(_Peak):
    """``(1 - fraction)`` Gaussian + ``fraction`` Lorentzian, both of ``fwhm = 2 sigma``; ``0 <= fraction <= 1``."""

    lineshape = staticmethod(ls.pvoigt)
    registered_name = "pvoigt"
    fwhm_factor = 2.0
    guess_ampscale = 1.25

    def _set_paramhints_prefix(self) -> None:
        pre = self.prefix
        self.set_param_hint("sigma", min=0)
        self.set_param_hint("fraction", value=0.5, min=0.0, max=1.0)
        self.set_param_hint("fwhm", expr=_fwhm_expr(self, 2.0))
        self.set_param_hint("height", expr=f"(((1-{pre}fraction)*{pre}amplitude)/"
                                           f"max({TINY}, ({pre}sigma*sqrt(pi/log(2))))"
                                           f"+({pre}fraction*{pre}amplitude)/max({TINY}, (pi*{pre}sigma)))")

    def guess(self, data: Any, x: Any, negative: bool = False, **kwargs: Any) -> Parameters:
        """As for a peak, with ``fraction`` starting at 0.5."""
        params = guess_from_peak(self, data, x, negative, ampscale=1.25)
        params[f"{self.prefix}fraction"].set(value=0.5, min=0.0, max=1.0)
        return _finish(self, params, kwargs)


class MoffatModel(_Peak):
    """``amplitude / (((x - center)/sigma)**2 + 1)**beta`` (``height = amplitude``)."""

    lineshape = staticmethod(ls.moffat)
    registered_name = "moffat"
    guess_ampscale = 0.5

    def _set_paramhints_prefix(self) -> None:
        pre = self.prefix
        self.set_param_hint("sigma", min=0)
        self.set_param_hint("fwhm", expr=f"2*{pre}sigma*sqrt(2**(1.0/max(1e-3, {pre}beta))-1)")
        self.set_param_hint("height", expr=f"{pre}amplitude")


class Pearson4Model(_Peak):
    """The Pearson type IV distribution; ``fwhm`` (about 20 % accurate), ``height`` and peak ``position`` derived."""

    lineshape = staticmethod(ls.pearson4)
    registered_name = "pearson4"

    def _set_paramhints_prefix(self) -> None:
        pre = self.prefix
        self.set_param_hint("expon", value=1.5, min=0.5 + TINY, max=1000)
        self.set_param_hint("skew", value=0.0, min=-1000, max=1000)
        self.set_param_hint("fwhm", expr=f"{pre}sigma*sqrt(2**(1/{pre}expon)-1)*pi/"
                                         f"arctan2(exp(1)*{pre}expon, {pre}skew)")
        self.set_param_hint("height", expr=(
            f"({pre}amplitude / {pre}sigma) * exp(2 * (real(loggammafcn({pre}expon + {pre}skew * 0.5j)) - "
            f"real(loggammafcn({pre}expon))) - betalnfnc({pre}expon-0.5, 0.5) - {pre}expon * "
            f"log1p(square({pre}skew/(2*{pre}expon))) - {pre}skew * arctan(-{pre}skew/(2*{pre}expon)))"))
        self.set_param_hint("position", expr=f"{pre}center-{pre}sigma*{pre}skew/(2*{pre}expon)")

    def guess(self, data: Any, x: Any, negative: bool = False, **kwargs: Any) -> Parameters:
        """As for a peak, with ``expon = 1.5`` and ``skew = 0``."""
        params = guess_from_peak(self, data, x, negative)
        params[f"{self.prefix}expon"].set(value=1.5)
        params[f"{self.prefix}skew"].set(value=0.0)
        return _finish(self, params, kwargs)


class Pearson7Model(_Peak):
    """The Pearson type VII distribution; ``expon`` starts at 1.5 (at most 100)."""

    lineshape = staticmethod(ls.pearson7)
    registered_name = "pearson7"

    def _set_paramhints_prefix(self) -> None:
        pre = self.prefix
        self.set_param_hint("expon", value=1.5, max=100)
        self.set_param_hint("fwhm", expr=f"sqrt(2**(1/{pre}expon)-1)*2*{pre}sigma")
        self.set_param_hint("height", expr=f"{pre}amplitude * gamfcn({pre}expon)/"
                                           f"max({TINY}, (gamfcn(0.5)*gamfcn({pre}expon-0.5)*{pre}sigma))")

    def guess(self, data: Any, x: Any, negative: bool = False, **kwargs: Any) -> Parameters:
        """As for a peak, with ``expon = 1.5``."""
        params = guess_from_peak(self, data, x, negative)
        params[f"{self.prefix}expon"].set(value=1.5)
        return _finish(self, params, kwargs)


class StudentsTModel(_Peak):
    """Student's t density with ``sigma`` degrees of freedom (``0 <= sigma <= 100``)."""

    lineshape = staticmethod(ls.students_t)
    registered_name = "students_t"

    def _set_paramhints_prefix(self) -> None:
        pre = self.prefix
        self.set_param_hint("sigma", min=0.0, max=100)
        self.set_param_hint("height", expr=f"{pre}amplitude*gamfcn(({pre}sigma+1)/2)/"
                                           f"(sqrt({pre}sigma*pi)*gamfcn({pre}sigma/2))")
        self.set_param_hint("fwhm", expr=f"2*sqrt(2**(2/({pre}sigma+1))*{pre}sigma-{pre}sigma)")


class BreitWignerModel(_Peak):
    """The Breit-Wigner-Fano resonance; ``q`` starts at 1."""

    lineshape = staticmethod(ls.breit_wigner)
    registered_name = "breit_wigner"

    def _set_paramhints_prefix(self) -> None:
        self.set_param_hint("sigma", min=0.0)

    def guess(self, data: Any, x: Any, negative: bool = False, **kwargs: Any) -> Parameters:
        """As for a peak, with ``q = 1``."""
        params = guess_from_peak(self, data, x, negative)
        params[f"{self.prefix}q"].set(value=1.0)
        return _finish(self, params, kwargs)


class LognormalModel(_Peak):
    """The log-normal density (area ``amplitude``)."""

    lineshape = staticmethod(ls.lognormal)
    registered_name = "lognormal"

    def _set_paramhints_prefix(self) -> None:
        pre = self.prefix
        self.set_param_hint("sigma", min=0)
        self.set_param_hint("height", expr=f"{pre}amplitude/max({TINY}, ({pre}sigma*sqrt(2*pi)))"
                                           f"*exp({pre}sigma**2/2-{pre}center)")
        self.set_param_hint("fwhm", expr=f"exp({pre}center-{pre}sigma**2+{pre}sigma*sqrt(2*log(2)))-"
                                         f"exp({pre}center-{pre}sigma**2-{pre}sigma*sqrt(2*log(2)))")

    def guess(self, data: Any, x: Any, negative: bool = False, **kwargs: Any) -> Parameters:
        """Fixed starting values ``amplitude=1, center=0, sigma=0.25`` (as lmfit)."""
        params = self.make_params(amplitude=1.0, center=0.0, sigma=0.25)
        params[f"{self.prefix}sigma"].set(min=0.0)
        return _finish(self, params, kwargs)


class DampedOscillatorModel(_Peak):
    """A driven damped oscillator's amplitude; ``height = amplitude / (2 sigma)``."""

    lineshape = staticmethod(ls.damped_oscillator)
    registered_name = "damped_oscillator"
    height_factor = 0.5
    guess_ampscale = 0.1
    guess_sigscale = 0.1

    def _set_paramhints_prefix(self) -> None:
        self.set_param_hint("sigma", min=0)
        self.set_param_hint("height", expr=_height_expr(self, self.height_factor))


class DampedHarmonicOscillatorModel(_Peak):
    """The damped harmonic oscillator with Bose factor (DAVE/PAN), ``gamma = kT``."""

    lineshape = staticmethod(ls.dho)
    registered_name = "dho"
    guess_ampscale = 0.1
    guess_sigscale = 0.1

    def _set_paramhints_prefix(self) -> None:
        pre = self.prefix
        self.set_param_hint("center", min=0)
        self.set_param_hint("sigma", min=0)
        self.set_param_hint("gamma", min=1.0e-19)
        self.set_param_hint("height", expr=(
            f"({pre}amplitude*{pre}sigma)/max({TINY}, (pi*(1-exp(-{pre}center/max({TINY}, {pre}gamma)))))*"
            f"(1/max({TINY}, {pre}sigma**2)-1/max({TINY}, (4*{pre}center**2+{pre}sigma**2)))"))
        self.set_param_hint("fwhm", expr=_fwhm_expr(self, 2.0))

    def guess(self, data: Any, x: Any, negative: bool = False, **kwargs: Any) -> Parameters:
        """As for a peak, with ``gamma = 1``."""
        params = guess_from_peak(self, data, x, negative, ampscale=0.1, sigscale=0.1)
        params[f"{self.prefix}gamma"].set(value=1.0, min=0.0)
        return _finish(self, params, kwargs)


class ExponentialGaussianModel(_Peak):
    """The exponentially modified Gaussian (``0 <= gamma <= 20``)."""

    lineshape = staticmethod(ls.expgaussian)
    registered_name = "expgaussian"

    def _set_paramhints_prefix(self) -> None:
        self.set_param_hint("sigma", min=0)
        self.set_param_hint("gamma", min=0, max=20)


class SkewedGaussianModel(_Peak):
    """A Gaussian skewed by ``1 + erf(gamma (x - center)/(sigma sqrt 2))``."""

    lineshape = staticmethod(ls.skewed_gaussian)
    registered_name = "skewed_gaussian"

    def _set_paramhints_prefix(self) -> None:
        self.set_param_hint("sigma", min=0)


class SkewedVoigtModel(_Peak):
    """A Voigt profile skewed by ``1 + erf(skew (x - center)/(sigma sqrt 2))``; ``gamma`` starts equal to ``sigma``."""

    lineshape = staticmethod(ls.skewed_voigt)
    registered_name = "skewed_voigt"

    def _set_paramhints_prefix(self) -> None:
        self.set_param_hint("sigma", min=0)
        self.set_param_hint("gamma", expr=f"{self.prefix}sigma")


class DoniachModel(_Peak):
    """The Doniach-Sunjic asymmetric shape of photo-emission."""

    lineshape = staticmethod(ls.doniach)
    registered_name = "doniach"
    guess_ampscale = 0.5

    def _set_paramhints_prefix(self) -> None:
        pre = self.prefix
        self.set_param_hint("height", expr=f"{pre}amplitude/max({TINY}, ({pre}sigma**(1-{pre}gamma)))"
                                           f"*cos(pi*{pre}gamma/2)")


class Gaussian2dModel(_Builtin):
    """A two-dimensional Gaussian of ``x`` and ``y`` (volume ``amplitude``); ``fwhmx``, ``fwhmy``, ``height``."""

    lineshape = staticmethod(ls.gaussian2d)
    registered_name = "gaussian2d"

    def __init__(self, independent_vars: Sequence[str] = ("x", "y"), prefix: str = "", nan_policy: str = "raise",
                 **kwargs: Any) -> None:
        super().__init__(independent_vars, prefix, nan_policy, **kwargs)

    def _set_paramhints_prefix(self) -> None:
        pre = self.prefix
        factor = 2.0 * math.sqrt(2.0 * math.log(2.0))
        self.set_param_hint("sigmax", min=0)
        self.set_param_hint("sigmay", min=0)
        self.set_param_hint("fwhmx", expr=f"{factor:.7f}*{pre}sigmax")
        self.set_param_hint("fwhmy", expr=f"{factor:.7f}*{pre}sigmay")
        self.set_param_hint("height", expr=f"{1 / (2 * math.pi):.7f}*{pre}amplitude/(max({TINY}, {pre}sigmax)"
                                           f"*max({TINY}, {pre}sigmay))")

    def guess(self, data: Any, x: Any, y: Any = None, negative: bool = False, **kwargs: Any) -> Parameters:
        """Centre at the largest (smallest, ``negative``) value; widths a sixth of the ranges."""
        if y is None:
            raise TypeError("Gaussian2dModel.guess needs both coordinates: guess(data, x=x, y=y)")
        z, xa, ya = (np.asarray(a, dtype=float).ravel() for a in (data, x, y))
        k = int(np.argmin(z) if negative else np.argmax(z))
        height = float(z.min() - z.max()) if negative else float(z.max() - z.min())
        sx, sy = float(xa.max() - xa.min()) / 6.0, float(ya.max() - ya.min()) / 6.0
        params = self.make_params(amplitude=height * sx * sy, centerx=float(xa[k]), centery=float(ya[k]),
                                  sigmax=sx, sigmay=sy)
        params[f"{self.prefix}sigmax"].set(min=0.0)
        params[f"{self.prefix}sigmay"].set(min=0.0)
        return _finish(self, params, kwargs)


# -- steps and thermal distributions ---------------------------------------------------------------
class _Form(_Builtin):
    """A model with a ``form`` option (an independent variable with a default, as in lmfit)."""

    valid_forms: tuple[str, ...] = ()
    default_form = ""

    def __init__(self, independent_vars: Sequence[str] = ("x", "form"), prefix: str = "", nan_policy: str = "raise",
                 form: str | None = None, **kwargs: Any) -> None:
        form = self.default_form if form is None else form
        if form not in self.valid_forms:
            raise ValueError(f"{type(self).__name__}: form={form!r}; use one of "
                             f"{', '.join(map(repr, self.valid_forms))}")
        super().__init__(independent_vars, prefix, nan_policy, form=form, **kwargs)
        self.independent_vars_defvals["form"] = form
        self.opts.pop("form", None)

    @property
    def form(self) -> str:
        """The model's form."""
        return str(self.independent_vars_defvals.get("form", self.default_form))

    def _reprstring(self, long: bool = False) -> str:
        text = super()._reprstring(long)
        return text[:-1] + f", form='{self.form}')" if long else text

    def init_kws(self) -> dict[str, Any]:
        """Return the constructor keywords that rebuild this model."""
        return {**super().init_kws(), "form": self.form}


class StepModel(_Form):
    """A step from 0 to ``amplitude`` at ``center`` of width ``sigma``; ``form`` linear, atan, erf or logistic."""

    lineshape = staticmethod(ls.step)
    registered_name = "step"
    valid_forms = ls.STEP_FORMS
    default_form = "linear"

    def guess(self, data: Any, x: Any, **kwargs: Any) -> Parameters:
        """Amplitude the data's range, centre mid-range, width a tenth of ``x``'s range (negative for a fall)."""
        xa, ya = _xy(data, x)
        params = self.make_params(amplitude=float(ya.max() - ya.min()), center=float(xa.max() + xa.min()) / 2.0)
        n = len(ya)
        sigma = 0.1 * float(xa.max() - xa.min())
        if ya[: n // 5].mean() > ya[-n // 5:].mean():
            sigma = -sigma
        params[f"{self.prefix}sigma"].set(value=sigma)
        return _finish(self, params, kwargs)


class RectangleModel(_Form):
    """A step up at ``center1`` and down at ``center2``; ``midpoint`` derived; ``form`` as for :class:`StepModel`."""

    lineshape = staticmethod(ls.rectangle)
    registered_name = "rectangle"
    valid_forms = ls.STEP_FORMS
    default_form = "linear"

    def _set_paramhints_prefix(self) -> None:
        pre = self.prefix
        self.set_param_hint("center1")
        self.set_param_hint("center2")
        self.set_param_hint("midpoint", expr=f"({pre}center1+{pre}center2)/2.0")

    def guess(self, data: Any, x: Any, **kwargs: Any) -> Parameters:
        """Amplitude the data's range; the edges at a quarter and three quarters of ``x``'s span."""
        xa, ya = _xy(data, x)
        lo, hi = float(xa.min()), float(xa.max())
        params = self.make_params(amplitude=float(ya.max() - ya.min()), center1=(hi + lo) / 4.0,
                                  center2=3 * (hi + lo) / 4.0, sigma1={"value": (hi - lo) / 10.0, "min": 0},
                                  sigma2={"value": (hi - lo) / 10.0, "min": 0})
        return _finish(self, params, kwargs)


def _guess_thermal(model: Model, data: Any, x: Any, kwargs: dict[str, Any]) -> Parameters:
    xa, ya = _xy(data, x)
    center = float(xa.mean())
    kt = float(xa.max() - xa.min()) / 10.0
    amplitude = float(ya.max()) * math.exp((float(xa.min()) - center) / max(1e-15, kt))
    return _finish(model, model.make_params(amplitude=amplitude, center=center, kt=kt), kwargs)


class ThermalDistributionModel(_Form):
    """``1/(amplitude exp((x - center)/kt) + k)``: Bose-Einstein, Maxwell-Boltzmann or Fermi-Dirac (``form``)."""

    lineshape = staticmethod(ls.thermal_distribution)
    registered_name = "thermal_distribution"
    valid_forms = ("bose", "maxwell", "fermi")
    default_form = "bose"

    def guess(self, data: Any, x: Any, negative: bool = False, **kwargs: Any) -> Parameters:
        """Centre the mean of ``x``, ``kt`` a tenth of its range."""
        return _guess_thermal(self, data, x, kwargs)


class BoseModel(_Builtin):
    """The Bose-Einstein occupation ``amplitude / (exp((x - center)/kt) - 1)``."""

    lineshape = staticmethod(ls.bose)
    registered_name = "bose"

    def guess(self, data: Any, x: Any, negative: bool = False, **kwargs: Any) -> Parameters:
        """Centre the mean of ``x``, ``kt`` a tenth of its range."""
        return _guess_thermal(self, data, x, kwargs)


class FermiModel(_Builtin):
    """The Fermi-Dirac occupation ``amplitude / (exp((x - center)/kt) + 1)``."""

    lineshape = staticmethod(ls.fermi)
    registered_name = "fermi"

    def guess(self, data: Any, x: Any, negative: bool = False, **kwargs: Any) -> Parameters:
        """Centre the mean of ``x``, ``kt`` a tenth of its range."""
        return _guess_thermal(self, data, x, kwargs)


# -- the registry of built-in models ---------------------------------------------------------------
def _all_builtin() -> Iterable[type[_Builtin]]:
    return (ConstantModel, ComplexConstantModel, LinearModel, QuadraticModel, PolynomialModel, SineModel,
            ExponentialModel, PowerLawModel, GaussianModel, LorentzianModel, SplitLorentzianModel, VoigtModel,
            PseudoVoigtModel, MoffatModel, Pearson4Model, Pearson7Model, StudentsTModel, BreitWignerModel,
            LognormalModel, DampedOscillatorModel, DampedHarmonicOscillatorModel, ExponentialGaussianModel,
            SkewedGaussianModel, SkewedVoigtModel, DoniachModel, Gaussian2dModel, StepModel, RectangleModel,
            ThermalDistributionModel, BoseModel, FermiModel)


#: registered name -> class of every built-in model
BUILTIN_MODELS: dict[str, type[_Builtin]] = {cls.registered_name: cls for cls in _all_builtin()}
