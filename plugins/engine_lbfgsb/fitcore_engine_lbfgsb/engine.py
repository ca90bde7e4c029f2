"""The ``lbfgsb`` engine: ``scipy.optimize.minimize(method='L-BFGS-B')`` on ``problem.scalar``.

That is the chi-square of a least-squares fit, or the user's cost (``problem.objective == 'cost'``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from fitcore import EngineResult, Problem

from .options import resolve_options

__all__ = ["lbfgsb"]


def lbfgsb(problem: Problem, **options: Any) -> EngineResult:
    """Minimize ``problem.scalar`` (chi-square, or a cost) with L-BFGS-B inside the bounds.

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
    if opts["eps"] is None:  # the core's gradient: J^T r from the residual (least squares), or central differences
        fun: Any = lambda x: (problem.scalar(x), problem.gradient(x))  # noqa: E731 - shares one evaluation
        jac: Any = True
    else:  # epsilon given: as in fmin_l_bfgs_b, scipy differences the objective itself with that absolute step
        fun, jac = problem.scalar, None
        opts["eps"] = float(opts["eps"])
    if opts["maxfun"] is None:
        opts["maxfun"] = 1000 * (problem.nvar + 1)
    bounds = [(lo if np.isfinite(lo) else None, hi if np.isfinite(hi) else None)
              for lo, hi in zip(problem.lower, problem.upper)]
    # L-BFGS-B's small dense algebra only loses to BLAS threads (50x on a busy 2-core machine)
    with threadpool_limits(limits=1, user_api="blas"):
        res = minimize(fun, problem.x0, method="L-BFGS-B", jac=jac, bounds=bounds,
                       options={k: v for k, v in opts.items() if v is not None})
    return EngineResult(
        x=np.asarray(res.x, dtype=float).reshape(problem.nvar),
        success=bool(res.success),
        message=str(res.message),
        status=int(res.status),
        nit=int(res.nit),
        extras={"lbfgsb_nfev": int(res.nfev), "lbfgsb_njev": int(getattr(res, "njev", res.nfev))},
    )
