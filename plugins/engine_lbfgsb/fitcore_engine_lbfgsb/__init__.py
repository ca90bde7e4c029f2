"""fitcore engine ``lbfgsb``: L-BFGS-B from SciPy minimizing the chi-square, with native bounds.

Registered through the ``fitcore`` entry-point group like any third-party
engine. The engine itself lives in :mod:`fitcore_engine_lbfgsb.engine` and is
imported only when a fit selects it.
"""

from __future__ import annotations

from collections.abc import Iterable

from fitcore import EngineSpec, hookimpl

from .options import OPTIONS

__all__ = ["fitcore_engines", "OPTIONS"]

#: the plugin contract this module was written for (docs/plugins.md)
fitcore_contract = "1.1"


@hookimpl
def fitcore_engines() -> Iterable[EngineSpec]:
    """Register the ``lbfgsb`` engine."""
    yield EngineSpec(
        name="lbfgsb",
        engine="fitcore_engine_lbfgsb.engine:lbfgsb",
        summary="L-BFGS-B quasi-Newton with native bounds (scipy.optimize.minimize), minimizing chi-square",
        aliases=("l-bfgs-b",),
        objective="scalar",
        bounds="native",
        supports_max_nfev=True,
        supports_abort=True,
        options=OPTIONS,
        least_squares=True,
        precheck="fitcore_engine_lbfgsb.options:precheck",
    )
