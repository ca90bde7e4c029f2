"""Covariance, standard errors and correlations, the same for every engine.

The covariance is estimated from the Jacobian of the residual with respect to
the *external* (user-visible) values of the free parameters, computed at the
solution by finite differences, never through the bound transform. The
transform's derivative vanishes at a bound, so a covariance back-transformed
from internal coordinates collapses there; the external Jacobian gives the
curvature of chi-square itself, as the same fit without the bound would. Next
to a bound the stencil turns one-sided so that the model is never evaluated
outside the bounds.

Cost and accuracy
-----------------
Forward differences (one evaluation per parameter, step ``sqrt(eps)*|v|``)
come first. The column-scaled Gram matrix is decomposed once (one symmetric
eigen-decomposition, LAPACK ``dsyevd`` on an ``n x n`` matrix); it gives the
condition number, the covariance and the Gauss-Newton step. When the
column-scaled Jacobian is ill-conditioned (condition number above
:data:`REFINE_CONDITION`), where the forward differences' error would be
amplified into the covariance, the Jacobian is recomputed with Richardson-
extrapolated central differences (fourth order, four evaluations per parameter,
error about ``1e-12`` relative) and the covariance then comes from the SVD of
the Jacobian itself rather than from the normal equations.

Polish
------
Engines stop at their own tolerances (MINPACK's ``ftol=xtol=1e-7`` by the
manual's defaults), which on hard problems leaves the answer a few standard
errors' thousandths from the minimum. The Jacobian at the solution
gives a Gauss-Newton step for free; when it is not negligible (longer than
``1e-7`` standard errors, :data:`POLISH_TOLERANCE`, and than ``1e-7`` of some
parameter's value, :data:`POLISH_RTOL`) it is tried, halved up to four times,
and kept only if chi-square really decreases; then the Jacobian is recomputed
accurately (Richardson) and the next step tried, at most :data:`MAX_POLISH`
times. A well-converged fit pays nothing but the arithmetic of the test.
The error bars are always computed at the point finally reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import lapack

from .chisquare import inward_step
from .errors import NonFiniteResidualError

if TYPE_CHECKING:
    from .objective import Objective

__all__ = ["Uncertainty", "accurate_jacobian", "forward_jacobian", "covariance_from_jacobian",
           "estimate", "from_covariance", "propagate", "condition", "REFINE_CONDITION", "POLISH_TOLERANCE",
           "MAX_POLISH", "SINGULAR_RTOL"]

Array = NDArray[np.float64]
_syevd = lapack.dsyevd
_EPS = np.finfo(float).eps
_STEP = _EPS ** (1.0 / 3.0)
_FSTEP = _EPS ** 0.5
_RSTEP = _EPS ** 0.2  # Richardson: truncation h**4 and rounding eps/h balance here
#: condition number of the column-scaled Jacobian above which the forward
#: differences are replaced by Richardson-extrapolated central differences
REFINE_CONDITION = 100.0
#: a Gauss-Newton step is tried when its predicted decrease of chi-square exceeds
#: this times chi-square/nfree (the step is then longer than 1e-7 standard errors)
POLISH_TOLERANCE = 1.0e-14
#: ... and when some parameter would move by more than this fraction of its value
POLISH_RTOL = 1.0e-7
#: most Gauss-Newton polishing steps after the engine (the convergence is linear on large residuals)
MAX_POLISH = 40
_HALVINGS = 4
#: singular values of the column-scaled Jacobian below this fraction of the largest are finite-difference
#: noise (central differences resolve ~1e-11; the hardest NIST StRD problem, Bennett5, is at 1.7e-5)
SINGULAR_RTOL = 1.0e-9
#: below this condition number the normal equations keep more than 8 digits and are used;
#: above it the covariance comes from the SVD of the Jacobian itself
_GRAM_CONDITION = 1.0e4


@dataclass
class Uncertainty:
    """Result of the error-bar estimate.

    ``v`` and ``resid`` are the point the error bars belong to and its residual:
    the engine's answer, or a polished one with a lower chi-square.
    """

    covar: Array | None
    stderr: dict[str, float]
    correl: dict[str, dict[str, float]]
    reason: str | None  # why there are no error bars, None when there are
    jacobian: Array | None
    nfev: int
    v: Array | None = None
    resid: Array | None = None
    polished: int = 0
    gn_step: list[float] | None = None  # the Gauss-Newton step still pointing away from ``v``


# -- finite differences ---------------------------------------------------------------------------
def _eval(obj: "Objective", v: Array, j: int, h: float) -> Array:
    w = v.copy()
    w[j] += h
    obj.set_external(w)
    return obj._call(w).copy()


def forward_jacobian(obj: "Objective", v: Array, r0: Array, lower: Array, upper: Array) -> Array:
    """Jacobian ``d residual / d external value`` at ``v`` by forward differences, stepping inwards."""
    vs = v.tolist()
    up = upper.tolist()
    free, cons, call = obj.free, obj.constraints, obj._call
    jt = np.empty((len(vs), r0.size))  # rows are columns of the Jacobian: contiguous writes
    steps = []
    lo = lower.tolist()
    for j, vj in enumerate(vs):
        h = inward_step(_FSTEP * (abs(vj) if vj != 0.0 else 1.0), vj, lo[j], up[j])
        w = list(vs)
        w[j] = vj + h
        steps.append(w[j] - vj)  # the step actually taken
        for par, val in zip(free, w):
            par._value = val
        if cons is not None:
            cons.evaluate()
        jt[j] = call(v)  # not counted: x is only used for best-so-far tracking
    jt -= r0
    jt /= np.array(steps)[:, None]
    return jt.T


def accurate_jacobian(obj: "Objective", v: Array, r0: Array, lower: Array, upper: Array,
                      richardson: bool = True) -> Array:
    """Jacobian ``d residual / d external value`` at ``v`` by central differences, one-sided near a bound.

    With ``richardson`` (the default) two step sizes are extrapolated to fourth
    order; without it, plain second-order differences.
    """
    n = v.size
    jac = np.empty((r0.size, n))
    step = _RSTEP if richardson else _STEP
    for j in range(n):
        h = step * (abs(v[j]) if v[j] != 0.0 else 1.0)
        jac[:, j] = _column(obj, v, r0, j, h, lower[j], upper[j], richardson=richardson)
    return jac


def _column(obj: "Objective", v: Array, r0: Array, j: int, h: float, lo: float, hi: float,
            richardson: bool) -> Array:
    lo_room, hi_room = v[j] - lo, hi - v[j]
    if lo_room >= h and hi_room >= h:
        d1 = (_eval(obj, v, j, h) - _eval(obj, v, j, -h)) / (2.0 * h)
        if not richardson:
            return d1
        d2 = (_eval(obj, v, j, h / 2) - _eval(obj, v, j, -h / 2)) / h
        return (4.0 * d2 - d1) / 3.0
    h = min(h, _STEP * (abs(v[j]) if v[j] != 0.0 else 1.0))
    if hi_room >= 2 * h or hi_room >= lo_room:  # one-sided, second order, pointing inwards
        h = min(h, hi_room / 2.0) if hi_room < 2 * h else h
        return (-3.0 * r0 + 4.0 * _eval(obj, v, j, h) - _eval(obj, v, j, 2 * h)) / (2.0 * h)
    h = min(h, lo_room / 2.0) if lo_room < 2 * h else h
    return (3.0 * r0 - 4.0 * _eval(obj, v, j, -h) + _eval(obj, v, j, -2 * h)) / (2.0 * h)


# -- one decomposition for condition, covariance and Gauss-Newton step -----------------------------
class _Decomposition:
    """The column-scaled Jacobian decomposed once: condition, ``(J^T J)^-1`` and the Gauss-Newton step.

    The normal equations' Gram matrix is only ``n x n``: one BLAS product makes
    it, one LAPACK ``dsyevd`` call decomposes it (a few microseconds, against
    tens for ``numpy.linalg`` on small matrices), and everything else for a
    well-conditioned Jacobian is a few dozen float operations done in plain
    Python, cheaper than as many small numpy calls. Ill-conditioned Jacobians
    use the SVD of the Jacobian itself.
    """

    __slots__ = ("jac", "norms", "safe", "lam", "vec", "cond", "_svd")

    def __init__(self, jac: Array) -> None:
        self.jac = jac
        with np.errstate(over="ignore", invalid="ignore"):
            g = (jac.T @ jac).tolist()
        n = len(g)
        diag = [g[i][i] for i in range(n)]
        self.norms = norms = [math.sqrt(d) if d > 0.0 else 0.0 for d in diag]
        self.safe = safe = [x if x > 0.0 else 1.0 for x in norms]
        self._svd: tuple[Array, Array, Array] | None = None
        self.lam: list[float] | None = None
        self.vec: list[list[float]] | None = None
        if not all(math.isfinite(d) for d in diag):
            self.cond = math.inf
            return
        scaled = [[g[i][k] / (safe[i] * safe[k]) for k in range(n)] for i in range(n)]
        lam, vec, info = _syevd(np.array(scaled))
        self.lam, self.vec = lam.tolist(), vec.tolist()  # vec[i][k]: component i of eigenvector k
        lo, hi = self.lam[0], self.lam[-1]
        if info != 0 or not lo > 0.0 or not math.isfinite(hi) or 0.0 in norms:
            self.cond = math.inf
        else:
            self.cond = math.sqrt(hi / lo)

    def svd(self) -> tuple[Array, Array, Array]:
        if self._svd is None:
            self._svd = np.linalg.svd(self.jac / np.array(self.safe), full_matrices=False)
        return self._svd

    def well_conditioned(self) -> bool:
        return self.cond < _GRAM_CONDITION

    def dead(self) -> list[int]:
        """Indices of parameters with a zero Jacobian column."""
        return [j for j, nj in enumerate(self.norms) if nj == 0.0]

    def step(self, r: Array) -> tuple[list[float], float]:
        """Gauss-Newton step ``-pinv(J) r`` and its predicted decrease of chi-square ``|J step|^2``."""
        safe = self.safe
        n = len(safe)
        if self.well_conditioned():
            lam, vec = self.lam, self.vec
            assert lam is not None and vec is not None
            gs = [a / b for a, b in zip((self.jac.T @ r).tolist(), safe)]
            c = [sum(vec[i][k] * gs[i] for i in range(n)) for k in range(n)]
            gl = [ck / lk for ck, lk in zip(c, lam)]
            step = [-sum(vec[i][k] * gl[k] for k in range(n)) / safe[i] for i in range(n)]
            return step, sum(ck * gk for ck, gk in zip(c, gl))
        u, s, vt = self.svd()
        keep = s > s[0] * max(self.jac.shape) * _EPS
        coef = (u.T @ r)[keep]
        return (-(vt[keep].T @ (coef / s[keep])) / np.array(safe)).tolist(), float(coef @ coef)

    def inverse(self, names: list[str]) -> tuple[list[list[float]] | None, str | None]:
        """``(J^T J)^-1`` as nested lists, or ``(None, reason)`` when it is singular."""
        jac = self.jac
        if self.lam is None:
            bad = [names[j] for j in range(len(names)) if not np.isfinite(jac[:, j]).all()]
            return None, f"the Jacobian is not finite for parameter(s) {', '.join(map(repr, bad))}"
        dead = [names[j] for j in self.dead()]
        if dead:
            return None, (f"parameter(s) {', '.join(map(repr, dead))} have no effect on the residual "
                          "(zero derivative); fix them or check the model")
        safe = self.safe
        n = len(safe)
        if self.well_conditioned():
            lam, vec = self.lam, self.vec
            assert vec is not None
            w = [[vec[i][k] / lam[k] for k in range(n)] for i in range(n)]
            return [[sum(w[i][k] * vec[j][k] for k in range(n)) / (safe[i] * safe[j]) for j in range(n)]
                    for i in range(n)], None
        _, s, vt = self.svd()
        if s[-1] <= s[0] * max(SINGULAR_RTOL, max(jac.shape) * _EPS):
            null = np.abs(vt[-1])
            culprits = [names[j] for j in np.argsort(null)[::-1][:2] if null[j] > 0.1]
            return None, (f"the covariance matrix is singular: parameters {', '.join(map(repr, culprits))} "
                          "are (nearly) fully correlated; fix one of them or add a constraint")
        sa = np.array(safe)
        return (((vt.T / s**2) @ vt) / sa[:, None] / sa).tolist(), None


def condition(jac: Array) -> float:
    """Condition number of the Jacobian after scaling its columns to unit norm."""
    return _Decomposition(jac).cond


def covariance_from_jacobian(jac: Array, names: list[str]) -> tuple[Array | None, str | None]:
    """Return ``(J^T J)^-1``, or ``(None, reason)`` when it is singular.

    Columns are scaled to unit norm first, so parameters of very different
    magnitude do not fake singularity. Well-conditioned Jacobians use the
    normal equations; ill-conditioned ones the SVD.
    """
    inv, reason = _Decomposition(jac).inverse(names)
    return (None if inv is None else np.array(inv)), reason


def _jacobian(obj: "Objective", v: Array, r0: Array, lower: Array, upper: Array) -> tuple[_Decomposition, int]:
    """Forward differences, refined when ill-conditioned; returns the decomposition and evaluations used."""
    dec = _Decomposition(forward_jacobian(obj, v, r0, lower, upper))
    used = v.size
    if dec.cond > REFINE_CONDITION:
        dec = _Decomposition(accurate_jacobian(obj, v, r0, lower, upper))
        used += 4 * v.size
    return dec, used


def _line_search(obj: "Objective", v: Array, step: Array, chi: float, lower: Array,
                 upper: Array) -> tuple[tuple[Array, Array] | None, int]:
    """Try ``v + t*step`` for t = 1, 1/2, ... ; the first point inside the bounds that lowers chi-square wins."""
    tried = 0
    t = 1.0
    for _ in range(_HALVINGS + 1):
        w = v + t * step
        t /= 2.0
        if not (np.all(w >= lower) and np.all(w <= upper)):
            continue
        obj.set_external(w)
        tried += 1
        try:
            r1 = obj._call(w).copy()
        except NonFiniteResidualError:
            continue
        if float(r1 @ r1) < chi:
            return (w, r1), tried
    return None, tried


def estimate(
    obj: "Objective",
    v: Array,
    r0: Array,
    chisqr: float,
    nfree: int,
    lower: Array,
    upper: Array,
    scale_covar: bool = True,
    polish: bool = False,
) -> Uncertainty:
    """Estimate covariance, stderr and correlations at external values ``v``.

    ``chisqr`` is ``r0 @ r0``. With ``polish``, Gauss-Newton steps from the accurate Jacobian are tried
    first (see the module notes); the returned ``v``/``resid`` are the point
    the error bars belong to. The objective's parameters are left holding
    that point (and the expressions' values there) afterwards.
    """
    names = obj.names
    if nfree <= 0:
        return Uncertainty(None, {}, {}, f"no degrees of freedom left (nfree = {nfree}): "
                           "need more data points than varied parameters", None, 0, v, r0)
    obj.counting = False
    polished = 0
    try:
        dec, used = _jacobian(obj, v, r0, lower, upper)
        chi = chisqr
        while polish and polished < MAX_POLISH and dec.cond < math.inf and chi > 0.0:
            step, predicted = dec.step(r0)
            if not (predicted > POLISH_TOLERANCE * chi / nfree
                    and any(abs(a) > POLISH_RTOL * abs(b) for a, b in zip(step, v.tolist()))):
                break
            found, tried = _line_search(obj, v, np.array(step), chi, lower, upper)
            used += tried
            if found is None:
                break
            v, r0 = found
            chi = float(r0 @ r0)
            polished += 1
            # an accurate Jacobian from here on: forward differences bias the step on large residuals
            dec = _Decomposition(accurate_jacobian(obj, v, r0, lower, upper))
            used += 4 * v.size
    finally:
        obj.counting = True
        obj.set_external(v)
    cov, reason = dec.inverse(names)
    if cov is None:
        return Uncertainty(None, {}, {}, reason, dec.jac, used, v, r0, polished)
    unc = _from_rows(cov, names, dec.jac, used)  # correlations do not depend on the scale
    unc.gn_step = dec.step(r0)[0]
    if scale_covar and unc.covar is not None:  # an exact fit (chisqr = 0) has zero error bars, not none
        factor = chi / nfree
        unc.covar = unc.covar * factor
        root = math.sqrt(factor)
        unc.stderr = {k: e * root for k, e in unc.stderr.items()}
    unc.v, unc.resid, unc.polished = v, r0, polished
    return unc


def from_covariance(cov: Array, names: list[str], jac: Array | None = None, nfev: int = 0) -> Uncertainty:
    """Standard errors and correlations from a covariance matrix (in ``names`` order)."""
    return _from_rows(np.asarray(cov, dtype=float).tolist(), names, jac, nfev)


def _from_rows(cov: list[list[float]], names: list[str], jac: Array | None, nfev: int) -> Uncertainty:
    diag = [row[i] for i, row in enumerate(cov)]
    if not all(0.0 < d < math.inf for d in diag):
        return Uncertainty(None, {}, {}, "the covariance matrix has non-positive or non-finite variances", jac, nfev)
    errs = [math.sqrt(d) for d in diag]
    stderr = dict(zip(names, errs))
    correl = {a: {b: c / (ea * eb) for b, c, eb in zip(names, row, errs) if b != a}
              for a, row, ea in zip(names, cov, errs)}
    return Uncertainty(np.array(cov), stderr, correl, None, jac, nfev)


def propagate(obj: "Objective", v: Array, cov: Array) -> dict[str, float]:
    """First-order stderr of every expression parameter from the free parameters' covariance.

    The expressions' gradient with respect to the free parameters comes from
    central differences of the expressions alone (the residual is not called).
    """
    cons = obj.constraints
    if cons is None:
        return {}
    ordered = cons.ordered
    pars = [c.par for c in ordered]
    free = obj.free
    vs = v.tolist()
    grads: list[list[float]] = []  # grads[j][k]: d expression k / d free parameter j
    try:
        for j, vj in enumerate(vs):
            h = _STEP * (abs(vj) if vj != 0.0 else 1.0)
            vals = []
            for w_j in (vj + h, vj - h):
                w = list(vs)
                w[j] = w_j
                for par, val in zip(free, w):
                    par._value = val
                cons.evaluate()
                vals.append([p._value for p in pars])
            width = (vj + h) - (vj - h)
            grads.append([(a - b) / width for a, b in zip(*vals)])
    finally:
        obj.set_external(v)
    g = np.array(grads)
    var = ((cov @ g) * g).sum(axis=0).tolist()
    return {c.name: math.sqrt(s) if s > 0.0 else 0.0 for c, s in zip(ordered, var)}
