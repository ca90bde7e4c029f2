"""Covariance, standard errors and correlations at the answer, the same for every engine.

The Jacobian of the residual with respect to the parameters' own (external)
values is taken at the answer: the user's analytic one, else forward
differences stepping inwards next to a bound, refined to central differences
where the column-scaled Jacobian is ill-conditioned. One SVD of the
column-scaled Jacobian gives the covariance and the Gauss-Newton step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from .chisquare import inward_step
from .problem import Stencil

__all__ = ["ErrorBars", "least_squares_errorbars", "cost_errorbars", "errorbars_from_covariance",
           "errorbars_from_samples", "propagate"]

Array = NDArray[np.float64]
_EPS = float(np.finfo(float).eps)
_FSTEP = _EPS ** 0.5
_CSTEP = _EPS ** (1.0 / 3.0)
#: singular values below this fraction of the largest are finite-difference noise
SINGULAR_RTOL = 1.0e-9
#: condition number above which forward differences are replaced by central ones
REFINE_CONDITION = 100.0
MAX_POLISH = 40


@dataclass(frozen=True)
class ErrorBars:
    """Error bars at ``v`` (see the module notes)."""

    covar: Array | None
    stderr: dict[str, float]
    correl: dict[str, dict[str, float]]
    reason: str | None
    nfev: int
    jacobian: Array | None
    v: Array
    resid: Array | None
    polished: int = 0
    gn_step: Array | None = None


def _step(vj: float, h_rel: float) -> float:
    return h_rel * (abs(vj) if vj != 0.0 else 1.0)


def _jacobian(evaluate: Callable[[Array], Array], v: Array, r0: Array, lower: Sequence[float],
              upper: Sequence[float], central: bool) -> Array:
    jac = np.empty((r0.size, v.size))
    for j in range(v.size):
        if central:
            h = _step(v[j], _CSTEP)
            if v[j] - h >= lower[j] and v[j] + h <= upper[j]:
                hi, lo = v.copy(), v.copy()
                hi[j] += h
                lo[j] -= h
                jac[:, j] = (evaluate(hi) - evaluate(lo)) / (hi[j] - lo[j])
                continue
        h = inward_step(_step(v[j], _FSTEP), v[j], lower[j], upper[j])
        w = v.copy()
        w[j] += h
        taken = w[j] - v[j]
        jac[:, j] = (evaluate(w) - r0) / taken if taken != 0.0 else np.inf
    return jac


def _decompose(jac: Array, r: Array) -> tuple[Array, Array, Array, Array] | None:
    """Column scales, singular values, right singular vectors and the Gauss-Newton step."""
    scale = np.linalg.norm(jac, axis=0)
    if not np.all(np.isfinite(scale)) or np.any(scale == 0):
        return None
    u, s, vt = np.linalg.svd(jac / scale, full_matrices=False)
    step = -(vt.T @ ((u.T @ r) / s)) / scale
    return scale, s, vt, step


def least_squares_errorbars(evaluate: Callable[[Array], Array], v: Array, resid: Array, names: Sequence[str],
                            lower: Sequence[float], upper: Sequence[float], *, nfree: int, scale_covar: bool,
                            polish: bool, stencil: Stencil | None = None,
                            to_external: Callable[[Array], Array] | None = None,
                            jacobian: Callable[[Array], Array] | None = None) -> ErrorBars:
    """Covariance of a least-squares fit at external values ``v`` with residual ``resid``."""
    v = np.asarray(v, dtype=float)
    r = np.asarray(resid, dtype=float)
    if nfree <= 0:
        return ErrorBars(None, {}, {}, f"no degrees of freedom left (nfree = {nfree}): need more data points "
                         "than varied parameters", 0, None, v, r)
    count = [0]

    def ev(w: Array) -> Array:
        count[0] += 1
        return evaluate(w)

    def jac_at(w: Array, r0: Array) -> Array:
        if jacobian is not None:
            return np.asarray(jacobian(w), dtype=float)
        jac = _jacobian(ev, w, r0, lower, upper, central=False)
        dec = _decompose(jac, r0)
        if dec is not None and dec[1][0] > REFINE_CONDITION * dec[1][-1]:
            jac = _jacobian(ev, w, r0, lower, upper, central=True)
        return jac

    jac = jac_at(v, r)
    polished = 0
    while polish and polished < MAX_POLISH:
        dec = _decompose(jac, r)
        if dec is None or dec[1][-1] <= SINGULAR_RTOL * dec[1][0]:
            break
        step = dec[3]
        chi = float(r @ r)
        if not np.any(np.abs(step) > 1e-7 * np.abs(v)):
            break
        found = None
        for _ in range(5):
            w = np.clip(v + step, lower, upper)
            try:
                r1 = ev(w)
            except Exception:
                r1 = None
            if r1 is not None and float(r1 @ r1) < chi * (1 - 1e-15):
                found = (w, r1)
                break
            step = step / 2
        if found is None:
            break
        v, r = found
        polished += 1
        jac = jacobian(v) if jacobian is not None else _jacobian(ev, v, r, lower, upper, central=True)
    chi = float(r @ r)
    dec = _decompose(jac, r)
    if dec is None:
        return ErrorBars(None, {}, {}, "a parameter has no effect on the residual (a zero or non-finite "
                         "Jacobian column): the covariance matrix is singular", count[0], jac, v, r, polished)
    scale, s, vt, step = dec
    if s[-1] <= SINGULAR_RTOL * s[0]:
        weak = names[int(np.argmax(np.abs(vt[-1])))]
        return ErrorBars(None, {}, {}, f"the covariance matrix is singular: the data do not determine "
                         f"the parameters independently (most affected: {weak!r})", count[0], jac, v, r,
                         polished, step)
    inv = (vt.T / s**2) @ vt
    cov = inv / np.outer(scale, scale) * (chi / nfree if scale_covar else 1.0)
    eb = errorbars_from_covariance(cov, names)
    return replace(eb, nfev=count[0], jacobian=jac, v=v, resid=r, polished=polished, gn_step=step)


def cost_errorbars(cost: Callable[[Array], float], v: Array, names: Sequence[str], lower: Sequence[float],
                   upper: Sequence[float], *, errordef: float) -> ErrorBars:
    """Covariance ``2 errordef H^-1`` from the cost's numerical Hessian ``H`` at ``v``."""
    v = np.asarray(v, dtype=float)
    n = v.size
    h = np.array([_step(x, _EPS ** 0.25) for x in v])
    f0 = cost(v)
    hess = np.empty((n, n))
    nfev = 1
    for i in range(n):
        for j in range(i, n):
            def f(di: float, dj: float) -> float:
                w = v.copy()
                w[i] += di * h[i]
                w[j] += dj * h[j]
                return cost(w)
            if i == j:
                val = (f(1, 0) - 2 * f0 + f(-1, 0)) / h[i] ** 2
                nfev += 2
            else:
                val = (f(1, 1) - f(1, -1) - f(-1, 1) + f(-1, -1)) / (4 * h[i] * h[j])
                nfev += 4
            hess[i, j] = hess[j, i] = val
    try:
        cov = 2.0 * errordef * np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return ErrorBars(None, {}, {}, "the Hessian of the cost is singular", nfev, None, v, None)
    return replace(errorbars_from_covariance(cov, names), nfev=nfev, v=v)


