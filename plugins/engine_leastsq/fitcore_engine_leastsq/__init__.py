"""fitcore engine ``leastsq``: Levenberg-Marquardt from MINPACK via ``scipy.optimize.leastsq``.

Registered through the ``fitcore`` entry-point group like any third-party
engine. Bounds reach it through fitcore's MINUIT-style transform.

Non-finite trial steps
----------------------
MINPACK cannot digest NaN or inf. When a *trial step* of the Levenberg-Marquardt
iteration lands where the model overflows (e.g. ``exp`` of a huge argument) and
the core reports a non-finite residual (``nan_policy='raise'`` or ``'omit'``),
the engine hands MINPACK a finite residual far larger than the current one
instead: MINPACK rejects the step exactly as it rejects any step that increases
chi-square, shrinks its trust region and tries a shorter step from the same
point. Nothing is hidden: the step was never accepted, and the count of such
rejections is in ``engine_extras['nonfinite_trials']``. A non-finite residual
at the start or inside the finite-difference Jacobian (where a value is needed,
not a comparison) still raises. Jacobian evaluations are recognized by
MINPACK's own stencil: one coordinate of a recent point moved by
``sqrt(max(epsfcn, eps)) * |x_j|``.

The last Jacobian
-----------------
MINPACK builds a forward-difference Jacobian at every iterate. The engine keeps
the last few evaluations and hands the last complete stencil to the core
(:class:`fitcore.Stencil`), which uses it for the error bars when it is
accurate at the answer and so spares ``nvar`` evaluations.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Iterable

import numpy as np

from fitcore import EngineResult, EngineSpec, Problem, Stencil, hookimpl
from fitcore.errors import NonFiniteResidualError

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
_EPS = float(np.finfo(float).eps)


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
    from scipy.optimize import leastsq as _leastsq  # on use: listing engines does not import scipy

    opts = {**OPTIONS, **options}
    n = problem.nvar
    if opts["maxfev"] is None:
        opts["maxfev"] = 1000 * (n + 1)
    if opts["diag"] is None:
        del opts["diag"]
    pad = max(n - problem.ndata, 0)  # MINPACK needs m >= n; zero rows leave chi-square unchanged
    residual = problem.residual
    # MINPACK's x is a view of its own work array: keep the recent points as lists, and their residuals
    # (new arrays at every call; a function that refills one buffer is noticed and offers no stencil)
    recent: deque[tuple[list[float], np.ndarray]] = deque(maxlen=2 * n + 4)
    remember = recent.append
    fd_step = math.sqrt(max(opts["epsfcn"] or 0.0, _EPS))
    rejected = [0]
    reused = [False]

    def func(x: np.ndarray) -> np.ndarray:
        try:
            r = residual(x)
        except NonFiniteResidualError:
            if _jacobian_point(x.tolist(), recent, fd_step):
                raise
            rejected[0] += 1
            r = np.full(problem.ndata, _REJECT)
        else:
            xl = x.tolist()
            if recent and r is recent[-1][1] and xl != recent[-1][0]:
                reused[0] = True
            remember((xl, r))
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
        extras={"minpack_nfev": int(info["nfev"]), "minpack_njev": int(info.get("njev", 0) or 0),
                "nonfinite_trials": rejected[0]},
        stencil=None if dfun is not None or reused[0] else _last_stencil(list(recent), n),
    )


#: residual value handed to MINPACK for a rejected non-finite trial step (finite; its norm
#: dwarfs any real residual, so MINPACK's actual reduction is -1 and the step is refused)
_REJECT = 1.0e150


def _moved_coordinate(x: list[float], base: list[float]) -> int | None:
    """The one coordinate in which ``x`` differs from ``base``, or None (none, or several)."""
    diff = [j for j, (a, b) in enumerate(zip(x, base)) if a != b]
    return diff[0] if len(diff) == 1 else None


def _jacobian_point(x: list[float], recent: Iterable[tuple[list[float], np.ndarray]], fd_step: float) -> bool:
    """Whether ``x`` is a forward-difference point of MINPACK's Jacobian around a recent point."""
    for base, _ in recent:
        j = _moved_coordinate(x, base)
        if j is not None and x[j] == base[j] + (fd_step * abs(base[j]) or fd_step):
            return True
    return False


def _last_stencil(recent: list[tuple[list[float], np.ndarray]], n: int) -> Stencil | None:
    """The last base point followed by its ``n`` forward-difference points, coordinate by coordinate."""
    for i in range(len(recent) - n - 1, -1, -1):
        base = recent[i][0]
        probes = recent[i + 1:i + 1 + n]
        if all(_moved_coordinate(x, base) == j for j, (x, _) in enumerate(probes)):
            return Stencil(x=np.array(base), r=recent[i][1],
                           steps=np.array([x[j] - base[j] for j, (x, _) in enumerate(probes)]),
                           rows=np.array([r for _, r in probes]))
    return None


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
