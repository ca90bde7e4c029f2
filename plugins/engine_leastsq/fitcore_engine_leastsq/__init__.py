"""fitcore engine ``leastsq``: Levenberg-Marquardt from MINPACK, through scipy (``scipy.optimize.leastsq``).

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
from collections.abc import Iterable
from typing import Any

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
        ``diag``: MINPACK's settings, named and defaulted as in
        :func:`scipy.optimize.leastsq` (whose MINPACK binding is called directly).

    Returns
    -------
    fitcore.EngineResult
        ``status`` is MINPACK's ``ier``; ``success`` is True for ier 1-4.
    """
    opts = {**OPTIONS, **options}
    n = problem.nvar
    if opts["maxfev"] is None:
        opts["maxfev"] = 1000 * (n + 1)
    elif opts["maxfev"] == 0:  # scipy's meaning of 0: its own default
        opts["maxfev"] = (100 if problem.has_analytic_jacobian else 200) * (n + 1)
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

    x0 = np.array(problem.x0, dtype=float).reshape(n)
    x, ier, nfev, njev, message = _minpack(func, dfun, x0, opts)
    return EngineResult(
        x=np.asarray(x, dtype=float).reshape(n),
        success=ier in _SUCCESS,
        message=message,
        status=ier,
        extras={"minpack_nfev": nfev, "minpack_njev": njev, "nonfinite_trials": rejected[0]},
        stencil=None if dfun is not None or reused[0] else _last_stencil(list(recent), n),
    )


#: MINPACK's exit codes, worded as scipy.optimize.leastsq words them
_MESSAGES = {
    0: "Improper input parameters.",
    1: "Both actual and predicted relative reductions in the sum of squares are at most {ftol:f}",
    2: "The relative error between two consecutive iterates is at most {xtol:f}",
    3: "Both actual and predicted relative reductions in the sum of squares are at most {ftol:f} and the "
       "relative error between two consecutive iterates is at most {xtol:f}",
    4: "The cosine of the angle between func(x) and any column of the Jacobian is at most {gtol:f} in "
       "absolute value",
    5: "Number of calls to function has reached maxfev = {maxfev}.",
    6: "ftol={ftol:f} is too small, no further reduction in the sum of squares is possible.",
    7: "xtol={xtol:f} is too small, no further improvement in the approximate solution is possible.",
    8: "gtol={gtol:f} is too small, func(x) is orthogonal to the columns of the Jacobian to machine precision.",
}


def _minpack(func: Any, dfun: Any, x0: np.ndarray, opts: dict[str, Any]) -> tuple[np.ndarray, int, int, int, str]:
    """Run MINPACK's lmdif (or lmder with ``dfun``) from ``x0``.

    Returns ``(x, ier, nfev, njev, message)``: the answer, MINPACK's exit code and
    its counts of function and Jacobian evaluations, and scipy's wording of the exit code.

    Calls scipy's MINPACK binding, which :func:`scipy.optimize.leastsq` wraps, directly:
    the wrapper's extra work (a validating call of ``func``, the covariance from MINPACK's
    last QR factor, message formatting) is not needed here, since the core validates the
    residual before the fit and estimates the covariance itself. Should a scipy release
    drop the binding or document another signature for it, the public
    :func:`scipy.optimize.leastsq` is used, with identical results.
    """
    ftol, xtol, gtol, maxfev = opts["ftol"], opts["xtol"], opts["gtol"], opts["maxfev"]
    epsfcn, factor, diag = opts["epsfcn"], opts["factor"], opts.get("diag")
    binding = _binding()
    if binding is not None:
        lmdif, lmder = binding
        if dfun is None:
            out = lmdif(func, x0, (), 1, ftol, xtol, gtol, maxfev, _EPS if epsfcn is None else epsfcn, factor, diag)
        else:
            out = lmder(func, dfun, x0, (), 1, 0, ftol, xtol, gtol, maxfev, factor, diag)
        x, info, ier = out
        message = _MESSAGES.get(ier, "unknown MINPACK exit code {ier}").format(
            ftol=ftol, xtol=xtol, gtol=gtol, maxfev=maxfev, ier=ier)
    else:
        from scipy.optimize import leastsq as _leastsq

        kws = {} if diag is None else {"diag": diag}
        x, _, info, message, ier = _leastsq(func, x0, Dfun=dfun, full_output=True, ftol=ftol, xtol=xtol,
                                            gtol=gtol, maxfev=maxfev, epsfcn=epsfcn, factor=factor, **kws)
    return x, int(ier), int(info["nfev"]), int(info.get("njev", 0) or 0), " ".join(str(message).split())


_BINDING: list[Any] = []


#: the binding's signatures as its docstrings state them (scipy 1.x); any other release uses the public leastsq
_SIGNATURES = (
    "_lmdif(fun, x0, args, full_output, ftol, xtol, gtol, maxfev, epsfcn, factor, diag)",
    "_lmder(fun, Dfun, x0, args, full_output, col_deriv, ftol, xtol, gtol, maxfev, factor, diag)",
)


def _binding() -> tuple[Any, Any] | None:
    """Scipy's ``_minpack._lmdif``/``_lmder``, or None where a scipy release does not have them as called here."""
    if not _BINDING:
        try:
            from scipy.optimize import _minpack

            funcs = (_minpack._lmdif, _minpack._lmder)
        except (ImportError, AttributeError):
            funcs = None
        if funcs is not None and not all(sig in (f.__doc__ or "") for f, sig in zip(funcs, _SIGNATURES)):
            funcs = None  # a changed signature: never guess at argument order
        _BINDING.append(funcs)
    return _BINDING[0]


#: residual value handed to MINPACK for a rejected non-finite trial step (finite; its norm
#: dwarfs any real residual, so MINPACK's actual reduction is -1 and the step is refused)
_REJECT = 1.0e150


def _moved_coordinate(x: list[float], base: list[float]) -> int | None:
    """The one coordinate in which ``x`` differs from ``base``, or None (none, or several)."""
    found = None
    for j, (a, b) in enumerate(zip(x, base)):  # a plain loop: no comprehension to build once per call
        if a != b:
            if found is not None:
                return None
            found = j
    return found


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
        steps, rows = [], []
        for j, (x, r) in enumerate(recent[i + 1:i + 1 + n]):
            if _moved_coordinate(x, base) != j:
                break
            steps.append(x[j] - base[j])
            rows.append(r)
        else:
            return Stencil(x=np.array(base), r=recent[i][1], steps=np.array(steps), rows=np.array(rows))
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
        least_squares=True,
    )
