"""Covariance, standard errors and correlations, the same for every engine.

The covariance is estimated from the Jacobian of the residual with respect to
the *external* (user-visible) values of the free parameters, computed at the
solution by finite differences, never through the bound transform. Forward
differences (one evaluation per parameter) come first; when the column-scaled
Jacobian is ill-conditioned (condition number above :data:`REFINE_CONDITION`),
where their error would be amplified into the covariance, it is recomputed with
second-order differences (two evaluations per parameter). The transform's derivative vanishes at a bound, so a covariance
back-transformed from internal coordinates collapses there; the external
Jacobian gives the curvature of chi-square itself, as the same fit without the
bound would. Next to a bound the stencil turns one-sided so that the model is
never evaluated outside the bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .chisquare import inward_step

if TYPE_CHECKING:
    from .objective import Objective

__all__ = ["Uncertainty", "external_jacobian", "covariance_from_jacobian", "estimate", "from_covariance", "propagate",
           "forward_jacobian", "condition", "REFINE_CONDITION"]

Array = NDArray[np.float64]
_STEP = np.finfo(float).eps ** (1.0 / 3.0)
_FSTEP = np.finfo(float).eps ** 0.5
#: condition number of the column-scaled Jacobian above which the forward
#: differences are replaced by second-order ones
REFINE_CONDITION = 100.0


@dataclass
class Uncertainty:
    """Result of the error-bar estimate."""

    covar: Array | None
    stderr: dict[str, float]
    correl: dict[str, dict[str, float]]
    reason: str | None  # why there are no error bars, None when there are
    jacobian: Array | None
    nfev: int


def forward_jacobian(obj: "Objective", v: Array, r0: Array, lower: Array, upper: Array) -> Array:
    """Jacobian ``d residual / d external value`` at ``v`` by forward differences, stepping inwards."""
    jac = np.empty((r0.size, v.size))
    for j in range(v.size):
        h = inward_step(_FSTEP * (abs(v[j]) if v[j] != 0.0 else 1.0), v[j], lower[j], upper[j])
        jac[:, j] = (_eval(obj, v, j, h) - r0) / h
    return jac


def external_jacobian(obj: "Objective", v: Array, r0: Array, lower: Array, upper: Array) -> Array:
    """Jacobian ``d residual / d external value`` at ``v`` (second order, bound-aware)."""
    n = v.size
    jac = np.empty((r0.size, n))
    for j in range(n):
        h = _STEP * (abs(v[j]) if v[j] != 0.0 else 1.0)
        lo_room, hi_room = v[j] - lower[j], upper[j] - v[j]
        if lo_room >= h and hi_room >= h:
            jac[:, j] = (_eval(obj, v, j, h) - _eval(obj, v, j, -h)) / (2.0 * h)
        elif hi_room >= 2 * h or hi_room >= lo_room:  # one-sided, pointing inwards
            h = min(h, hi_room / 2.0) if hi_room < 2 * h else h
            jac[:, j] = (-3.0 * r0 + 4.0 * _eval(obj, v, j, h) - _eval(obj, v, j, 2 * h)) / (2.0 * h)
        else:
            h = min(h, lo_room / 2.0) if lo_room < 2 * h else h
            jac[:, j] = (3.0 * r0 - 4.0 * _eval(obj, v, j, -h) + _eval(obj, v, j, -2 * h)) / (2.0 * h)
    return jac


def _eval(obj: "Objective", v: Array, j: int, h: float) -> Array:
    w = v.copy()
    w[j] += h
    obj.set_external(w)
    return obj._call(w).copy()


#: singular values of the column-scaled Jacobian below this fraction of the largest are finite-difference
#: noise (central differences resolve ~1e-11; the hardest NIST StRD problem, Bennett5, is at 1.7e-5)
SINGULAR_RTOL = 1.0e-9

#: below this condition number the normal equations keep more than 8 digits and are used;
#: above it the covariance comes from the SVD of the Jacobian itself
_GRAM_CONDITION = 1.0e4


def _scaled_gram(jac: Array) -> tuple[Array, Array, Array, Array]:
    """Column norms, and eigenvalues/vectors of the Gram matrix of the column-scaled Jacobian."""
    gram = jac.T @ jac
    norms = np.sqrt(np.diag(gram))
    safe = np.where(norms > 0, norms, 1.0)
    lam, vec = np.linalg.eigh(gram / np.outer(safe, safe))
    return norms, safe, lam, vec


def condition(jac: Array) -> float:
    """Condition number of the Jacobian after scaling its columns to unit norm."""
    if not np.all(np.isfinite(jac)):
        return np.inf
    with np.errstate(over="ignore", invalid="ignore"):
        norms, _, lam, _ = _scaled_gram(jac)
    if not np.all(np.isfinite(lam)) or np.any(norms == 0) or lam[0] <= 0:
        return np.inf
    return float(np.sqrt(lam[-1] / lam[0]))


def covariance_from_jacobian(jac: Array, names: list[str]) -> tuple[Array | None, str | None]:
    """Return ``(J^T J)^-1``, or ``(None, reason)`` when it is singular.

    Columns are scaled to unit norm first, so parameters of very different
    magnitude do not fake singularity. Well-conditioned Jacobians use the
    normal equations; ill-conditioned ones the SVD.
    """
    if not np.all(np.isfinite(jac)):
        bad = [names[j] for j in range(len(names)) if not np.all(np.isfinite(jac[:, j]))]
        return None, f"the Jacobian is not finite for parameter(s) {', '.join(map(repr, bad))}"
    norms, safe, lam, vec = _scaled_gram(jac)
    dead = [names[j] for j in range(len(names)) if norms[j] == 0.0]
    if dead:
        return None, (f"parameter(s) {', '.join(map(repr, dead))} have no effect on the residual "
                      "(zero derivative); fix them or check the model")
    if lam[0] > 0 and lam[-1] / lam[0] < _GRAM_CONDITION**2:
        inv = (vec / lam) @ vec.T
    else:
        _, s, vt = np.linalg.svd(jac / safe, full_matrices=False)
        if s[-1] <= s[0] * max(SINGULAR_RTOL, max(jac.shape) * np.finfo(float).eps):
            null = np.abs(vt[-1])
            culprits = [names[j] for j in np.argsort(null)[::-1][:2] if null[j] > 0.1]
            return None, (f"the covariance matrix is singular: parameters {', '.join(map(repr, culprits))} "
                          "are (nearly) fully correlated; fix one of them or add a constraint")
        inv = (vt.T / s**2) @ vt
    return inv / np.outer(safe, safe), None


def estimate(
    obj: "Objective",
    v: Array,
    r0: Array,
    chisqr: float,
    nfree: int,
    lower: Array,
    upper: Array,
    scale_covar: bool = True,
) -> Uncertainty:
    """Estimate covariance, stderr and correlations at external values ``v``.

    The objective's parameters are left holding ``v`` (and the expressions'
    values at ``v``) afterwards.
    """
    names = obj.names
    if nfree <= 0:
        return Uncertainty(None, {}, {}, f"no degrees of freedom left (nfree = {nfree}): "
                           "need more data points than varied parameters", None, 0)
    obj.counting = False
    try:
        jac = forward_jacobian(obj, v, r0, lower, upper)
        used = v.size
        if condition(jac) > REFINE_CONDITION:
            jac = external_jacobian(obj, v, r0, lower, upper)
            used += 2 * v.size
    finally:
        obj.counting = True
        obj.set_external(v)
    cov, reason = covariance_from_jacobian(jac, names)
    if cov is None:
        return Uncertainty(None, {}, {}, reason, jac, used)
    unc = from_covariance(cov, names, jac, used)  # correlations do not depend on the scale
    if scale_covar and unc.covar is not None:  # an exact fit (chisqr = 0) has zero error bars, not none
        factor = chisqr / nfree
        unc.covar = cov * factor
        unc.stderr = {k: e * float(np.sqrt(factor)) for k, e in unc.stderr.items()}
    return unc


def from_covariance(cov: Array, names: list[str], jac: Array | None = None, nfev: int = 0) -> Uncertainty:
    """Standard errors and correlations from a covariance matrix (in ``names`` order)."""
    diag = np.diag(cov)
    if np.any(diag <= 0) or not np.all(np.isfinite(diag)):
        return Uncertainty(None, {}, {}, "the covariance matrix has non-positive or non-finite variances", jac, nfev)
    err = np.sqrt(diag)
    stderr = dict(zip(names, err.tolist()))
    corr = cov / np.outer(err, err)
    correl = {a: {b: float(corr[i, k]) for k, b in enumerate(names) if k != i} for i, a in enumerate(names)}
    return Uncertainty(cov, stderr, correl, None, jac, nfev)


def propagate(obj: "Objective", v: Array, cov: Array) -> dict[str, float]:
    """First-order stderr of every expression parameter from the free parameters' covariance."""
    cons = obj.constraints
    if cons is None:
        return {}
    names = list(cons.names())
    grads = np.empty((len(names), v.size))
    pars = [c.par for c in cons.ordered]
    try:
        for j in range(v.size):
            h = _STEP * (abs(v[j]) if v[j] != 0.0 else 1.0)
            vals = []
            for sign in (1.0, -1.0):
                w = v.copy()
                w[j] += sign * h
                obj.set_external(w)
                vals.append(np.array([p._value for p in pars]))
            grads[:, j] = (vals[0] - vals[1]) / (2.0 * h)
    finally:
        obj.set_external(v)
    var = np.einsum("ij,jk,ik->i", grads, cov, grads)
    return {n: float(np.sqrt(max(s, 0.0))) for n, s in zip(names, var)}
