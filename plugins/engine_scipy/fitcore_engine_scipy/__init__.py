"""fitcore engines from ``scipy.optimize``: one engine per method, each registered like a third party's.

* ``least_squares``: trust-region least squares (``trf``, ``dogbox``, ``lm``) on the residual vector,
  with robust losses, native bounds and sparse Jacobians;
* the ``scipy.optimize.minimize`` family on the scalar objective (the chi-square, or the user's
  cost): ``nelder``, ``powell``, ``cg``, ``bfgs``, ``tnc``, ``slsqp``, ``trust-constr``;
* global searches: ``differential_evolution``, ``basinhopping``, ``shgo``, ``brute``.

Names are lmfit's method names; scipy's spellings are aliases (``'nelder-mead'``). Importing
this module imports nothing from scipy: engines and prechecks are ``"module:attr"`` strings
resolved when a fit selects them. Every option is checked against the installed scipy before any
evaluation (see :mod:`fitcore_engine_scipy.checks`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fitcore import EngineSpec, hookimpl

from .options import OPTIONS

__all__ = ["fitcore_contract", "fitcore_engines", "OPTIONS", "ENGINES"]

#: the plugin contract these engines are written for (1.1: EngineSpec.least_squares, cost fits,
#: EngineResult.objective_value and samples)
fitcore_contract = "1.1"

_PKG = "fitcore_engine_scipy"

#: name -> (module:function, summary, aliases, objective, bounds, is_global, stochastic)
ENGINES: Mapping[str, tuple[str, str, tuple[str, ...], str, str, bool, bool]] = {
    "least_squares": ("least_squares:least_squares_engine",
                      "Trust-region least squares (scipy.optimize.least_squares: trf, dogbox, lm), robust losses",
                      (), "residuals", "native", False, False),
    "nelder": ("local:nelder", "Nelder-Mead simplex (scipy.optimize.minimize), derivative-free",
               ("nelder-mead",), "scalar", "native", False, False),
    "powell": ("local:powell", "Powell's conjugate directions (scipy.optimize.minimize), derivative-free",
               (), "scalar", "native", False, False),
    "cg": ("local:cg", "Nonlinear conjugate gradient (scipy.optimize.minimize); bounds by transform",
           (), "scalar", "transform", False, False),
    "bfgs": ("local:bfgs", "BFGS quasi-Newton (scipy.optimize.minimize); bounds by transform",
             (), "scalar", "transform", False, False),
    "tnc": ("local:tnc", "Truncated Newton with native bounds (scipy.optimize.minimize)",
            (), "scalar", "native", False, False),
    "slsqp": ("local:slsqp", "Sequential least squares programming with native bounds (scipy.optimize.minimize)",
              (), "scalar", "native", False, False),
    "trust-constr": ("local:trust_constr", "Trust-region interior point with native bounds (scipy.optimize.minimize)",
                     ("trust_constr",), "scalar", "native", False, False),
    "differential_evolution": ("globals:differential_evolution_engine",
                               "Differential evolution (scipy.optimize.differential_evolution) in finite bounds",
                               (), "scalar", "required_finite", True, True),
    "basinhopping": ("globals:basinhopping_engine",
                     "Basin hopping with bounded L-BFGS-B local searches (scipy.optimize.basinhopping)",
                     (), "scalar", "native", True, True),
    "shgo": ("globals:shgo_engine", "Simplicial homology global optimization (scipy.optimize.shgo) in finite bounds",
             (), "scalar", "required_finite", True, False),
    "brute": ("globals:brute_engine",
              "Grid search over finite bounds (scipy.optimize.brute), grid and objective kept for plotting",
              (), "scalar", "required_finite", True, False),
}


@hookimpl
def fitcore_engines() -> Iterable[EngineSpec]:
    """Register one engine per scipy method."""
    for name, (target, summary, aliases, objective, bounds, is_global, stochastic) in ENGINES.items():
        options: dict[str, Any] = OPTIONS[name]
        yield EngineSpec(
            name=name,
            engine=f"{_PKG}.{target}",
            summary=summary,
            aliases=aliases,
            objective=objective,  # type: ignore[arg-type]
            bounds=bounds,  # type: ignore[arg-type]
            is_global=is_global,
            stochastic=stochastic,
            supports_max_nfev=True,
            supports_abort=True,
            options=options,
            precheck=f"{_PKG}.checks:precheck_{name.replace('-', '_')}",
            # least_squares minimizes the plain sum of squares only with loss='linear'; the others minimize
            # problem.scalar, which is the chi-square in a least-squares fit
            least_squares=f"{_PKG}.checks:plain_sum_of_squares" if name == "least_squares" else True,
        )
