"""The ``least_squares`` engine: ``scipy.optimize.least_squares`` on the residual vector, native bounds.

With ``loss='linear'`` it minimizes the chi-square, like ``leastsq``; with a robust loss
(``soft_l1``, ``huber``, ``cauchy``, ``arctan``) it minimizes scipy's
``cost = 0.5 * sum(f_scale**2 * rho((r / f_scale)**2))``, and that point is the answer
(the spec declares ``least_squares`` per option set, so the core never moves it toward the
chi-square minimum); scipy's ``cost`` is reported as ``EngineResult.objective_value``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy.optimize import OptimizeResult, least_squares

from fitcore import EngineResult, Problem
from fitcore.errors import EngineCapabilityError, EngineOptionError

from .common import message_of, stationary
from .options import LEAST_SQUARES

__all__ = ["least_squares_engine", "run"]


def run(fun: Callable[[np.ndarray], np.ndarray], jac: Callable[[np.ndarray], Any] | None, x0: np.ndarray,
        lower: np.ndarray, upper: np.ndarray, options: Mapping[str, Any]) -> OptimizeResult:
    """Call :func:`scipy.optimize.least_squares` with the engine's options (``None`` = scipy's default)."""
    opts = {**LEAST_SQUARES, **options}
    kws = {k: v for k, v in opts.items() if v is not None and k not in ("maxfev", "jac")}
    if opts["maxfev"] is not None:
        kws["max_nfev"] = opts["maxfev"]
    return least_squares(fun, x0, jac=opts["jac"] if jac is None else jac, bounds=(lower, upper), **kws)


def _check_problem(problem: Problem, opts: Mapping[str, Any]) -> None:
    """Refuse, before scipy evaluates anything, what only the problem's size tells."""
    if opts["method"] == "lm" and problem.ndata < problem.nvar:
        raise EngineCapabilityError(
            f"engine 'least_squares': method='lm' needs at least as many residuals as varied parameters; "
            f"this fit has {problem.ndata} residuals and {problem.nvar} parameters. Use method='trf'",
            "least_squares")
    sparsity = opts["jac_sparsity"]
    if sparsity is not None:
        shape = getattr(sparsity, "shape", None) or np.shape(sparsity)
        if tuple(shape) != (problem.ndata, problem.nvar):
            raise EngineOptionError(
                f"engine 'least_squares': jac_sparsity has shape {tuple(shape)}; this fit needs "
                f"(ndata, nvar) = ({problem.ndata}, {problem.nvar}), columns in the order "
                f"{', '.join(problem.names)}", "least_squares", "jac_sparsity")


def least_squares_engine(problem: Problem, **options: Any) -> EngineResult:
    """Minimize the (robust) sum of squares of ``problem.residual`` inside its bounds.

    Parameters
    ----------
    problem : fitcore.Problem
        Native bounds; ``method='lm'`` takes none (refused by the precheck).
    **options
        ``method``, ``loss``, ``f_scale``, ``x_scale``, ``ftol``, ``xtol``, ``gtol``,
        ``diff_step``, ``jac`` (``'2-point'``/``'3-point'``, when no ``Dfun`` was given),
        ``tr_solver``, ``tr_options``, ``jac_sparsity``, ``maxfev`` (scipy's ``max_nfev``).

    Returns
    -------
    fitcore.EngineResult
        scipy's ``status`` and ``message``. ``success`` is scipy's and, for ``loss='linear'``,
        only where the chi-square gradient at the answer is negligible.
        ``objective_value`` is scipy's ``cost`` for a robust loss.
    """
    opts = {**LEAST_SQUARES, **options}
    _check_problem(problem, opts)
    jac = problem.jacobian if problem.has_analytic_jacobian else None
    x0 = np.clip(np.array(problem.x0, dtype=float), problem.lower, problem.upper)
    res = run(problem.residual, jac, x0, problem.lower, problem.upper, opts)
    x = np.clip(np.asarray(res.x, dtype=float), problem.lower, problem.upper)
    robust = opts["loss"] != "linear"
    success, message = bool(res.success), message_of(res)
    why = stationary(problem, x, res.fun, res.jac) if success and not robust else None
    if why:
        success = False
        message += f"; but {why}: try another start, tighter ftol/xtol/gtol or engine='leastsq'"
    extras: dict[str, Any] = {
        "method": opts["method"], "loss": opts["loss"], "cost": float(res.cost),
        "optimality": float(res.optimality), "active_mask": np.asarray(res.active_mask).tolist(),
        "scipy_nfev": int(res.nfev), "scipy_njev": int(res.njev or 0),
    }
    return EngineResult(x=x.reshape(problem.nvar), success=success, message=message, status=int(res.status),
                        extras=extras, objective_value=float(res.cost) if robust else None)
