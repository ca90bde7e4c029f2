"""fitcore engine ``anneal``: generalized simulated annealing (``scipy.optimize.dual_annealing``).

``scipy.optimize.anneal``, which the lmfit 0.5 manual wraps, left SciPy in
0.16; this engine builds on the dual annealing SciPy ships now. It is a global
search over the box given by the parameters' bounds, so every varied parameter
needs a finite ``min`` and ``max``; the core refuses a fit without them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fitcore import EngineSpec, hookimpl

__all__ = ["fitcore_engines", "OPTIONS"]

#: the plugin contract this module was written for (docs/plugins.md)
fitcore_contract = "1.1"

#: SciPy's defaults, plus ``polish``: a final L-BFGS-B run with tight tolerances
#: (``ftol=1e-12``, ``gtol=1e-8``) from the best point, so that the minimum and
#: the error bars are as accurate as a local engine's.
OPTIONS: dict[str, Any] = {
    "maxiter": 1000,
    "initial_temp": 5230.0,
    "restart_temp_ratio": 2.0e-5,
    "visit": 2.62,
    "accept": -5.0,
    "maxfun": 10_000_000,
    "no_local_search": False,
    "polish": True,
}


@hookimpl
def fitcore_engines() -> Iterable[EngineSpec]:
    """Register the ``anneal`` engine."""
    yield EngineSpec(
        name="anneal",
        engine="fitcore_engine_anneal.engine:anneal",
        summary="Generalized simulated annealing (scipy.optimize.dual_annealing), a global search in finite bounds",
        aliases=("dual_annealing",),
        objective="scalar",
        bounds="required_finite",
        is_global=True,
        stochastic=True,
        supports_max_nfev=True,
        supports_abort=True,
        options=OPTIONS,
        least_squares=True,
        precheck="fitcore_engine_anneal.engine:precheck",
    )
