"""fitcore engine ``emcee``: samples the posterior of the parameters with emcee's ensemble sampler.

The log-probability is the log-likelihood of the fit with flat priors inside the bounds:
``-chisqr / 2`` for residuals already divided by their uncertainties (``is_weighted=True``);
for other residuals a noise scale ``sigma = exp(__lnsigma)`` is sampled with them (as lmfit
does), ``-chisqr / (2 sigma**2) - ndata * log(sigma)``; for a cost fit ``-cost / (2 errordef)``
(the negative log-likelihood itself when ``errordef=0.5``). The engine returns the samples;
the core sets the values to their medians and the error bars to half the 15.87-84.13 %
quantile width.

Importing this module never imports emcee (``requires=('emcee',)``: listings report the
engine unavailable, with the install hint, where emcee is missing).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fitcore import EngineSpec, hookimpl

__all__ = ["fitcore_contract", "fitcore_engines", "OPTIONS", "INSTALL_HINT"]

#: the plugin contract these engines are written for (1.1: EngineSpec.least_squares, cost fits,
#: EngineResult.objective_value and samples)
fitcore_contract = "1.1"

INSTALL_HINT = "install emcee: pip install fitcore-engine-emcee (or pip install emcee)"

#: ``nwalkers=None`` means ``max(32, 2 * ndim + 2)`` (``ndim`` counts ``__lnsigma`` when it is sampled);
#: ``is_weighted=None`` means False for least-squares fits (the noise scale is sampled) and does not apply
#: to cost fits.
OPTIONS: dict[str, Any] = {
    "nwalkers": None,
    "steps": 1000,
    "burn": 200,
    "thin": 1,
    "is_weighted": None,
    "progress": False,
    "min_autocorr_lengths": 10.0,
}


@hookimpl
def fitcore_engines() -> Iterable[EngineSpec]:
    """Register the ``emcee`` engine."""
    yield EngineSpec(
        name="emcee",
        engine="fitcore_engine_emcee.engine:emcee_engine",
        summary="MCMC sampling of the posterior (emcee's affine-invariant ensemble), flat priors in the bounds",
        objective="scalar",
        bounds="native",
        is_global=False,
        stochastic=True,
        supports_max_nfev=True,
        supports_abort=True,
        options=OPTIONS,
        precheck="fitcore_engine_emcee.checks:precheck",
        requires=("emcee",),
        install_hint=INSTALL_HINT,
        least_squares=False,
    )
