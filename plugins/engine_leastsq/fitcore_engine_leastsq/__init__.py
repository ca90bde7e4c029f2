"""fitcore engine ``leastsq``: Levenberg-Marquardt from MINPACK via ``scipy.optimize.leastsq``.

Registered through the ``fitcore`` entry-point group like any third-party
engine. Bounds reach it through fitcore's MINUIT-style transform.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
from scipy.optimize import leastsq as _leastsq

from fitcore import EngineResult, EngineSpec, Problem, hookimpl

__all__ = ["leastsq", "fitcore_engines"]

#: The manual's defaults; ``maxfev=None`` means ``1000 * (nvar + 1)``.
OPTIONS: dict[str, Any] = {
    "xtol": 1.0e-7,
    "ftol": 1.0e-7,
    "gtol": 0.0,
    "maxfev": None,
    "epsfcn": None,
    "factor": 100.0,
    "diag": None,
}
_SUCCESS = (1, 2, 3, 4)


def leastsq(problem: Problem, **options: Any) -> EngineResult:
    """Minimize ``problem.residual`` with MINPACK's Levenberg-Marquardt.

    Parameters
    ----------
    problem : fitcore.Problem
        An unbounded problem (bounds are transformed away by the core).
    **options
        ``xtol``, ``ftol``, ``gtol``, ``maxfev``, ``epsfcn``, ``factor``,
        ``diag``: passed to :func:`scipy.optimize.leastsq`.

    Returns
    -------
    fitcore.EngineResult
        ``status`` is MINPACK's ``ier``; ``success`` is True for ier 1-4.
    """
    opts = {**OPTIONS, **options}
    n = problem.nvar
    if opts["maxfev"] is None:
        opts["maxfev"] = 1000 * (n + 1)
    if opts["diag"] is None:
        del opts["diag"]
    pad = max(n - problem.ndata, 0)  # MINPACK needs m >= n; zero rows leave chi-square unchanged

    def func(x: np.ndarray) -> np.ndarray:
        r = problem.residual(x)
        return np.concatenate([r, np.zeros(pad)]) if pad else r

    dfun = None
    if problem.has_analytic_jacobian:
        def dfun(x: np.ndarray) -> np.ndarray:
            jac = problem.jacobian(x)
            return np.vstack([jac, np.zeros((pad, n))]) if pad else jac

    x, _, info, mesg, ier = _leastsq(func, problem.x0, Dfun=dfun, full_output=True, **opts)
    return EngineResult(
        x=np.asarray(x, dtype=float).reshape(n),
        success=ier in _SUCCESS,
        message=" ".join(str(mesg).split()),
        status=int(ier),
        extras={"minpack_nfev": int(info["nfev"]), "minpack_njev": int(info.get("njev", 0) or 0)},
    )


@hookimpl
def fitcore_engines() -> Iterable[EngineSpec]:
    """Register the ``leastsq`` engine."""
    yield EngineSpec(
        name="leastsq",
        engine=leastsq,
        summary="Levenberg-Marquardt (MINPACK lmdif/lmder via scipy.optimize.leastsq)",
        objective="residuals",
        bounds="transform",
        supports_max_nfev=True,
        supports_abort=True,
        options=OPTIONS,
    )
