"""The ``scipy.optimize.minimize`` engines: one function per method, on ``problem.scalar``.

``problem.scalar`` is the chi-square of a least-squares fit or the user's cost of a cost fit;
gradient methods get ``problem.gradient`` (the user's ``Dfun`` when given, else forward
differences pointing into the bounds). Bounds are passed natively to the methods that take
them (Nelder-Mead, Powell, TNC, SLSQP, trust-constr); CG and BFGS see the core's transform.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy.optimize import BFGS, Bounds, OptimizeResult, minimize

from fitcore import EngineResult, Problem

from .common import Finite, inside, is_cost_fit, message_of, one_blas_thread, stationary, uncarried
from .options import MINIMIZE

__all__ = ["run", "nelder", "powell", "cg", "bfgs", "tnc", "slsqp", "trust_constr"]

#: methods that use the gradient
_GRADIENT = ("cg", "bfgs", "tnc", "slsqp", "trust-constr")
#: methods whose status 2 is a line search that failed on roundoff ("precision loss")
_LINE_SEARCH = ("cg", "bfgs")
#: methods given the bounds natively (the others declare bounds='transform' and see none)
_NATIVE = ("nelder", "powell", "tnc", "slsqp", "trust-constr")


def run(name: str, fun: Callable[[np.ndarray], float], jac: Callable[[np.ndarray], np.ndarray], x0: np.ndarray,
        lower: np.ndarray, upper: np.ndarray, options: Mapping[str, Any]) -> OptimizeResult:
    """Call :func:`scipy.optimize.minimize` for engine ``name`` (options ``None`` = scipy's default)."""
    method, defaults = MINIMIZE[name]
    opts = {k: v for k, v in {**defaults, **options}.items() if v is not None}
    if name == "tnc" and "maxfun" not in opts:  # scipy's max(100, 10 * nvar) stops most fits short
        opts["maxfun"] = 1000 * (np.size(x0) + 1)
    kws: dict[str, Any] = {}
    if name in _GRADIENT:
        kws["jac"] = jac
    if name == "trust-constr":
        kws["hess"] = BFGS()
    if name in _NATIVE and (np.isfinite(lower).any() or np.isfinite(upper).any()):
        # keep_feasible: trust-constr's iterates (and so every evaluation) stay inside the bounds
        kws["bounds"] = Bounds(lower, upper, keep_feasible=name == "trust-constr")
    return minimize(fun, x0, method=method, options=opts, **kws)


def conjugate_directions(problem: Problem, x0: np.ndarray) -> np.ndarray | None:
    """Powell's starting directions: the eigenvectors of the Gauss-Newton Hessian ``J^T J`` at ``x0``.

    Powell's method converges in one sweep on a quadratic when its directions are conjugate;
    from the coordinate axes scipy's Powell crawls along a correlated valley (2000 evaluations
    without reaching a straight line's minimum). Costs one Jacobian; None for cost fits, whose
    Hessian the core does not offer (Powell then starts from the coordinate axes).
    """
    if is_cost_fit(problem):
        return None
    jac = np.asarray(problem.jacobian(x0), dtype=float)
    if not np.all(np.isfinite(jac)):
        return None
    return np.linalg.eigh(jac.T @ jac)[1].T


@one_blas_thread
def _local(name: str, problem: Problem, options: Mapping[str, Any]) -> EngineResult:
    x0 = np.clip(np.array(problem.x0, dtype=float), problem.lower, problem.upper)
    if name == "powell" and options.get("direc") is None:
        options = {**options, "direc": conjugate_directions(problem, x0)}
    scalar, gradient = inside(problem)
    with uncarried():  # a non-finite value (nan_policy='propagate') is +inf: a line search backs off
        res = run(name, Finite(scalar), gradient, x0, problem.lower, problem.upper, options)
    x = np.clip(np.asarray(res.x, dtype=float).reshape(problem.nvar), problem.lower, problem.upper)
    success, message = bool(res.success), message_of(res)
    status = int(res.get("status", 0))
    if not success and name in _LINE_SEARCH and status == 2 and not is_cost_fit(problem):
        # "Desired error not necessarily achieved due to precision loss": the line search failed on
        # roundoff, which at the minimum is where it should fail; the stationarity test decides
        why = stationary(problem, x)
        if why is None:
            success = True
            message += "; the result passes fitcore's stationarity test, so it is a minimum"
    else:
        why = stationary(problem, x) if success else None
        if why:
            success = False
            message += f"; but {why}: try another start, tighter tolerances or another engine"
    nit = res.get("nit")
    extras = {"method": MINIMIZE[name][0], "fun": float(res.fun), "scipy_nfev": int(res.get("nfev", 0)),
              "scipy_njev": int(res.get("njev", 0) or 0)}
    return EngineResult(x=x, success=success, message=message, status=status,
                        nit=None if nit is None else int(nit), extras=extras)


def nelder(problem: Problem, **options: Any) -> EngineResult:
    """Minimize with the Nelder-Mead simplex within the bounds."""
    return _local("nelder", problem, options)


def powell(problem: Problem, **options: Any) -> EngineResult:
    """Minimize with Powell's conjugate-direction method within the bounds."""
    return _local("powell", problem, options)


def cg(problem: Problem, **options: Any) -> EngineResult:
    """Minimize with nonlinear conjugate gradients (Polak-Ribiere) on the transformed, unbounded problem."""
    return _local("cg", problem, options)


def bfgs(problem: Problem, **options: Any) -> EngineResult:
    """Minimize with BFGS quasi-Newton on the transformed, unbounded problem."""
    return _local("bfgs", problem, options)


def tnc(problem: Problem, **options: Any) -> EngineResult:
    """Minimize with truncated Newton (TNC) within the bounds."""
    return _local("tnc", problem, options)


def slsqp(problem: Problem, **options: Any) -> EngineResult:
    """Minimize with sequential least squares programming within the bounds."""
    return _local("slsqp", problem, options)


def trust_constr(problem: Problem, **options: Any) -> EngineResult:
    """Minimize with a trust-region interior point method (BFGS Hessian), iterates inside the bounds."""
    return _local("trust-constr", problem, options)
