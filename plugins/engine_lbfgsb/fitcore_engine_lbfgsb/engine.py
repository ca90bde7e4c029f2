"""The ``lbfgsb`` engine: ``scipy.optimize.minimize(method='L-BFGS-B')`` on the chi-square."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from fitcore import ChiSquare, EngineResult, Problem

from .options import resolve_options

__all__ = ["lbfgsb"]


def lbfgsb(problem: Problem, **options: Any) -> EngineResult:
    """Minimize the chi-square of ``problem`` with L-BFGS-B inside its bounds.

    Parameters
    ----------
    problem : fitcore.Problem
        Bounds are native: ``problem.lower``/``problem.upper`` (may be infinite).
    **options
        ``m``/``maxcor``, ``factr``/``ftol``, ``pgtol``/``gtol``, ``epsilon``/``eps``,
        ``maxfun``, ``maxiter``, ``maxls``; see :data:`fitcore_engine_lbfgsb.OPTIONS`.

    Returns
    -------
    fitcore.EngineResult
        ``success`` is SciPy's (convergence by ``ftol`` or ``gtol``); ``nit``
        the L-BFGS-B iterations; ``extras`` the value/gradient evaluations.
    """
    opts = resolve_options(options)
    chi = ChiSquare.for_problem(problem, step=opts.pop("eps"))
    if opts["maxfun"] is None:
        opts["maxfun"] = 1000 * (problem.nvar + 1)
    bounds = [(lo if np.isfinite(lo) else None, hi if np.isfinite(hi) else None)
              for lo, hi in zip(problem.lower, problem.upper)]
    # L-BFGS-B's small dense algebra only loses to BLAS threads (50x on a busy 2-core machine)
    with threadpool_limits(limits=1, user_api="blas"):
        res = minimize(chi.value_and_gradient, problem.x0, method="L-BFGS-B", jac=True, bounds=bounds, options=opts)
    return EngineResult(
        x=np.asarray(res.x, dtype=float).reshape(problem.nvar),
        success=bool(res.success),
        message=str(res.message),
        status=int(res.status),
        nit=int(res.nit),
        extras={"lbfgsb_nfev": int(res.nfev), "lbfgsb_njev": int(getattr(res, "njev", res.nfev))},
    )
