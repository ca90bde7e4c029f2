"""fitcore engine ``leastsq``: Levenberg-Marquardt from MINPACK, through :func:`scipy.optimize.leastsq`.

Registered through the ``fitcore`` entry-point group like any third-party
engine. Bounds reach it through fitcore's MINUIT-style transform.

The engine hands MINPACK a function ``func`` wrapped around
``problem.residual``, which does three things:

* **copies** each residual, because MINPACK keeps the array it is given
  (a user function that refills and returns one buffer would otherwise
  change MINPACK's stored residuals behind its back);
* **rejects non-finite trial steps**: when a Levenberg-Marquardt trial step
  makes the model overflow and the core reports a non-finite residual, MINPACK
  gets a finite residual far larger than the current one and shortens the
  step, as it does for any step that increases chi-square. The count is in
  ``engine_extras['nonfinite_trials']``. A non-finite residual at the start or
  inside a finite-difference Jacobian still raises;
* **remembers the last evaluations**, from which the last forward-difference
  stencil MINPACK evaluated (a base point followed by one step along each
  coordinate, ``sqrt(max(epsfcn, eps)) * |x_j|``) is handed to the core as a
  :class:`fitcore.Stencil`, which may spare the error bars ``nvar`` evaluations.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from fitcore import EngineResult, EngineSpec, Problem, Stencil, hookimpl
from fitcore.errors import EngineOptionError, NonFiniteResidualError

__all__ = ["leastsq", "precheck", "fitcore_engines", "OPTIONS"]

#: the plugin contract this module was written for (docs/plugins.md)
fitcore_contract = "1.1"

#: The manual's defaults; ``maxfev=None`` means ``1000 * (nvar + 1)``, ``maxfev=0`` scipy's own default.
OPTIONS: dict[str, Any] = {
    "xtol": 1.0e-7,
    "ftol": 1.0e-7,
    "gtol": 0.0,
    "maxfev": None,
    "epsfcn": None,
    "factor": 100.0,
    "diag": None,
}
#: MINPACK's exit codes that mean convergence
_CONVERGED = (1, 2, 3, 4)
#: MINPACK counts evaluations in a C int
_MAX_INT = 2**31 - 1
#: residual value handed to MINPACK for a rejected non-finite trial step: finite, and its norm
#: dwarfs any real residual, so MINPACK sees the step increase chi-square and refuses it
_REJECT = 1.0e150


def _option_error(name: str, value: Any, expected: str) -> EngineOptionError:
    return EngineOptionError(f"engine 'leastsq': {name}={value!r}; expected {expected}", "leastsq", name)


def _real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def precheck(options: Mapping[str, Any], lower: np.ndarray, upper: np.ndarray, names: Sequence[str]) -> None:
    """Refuse option values MINPACK would reject or misread, before any evaluation.

    Raises
    ------
    EngineOptionError
        Naming the option, the value given and what is allowed.
    """
    for name in ("xtol", "ftol", "gtol"):
        if name in options:
            v = options[name]
            if not (_real(v) and math.isfinite(v) and v >= 0):
                raise _option_error(name, v, "a non-negative finite number")
    if options.get("maxfev") is not None:
        v = options["maxfev"]
        if not (isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v <= _MAX_INT):
            raise _option_error("maxfev", v, f"an integer from 1 to {_MAX_INT} (0: scipy's default "
                                             "200 * (nvar + 1); None: 1000 * (nvar + 1))")
    if options.get("epsfcn") is not None:
        v = options["epsfcn"]
        if not (_real(v) and math.isfinite(v) and v >= 0):
            raise _option_error("epsfcn", v, "a non-negative finite number (the relative error of the function), "
                                             "or None for machine precision")
    if "factor" in options:
        v = options["factor"]
        if not (_real(v) and math.isfinite(v) and v > 0):
            raise _option_error("factor", v, "a positive finite number (MINPACK suggests 0.1 to 100)")
    if options.get("diag") is not None:
        v = options["diag"]
        try:
            arr = np.asarray(v, dtype=float) if not isinstance(v, (str, bytes)) else np.array(np.nan)
        except (TypeError, ValueError):
            arr = np.array(np.nan)
        if arr.shape != (len(names),) or not np.all(np.isfinite(arr)) or not np.all(arr > 0):
            raise _option_error("diag", v, f"one positive finite scale factor per varied parameter "
                                           f"({len(names)}: {', '.join(names)}), or None")


def leastsq(problem: Problem, **options: Any) -> EngineResult:
    """Minimize the sum of squares of ``problem.residual`` with MINPACK's Levenberg-Marquardt.

    Parameters
    ----------
    problem : fitcore.Problem
        An unbounded problem (bounds are transformed away by the core).
    **options
        ``xtol``, ``ftol``, ``gtol``, ``maxfev``, ``epsfcn``, ``factor``,
        ``diag``: passed to :func:`scipy.optimize.leastsq`, checked by :func:`precheck`.

    Returns
    -------
    fitcore.EngineResult
        ``status`` is MINPACK's ``ier`` and ``message`` scipy's wording of it;
        ``success`` is True for ier 1-4.
    """
    from scipy.optimize import leastsq as scipy_leastsq  # on first use: listing engines imports no scipy

    opts = {**OPTIONS, **options}
    n = problem.nvar
    if opts["maxfev"] is None:
        opts["maxfev"] = 1000 * (n + 1)
    pad = np.zeros(max(n - problem.ndata, 0))  # MINPACK needs m >= n; zero rows leave chi-square unchanged
    recent: deque[tuple[list[float], np.ndarray]] = deque(maxlen=2 * n + 4)
    fd_step = math.sqrt(max(opts["epsfcn"] or 0.0, np.finfo(float).eps))
    rejected = 0

    def func(x: np.ndarray) -> np.ndarray:
        nonlocal rejected
        xl = x.tolist()
        try:
            r = problem.residual(x)
            r = np.concatenate([r, pad]) if pad.size else r.copy()  # a copy, whatever the user's function returned
        except NonFiniteResidualError:
            if not recent or any(_moved_by_step(xl, base, fd_step) is not None for base, _ in recent):
                raise  # the start, or a Jacobian point: MINPACK needs the value
            rejected += 1
            return np.full(problem.ndata + pad.size, _REJECT)
        recent.append((xl, r))
        return r

    dfun = None
    if problem.has_analytic_jacobian:
        def dfun(x: np.ndarray) -> np.ndarray:
            return np.vstack([problem.jacobian(x), np.zeros((pad.size, n))])

    x, _, info, message, ier = scipy_leastsq(
        func, np.array(problem.x0, dtype=float), Dfun=dfun, full_output=True, ftol=opts["ftol"],
        xtol=opts["xtol"], gtol=opts["gtol"], maxfev=opts["maxfev"], epsfcn=opts["epsfcn"],
        factor=opts["factor"], diag=opts["diag"])
    return EngineResult(
        x=np.asarray(x, dtype=float).reshape(n),
        success=ier in _CONVERGED,
        message=" ".join(str(message).split()),
        status=int(ier),
        extras={"minpack_nfev": int(info["nfev"]), "minpack_njev": int(info.get("njev", 0) or 0),
                "nonfinite_trials": rejected},
        stencil=None if dfun is not None else _last_stencil(list(recent), n, fd_step, problem.ndata),
    )


def _moved_by_step(x: list[float], base: list[float], fd_step: float) -> int | None:
    """Return ``j`` if ``x`` is ``base`` with MINPACK's forward-difference step along coordinate ``j``, else None."""
    moved = [j for j, (a, b) in enumerate(zip(x, base)) if a != b]
    if len(moved) != 1:
        return None
    j = moved[0]
    return j if x[j] == base[j] + (fd_step * abs(base[j]) or fd_step) else None


def _last_stencil(recent: list[tuple[list[float], np.ndarray]], n: int, fd_step: float, m: int) -> Stencil | None:
    """Find the last base point followed by its ``n`` forward-difference points, coordinate by coordinate."""
    for i in range(len(recent) - n - 1, -1, -1):
        base, r = recent[i]
        block = recent[i + 1:i + 1 + n]
        if all(_moved_by_step(x, base, fd_step) == j for j, (x, _) in enumerate(block)):
            steps = [x[j] - base[j] for j, (x, _) in enumerate(block)]
            rows = np.array([row[:m] for _, row in block])
            return Stencil(x=np.array(base), r=r[:m], steps=np.array(steps), rows=rows)
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
        precheck=precheck,
    )
