"""fitcore engine ``nlopt``: every algorithm compiled into the installed NLopt, chosen by ``algorithm``.

Registered through the ``fitcore`` entry-point group. Importing this module,
importing fitcore and listing engines never import nlopt: the engine, its
precheck and its algorithm listing are ``"module:attr"`` strings resolved on
use, and ``requires=('nlopt',)`` lets listings report the engine unavailable
(with the install hint) where nlopt is not installed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fitcore import EngineSpec, hookimpl

__all__ = ["fitcore_engines", "OPTIONS", "INSTALL_HINT"]

#: the plugin contract this module was written for (docs/plugins.md)
fitcore_contract = "1.1"

INSTALL_HINT = "install NLopt's Python package: pip install nlopt"

#: Defaults. ``maxeval=None`` means ``2000 * (nvar + 1)`` for local algorithms and
#: ``1000 * (nvar + 1)`` for the global search of global ones. ``local_algorithm=None``
#: means ``'LN_BOBYQA'`` where one is needed (AUGLAG, G_MLSL) or used (polish).
#: ``polish=None`` means True for global algorithms: their best point is refined by
#: ``local_algorithm`` inside the bounds so the minimum (and the error bars) are accurate.
OPTIONS: dict[str, Any] = {
    "algorithm": "LN_BOBYQA",
    "local_algorithm": None,
    "xtol_rel": 1.0e-10,
    "ftol_rel": 1.0e-12,
    "xtol_abs": 0.0,
    "ftol_abs": 0.0,
    "maxeval": None,
    "maxtime": None,
    "initial_step": None,
    "population": None,
    "polish": None,
}


@hookimpl
def fitcore_engines() -> Iterable[EngineSpec]:
    """Register the ``nlopt`` engine."""
    yield EngineSpec(
        name="nlopt",
        engine="fitcore_engine_nlopt.engine:nlopt_engine",
        summary="NLopt's local and global algorithms (option algorithm=, default 'LN_BOBYQA') on chi-square",
        objective="scalar",
        bounds="native",
        is_global=False,
        stochastic=True,
        supports_max_nfev=True,
        supports_abort=True,
        options=OPTIONS,
        least_squares=True,
        precheck="fitcore_engine_nlopt.checks:precheck",
        requires=("nlopt",),
        install_hint=INSTALL_HINT,
        details="fitcore_engine_nlopt.algorithms:details",
    )
