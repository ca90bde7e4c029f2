"""fitcore's built-in models, registered through the ``fitcore_models`` hook like any third party's.

fitcore's own distribution declares this module in its ``fitcore`` entry points
(``builtin_models = "fitcore.models_plugin"``), so ``fitcore.Model('gaussian')``
finds :class:`fitcore.models.GaussianModel` by the same door a third-party
distribution's models use. ``example`` values let the conformance kit
(``fitcore check-model NAME``) fit each model's ``guess`` to its own synthetic data.
"""

from __future__ import annotations

from collections.abc import Iterator

from .hookspecs import hookimpl
from .specs import ModelSpec

__all__ = ["fitcore_models", "EXAMPLES"]

_PEAK = {"amplitude": 5.0, "center": 0.5, "sigma": 0.8}
#: name -> (class name in fitcore.models, example values, x range) of every built-in model
EXAMPLES: dict[str, tuple[str, dict[str, float] | None, tuple[float, float, int]]] = {
    "constant": ("ConstantModel", {"c": 2.5}, (-5.0, 5.0, 201)),
    "complex_constant": ("ComplexConstantModel", None, (-5.0, 5.0, 201)),
    "linear": ("LinearModel", {"slope": 0.7, "intercept": -1.2}, (-5.0, 5.0, 201)),
    "quadratic": ("QuadraticModel", {"a": 0.3, "b": -0.5, "c": 2.0}, (-5.0, 5.0, 201)),
    "polynomial": ("PolynomialModel", {"c0": 1.0, "c1": -0.5, "c2": 0.2}, (-5.0, 5.0, 201)),
    "sine": ("SineModel", {"amplitude": 2.0, "frequency": 1.3, "shift": 0.7}, (-6.0, 8.0, 401)),
    "exponential": ("ExponentialModel", {"amplitude": 3.0, "decay": 2.5}, (0.2, 10.0, 300)),
    "powerlaw": ("PowerLawModel", {"amplitude": 1.5, "exponent": 0.8}, (0.2, 10.0, 300)),
    "gaussian": ("GaussianModel", _PEAK, (-6.0, 8.0, 401)),
    "lorentzian": ("LorentzianModel", {"amplitude": 5.0, "center": 0.5, "sigma": 0.6}, (-6.0, 8.0, 401)),
    "split_lorentzian": ("SplitLorentzianModel", {**_PEAK, "sigma_r": 1.1}, (-6.0, 8.0, 401)),
    "voigt": ("VoigtModel", {"amplitude": 5.0, "center": 0.5, "sigma": 0.6}, (-6.0, 8.0, 401)),
    "pvoigt": ("PseudoVoigtModel", {**_PEAK, "fraction": 0.3}, (-6.0, 8.0, 401)),
    "moffat": ("MoffatModel", {**_PEAK, "beta": 1.5}, (-6.0, 8.0, 401)),
    "pearson4": ("Pearson4Model", None, (-6.0, 8.0, 401)),
    "pearson7": ("Pearson7Model", {**_PEAK, "expon": 1.8}, (-6.0, 8.0, 401)),
    "students_t": ("StudentsTModel", {"amplitude": 5.0, "center": 0.5, "sigma": 2.5}, (-6.0, 8.0, 401)),
    "breit_wigner": ("BreitWignerModel", {"amplitude": 5.0, "center": 1.0, "sigma": 1.2, "q": 3.0},
                     (-6.0, 8.0, 401)),
    "lognormal": ("LognormalModel", None, (0.05, 10.0, 300)),
    "damped_oscillator": ("DampedOscillatorModel", {"amplitude": 2.0, "center": 4.0, "sigma": 0.1},
                          (0.2, 10.0, 300)),
    "dho": ("DampedHarmonicOscillatorModel", None, (0.2, 10.0, 300)),
    "expgaussian": ("ExponentialGaussianModel", {**_PEAK, "gamma": 1.2}, (-6.0, 8.0, 401)),
    "skewed_gaussian": ("SkewedGaussianModel", {**_PEAK, "gamma": 1.5}, (-6.0, 8.0, 401)),
    "skewed_voigt": ("SkewedVoigtModel", None, (-6.0, 8.0, 401)),
    "doniach": ("DoniachModel", None, (-6.0, 8.0, 401)),
    "gaussian2d": ("Gaussian2dModel", None, (-5.0, 5.0, 201)),
    "step": ("StepModel", {"amplitude": 3.0, "center": 1.0, "sigma": 0.8}, (-6.0, 8.0, 401)),
    "rectangle": ("RectangleModel", {"amplitude": 3.0, "center1": 2.5, "sigma1": 0.8, "center2": 7.0,
                                     "sigma2": 1.0}, (0.0, 10.0, 401)),
    "thermal_distribution": ("ThermalDistributionModel", None, (-5.0, 5.0, 201)),
    "bose": ("BoseModel", None, (-5.0, 5.0, 201)),
    "fermi": ("FermiModel", None, (-5.0, 5.0, 201)),
}
_SUMMARIES = {
    "constant": "c, independent of x", "complex_constant": "re + 1j*im, independent of x",
    "linear": "slope * x + intercept", "quadratic": "a x**2 + b x + c", "polynomial": "c0 + c1 x + ... (degree 0-7)",
    "sine": "amplitude sin(frequency x + shift)", "exponential": "amplitude exp(-x/decay)",
    "powerlaw": "amplitude x**exponent", "gaussian": "Gaussian peak (area amplitude); fwhm, height",
    "lorentzian": "Lorentzian peak; fwhm, height", "split_lorentzian": "Lorentzian with different half-widths",
    "voigt": "Voigt profile (Faddeeva function); fwhm, height", "pvoigt": "pseudo-Voigt: Gaussian + Lorentzian",
    "moffat": "Moffat profile", "pearson4": "Pearson type IV distribution", "pearson7": "Pearson type VII peak",
    "students_t": "Student's t density", "breit_wigner": "Breit-Wigner-Fano resonance",
    "lognormal": "log-normal density", "damped_oscillator": "driven damped oscillator amplitude",
    "dho": "damped harmonic oscillator with Bose factor", "expgaussian": "exponentially modified Gaussian",
    "skewed_gaussian": "skew-normal peak", "skewed_voigt": "skewed Voigt profile",
    "doniach": "Doniach-Sunjic photo-emission line", "gaussian2d": "two-dimensional Gaussian of x and y",
    "step": "step: linear, atan, erf or logistic", "rectangle": "step up then down: linear, atan, erf or logistic",
    "thermal_distribution": "Bose-Einstein, Maxwell-Boltzmann or Fermi-Dirac occupation",
    "bose": "Bose-Einstein occupation", "fermi": "Fermi-Dirac occupation",
}


@hookimpl
def fitcore_models() -> Iterator[ModelSpec]:
    """Yield the built-in models of :mod:`fitcore.models`."""
    for name, (cls, example, x) in EXAMPLES.items():
        yield ModelSpec(name=name, model=f"fitcore.models:{cls}", summary=_SUMMARIES[name], example=example, x=x)