def errorbars_from_covariance(cov: Array, names: Sequence[str]) -> ErrorBars:
    """Standard errors and correlations from a covariance matrix (in ``names`` order)."""
    cov = np.asarray(cov, dtype=float)
    d = np.diag(cov)
    if not np.all(np.isfinite(cov)) or np.any(d <= 0):
        return ErrorBars(None, {}, {}, "the covariance matrix has non-positive or non-finite variances", 0,
                         None, np.zeros(len(names)), None)
    err = np.sqrt(d)
    corr = cov / np.outer(err, err)
    stderr = {n: float(e) for n, e in zip(names, err)}
    correl = {a: {b: float(corr[i, j]) for j, b in enumerate(names) if j != i} for i, a in enumerate(names)}
    return ErrorBars(cov, stderr, correl, None, 0, None, np.zeros(len(names)), None)


def errorbars_from_samples(samples: Array, names: Sequence[str]) -> ErrorBars:
    """Medians, half the 15.87-84.13 % quantile width and the correlations of posterior samples."""
    q = np.percentile(samples, [15.865525393145708, 50.0, 84.13447460685429], axis=0)
    eb = errorbars_from_covariance(np.cov(samples, rowvar=False).reshape(len(names), len(names)), names)
    stderr = {n: float(e) for n, e in zip(names, (q[2] - q[0]) / 2)}
    return replace(eb, stderr=stderr, v=q[1])


def propagate(expressions: Callable[[Array], dict[str, float]], v: Array, cov: Array,
              names: Sequence[str]) -> dict[str, float]:
    """Delta-method stderr of every expression parameter from the free parameters' covariance."""
    v = np.asarray(v, dtype=float)
    grads = []
    for j in range(v.size):
        h = _step(v[j], _CSTEP)
        hi, lo = v.copy(), v.copy()
        hi[j] += h
        lo[j] -= h
        a, b = expressions(hi), expressions(lo)
        grads.append({k: (a[k] - b[k]) / (hi[j] - lo[j]) for k in a})
    keys = list(grads[0]) if grads else []
    out = {}
    for k in keys:
        g = np.array([gr[k] for gr in grads])
        var = float(g @ cov @ g)
        out[k] = math.sqrt(var) if var > 0 else 0.0
    return out
