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
An engine's own last forward-difference Jacobian (:class:`fitcore.Stencil`)
comes first, when a secant check shows it accurate at the answer to
:data:`REUSE_RTOL` (see :func:`_stencil_rows`); otherwise forward differences
(one evaluation per parameter, step ``sqrt(eps)*|v|``). The column-scaled Gram matrix is decomposed once
(see :class:`_Decomposition`: Cholesky on Python floats for a few parameters,
LAPACK ``dsyevd`` where the exact condition number is needed); it gives the
covariance and the Gauss-Newton step. When the
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ._blas import LA as _LA
from .chisquare import inward_step
from .errors import NonFiniteResidualError

if TYPE_CHECKING:
    from .objective import Objective
    from .problem import Stencil

__all__ = ["Uncertainty", "estimate", "from_covariance", "propagate", "condition", "REFINE_CONDITION",
           "POLISH_TOLERANCE", "MAX_POLISH", "SINGULAR_RTOL", "REUSE_RTOL"]

Array = NDArray[np.float64]
Bounds = Sequence[float] | Array  # external bounds of the free parameters, -inf/inf where unbounded

_EPS = float(np.finfo(float).eps)  # a Python float: scalar arithmetic on numpy floats is slower
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
#: largest estimated relative change of the Jacobian between an engine's last forward-difference
#: stencil and the answer for the stencil to stand in for the core's own forward differences
#: (error bars then agree with the core's own to about this; see :class:`fitcore.Stencil`)
REUSE_RTOL = 2.0e-6


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
    jacobian: Array | None  # from the decomposition only when asked for: see jacobian_at()
    nfev: int
    v: Array | None = None
    resid: Array | None = None
    polished: int = 0
    gn_step: list[float] | None = None  # the Gauss-Newton step still pointing away from ``v``
    _dec: _Decomposition | None = field(default=None, repr=False, compare=False)

    def jacobian_at(self) -> Array | None:
        """The Jacobian at ``v`` (external coordinates), formed from the decomposition on first use."""
        if self.jacobian is None and self._dec is not None:
            self.jacobian = self._dec.jac
        return self.jacobian


# -- finite differences ---------------------------------------------------------------------------
# Jacobians are built transposed, one row per parameter (contiguous writes), in a buffer with one
# row more that holds the residual: one matrix product then gives J^T J, J^T r and r^T r together.
def _eval(obj: Objective, v: Array, j: int, h: float) -> Array:
    w = v.copy()
    w[j] += h
    obj.set_external(w)
    return obj._call(w).copy()  # the function may return one buffer each time


def _forward_rows(obj: Objective, v: Array, r0: Array, lower: Bounds, upper: Bounds,
                  buf: Array | None = None) -> _Decomposition:
    """Forward differences at ``v`` (external values), stepping inwards, decomposed.

    The buffer holds the residual differences, then ``r0``; the division by the
    steps is left to the decomposition (``scale``). ``buf`` (``n + 1`` rows or
    more, ``r0`` in row ``n``) is reused when given.
    """
    vs = v.tolist()
    lo, up = list(lower), list(upper)
    n = len(vs)
    if buf is None:
        buf = np.empty((n + 1, r0.size))
        buf[n] = r0
    else:
        buf = buf[:n + 1]
    scale = []
    for j, vj in enumerate(vs):
        h = inward_step(_FSTEP * (abs(vj) if vj != 0.0 else 1.0), vj, lo[j], up[j])
        w = list(vs)
        w[j] = vj + h
        taken = w[j] - vj  # the step actually taken; zero where |v| * sqrt(eps) underflows
        scale.append(1.0 / taken if taken != 0.0 else math.inf)  # inf: a non-finite column, no error bars
        obj.write(w)
        np.subtract(obj._call(v), r0, out=buf[j])  # not counted: x is only used for best-so-far tracking
    return _Decomposition(buf, scale=scale)


def _accurate_rows(obj: Objective, v: Array, r0: Array, lower: Bounds, upper: Bounds,
                   richardson: bool = True) -> Array:
    """Central differences at ``v``, one-sided near a bound: Jacobian rows, then ``r0``.

    With ``richardson`` (the default) two step sizes are extrapolated to fourth
    order; without it, plain second-order differences.
    """
    n = v.size
    buf = np.empty((n + 1, r0.size))
    step = _RSTEP if richardson else _STEP
    for j in range(n):
        h = step * (abs(v[j]) if v[j] != 0.0 else 1.0)
        buf[j] = _column(obj, v, r0, j, h, lower[j], upper[j], richardson=richardson)
    buf[n] = r0
    return buf


def _column(obj: Objective, v: Array, r0: Array, j: int, h: float, lo: float, hi: float,
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
#: the Gram matrix of unscaled difference rows is scaled afterwards only when its diagonal, before and after,
#: lies well inside the floating-point range (otherwise the rows are scaled first)
_SAFE_LOW, _SAFE_HIGH = 1.0e-280, 1.0e280
#: largest number of free parameters whose scaled Gram matrix is inverted on Python floats (Cholesky);
#: above it, or when that inverse cannot prove the matrix well conditioned, LAPACK decomposes it
_PY_MAX = 8


def _spd_inverse(a: list[list[float]]) -> list[list[float]] | None:
    """Inverse of a small symmetric positive definite matrix by Cholesky on Python floats; None if not positive definite.

    For a handful of parameters this costs less than one call into LAPACK.
    """
    n = len(a)
    low: list[list[float]] = []  # rows of L, a = L L^T; row i has i + 1 entries
    for i in range(n):
        ai = a[i]
        row: list[float] = []
        for j in range(i):
            lj = low[j]
            t = ai[j]
            for k in range(j):
                t -= row[k] * lj[k]
            row.append(t / lj[j])
        t = ai[i]
        for x in row:
            t -= x * x
        if not t > 0.0:  # also NaN
            return None
        row.append(math.sqrt(t))
        low.append(row)
    w: list[list[float]] = []  # rows of W = L^-1 (lower triangular)
    for i in range(n):
        li = low[i]
        d = li[i]
        row = [0.0] * (i + 1)
        row[i] = 1.0 / d
        for j in range(i):
            t = 0.0
            for k in range(j, i):
                t -= li[k] * w[k][j]
            row[j] = t / d
        w.append(row)
    inv = []  # a^-1 = W^T W
    for i in range(n):
        inv.append([0.0] * n)
    for i in range(n):
        for j in range(i + 1):
            t = 0.0
            for k in range(i, n):
                t += w[k][i] * w[k][j]
            inv[i][j] = inv[j][i] = t
    return inv


def _inf_norm(a: list[list[float]]) -> float:
    """Largest absolute row sum."""
    out = 0.0
    for row in a:
        t = sum(map(abs, row))
        if t > out:
            out = t
    return out


class _Decomposition:
    """The column-scaled Jacobian decomposed once: condition, ``(J^T J)^-1`` and the Gauss-Newton step.

    Built from the buffer of :func:`_forward_rows` (rows: Jacobian columns, then
    the residual ``r``). One matrix product gives ``J^T J``, ``J^T r`` and
    ``r^T r``; the Gram matrix is scaled to unit diagonal. A fit has a handful
    of parameters, so the per-call overhead of numpy and LAPACK, not arithmetic,
    is the cost here (each distinct routine, called once after the model's own
    work, costs tens of microseconds). Up to :data:`_PY_MAX` parameters the
    scaled Gram matrix is inverted by Cholesky on Python floats, and that
    inverse bounds the condition number from above
    (``kappa_2(G) <= ||G||_inf ||G^-1||_inf`` for a symmetric ``G``): when the
    bound proves the Jacobian's condition number at most
    :data:`REFINE_CONDITION`, no decision below needs the exact value and
    LAPACK is not called. Otherwise one symmetric eigen-decomposition (LAPACK
    ``dsyevd``) gives the exact condition number, and ill-conditioned Jacobians
    use the SVD of the Jacobian itself. Every decision (refine, normal equations
    or SVD) is the one the exact condition number would give.
    """

    __slots__ = ("buf", "n", "norms", "safe", "finite", "lam", "vec", "_cond", "_bound", "_gram", "_inv", "_g",
                 "_svd", "_step", "_scale")

    def __init__(self, buf: Array, products: list[list[float]] | None = None,
                 scale: list[float] | None = None) -> None:
        self.buf = buf
        self.n = n = buf.shape[0] - 1
        self._scale = scale  # Jacobian row j is buf[j] * scale[j]: applied to the products, and to buf on demand
        self._svd: tuple[Array, Array, Array] | None = None
        self._step: tuple[list[float], float] | None = None
        self.lam: Array | None = None
        self.vec: Array | None = None
        self._cond: float | None = None
        self._bound = math.inf
        self._inv: list[list[float]] | None = None
        # upper triangle of [J r]^T [J r] (``products``: already computed, possibly with more rows after these)
        mm = _LA.syrk(1.0, buf.T, trans=1).tolist() if products is None else products
        if scale is not None:
            safe_range = True
            for i in range(n):
                d = mm[i][i]
                if not (_SAFE_LOW < d < _SAFE_HIGH and _SAFE_LOW < d * scale[i] * scale[i] < _SAFE_HIGH):
                    safe_range = False
                    break
            if safe_range:  # the products of the scaled rows, on Python floats (n + 1 rows of the triangle)
                for i in range(n):
                    row, si = mm[i], scale[i]
                    for k in range(i, n):
                        row[k] *= si * scale[k]
                    row[n] *= si
            else:  # zero, non-finite, or near under- or overflow: scale the rows themselves first
                rows = buf[:n]
                with np.errstate(over="ignore", invalid="ignore"):  # non-finite columns are reported, not warned of
                    rows *= np.array(scale)[:, None]
                mm = _LA.syrk(1.0, buf.T, trans=1).tolist()
                self._scale = None
        # plain loops, no comprehensions: this runs once per fit, after the model's own work has pushed
        # fitcore's code out of the caches, where each comprehension's function object costs microseconds
        norms, safe, g = [], [], []
        finite = True
        for i in range(n):
            d = mm[i][i]
            x = math.sqrt(d) if d > 0.0 else 0.0
            norms.append(x)
            safe.append(x if x > 0.0 else 1.0)
            gi = mm[i][n] / safe[i]  # (J^T r) scaled
            g.append(gi)
            if not (math.isfinite(d) and math.isfinite(gi)):
                finite = False
        gram = []
        for i in range(n):
            row = []
            for k in range(n):
                row.append((mm[i][k] if i <= k else mm[k][i]) / (safe[i] * safe[k]))
            gram.append(row)
        self.norms, self.safe, self._g, self.finite, self._gram = norms, safe, g, finite, gram
        if not finite:
            self._cond = math.inf
            return
        if n <= _PY_MAX and 0.0 not in norms:
            inv = _spd_inverse(gram)
            if inv is not None:
                bound = math.sqrt(_inf_norm(gram) * _inf_norm(inv))
                if bound <= REFINE_CONDITION:
                    self._inv, self._bound = inv, bound

    def _eigen(self) -> None:
        lam, vec, info = _LA.syevd(np.array(self._gram))
        self.lam, self.vec = lam, vec  # vec[:, k]: eigenvector k
        lo, hi = float(lam[0]), float(lam[-1])
        if info != 0 or not lo > 0.0 or not math.isfinite(hi) or 0.0 in self.norms:
            self._cond = math.inf
        else:
            self._cond = math.sqrt(hi / lo)

    @property
    def cond(self) -> float:
        """Condition number of the column-scaled Jacobian (exact; LAPACK is called on first use if needed)."""
        if self._cond is None:
            self._eigen()
        assert self._cond is not None
        return self._cond

    def cond_above(self, limit: float) -> bool:
        """Whether the condition number exceeds ``limit`` (exact answer, from the bound where it suffices)."""
        if self._inv is not None and self._bound <= limit:
            return False
        return not self.cond <= limit

    def regular(self) -> bool:
        """Whether the condition number is finite."""
        return self._inv is not None or self.cond < math.inf

    @property
    def jac(self) -> Array:
        """The Jacobian (a view of the buffer, scaled in place on first use)."""
        if self._scale is not None:
            rows = self.buf[:self.n]
            rows *= np.array(self._scale)[:, None]
            self._scale = None
        return self.buf[:self.n].T

    def svd(self) -> tuple[Array, Array, Array]:
        if self._svd is None:
            self._svd = np.linalg.svd(self.jac / np.array(self.safe), full_matrices=False)
        return self._svd

    def well_conditioned(self) -> bool:
        return not self.cond_above(_GRAM_CONDITION)

    def step(self) -> tuple[list[float], float]:
        """Gauss-Newton step ``-pinv(J) r`` and its predicted decrease of chi-square ``|J step|^2``."""
        if self._step is None:
            safe, g = self.safe, self._g
            inv = self._inv
            if inv is not None:
                step, predicted = [], 0.0
                for row, s_j, g_j in zip(inv, safe, g):
                    t = 0.0  # (G^-1 g)_j, scaled
                    for a, b in zip(row, g):
                        t += a * b
                    step.append(-t / s_j)
                    predicted += t * g_j
                self._step = step, predicted
            elif self.well_conditioned():
                vec = self.vec
                assert vec is not None and self.lam is not None
                c = np.dot(g, vec)  # the scaled gradient in the eigenbasis
                cl = c / self.lam
                self._step = ([-a / b for a, b in zip(np.dot(vec, cl).tolist(), safe)], float(np.dot(c, cl)))
            else:
                u, s, vt = self.svd()
                keep = s > s[0] * max(self.buf.shape[1], self.n) * _EPS
                coef = (self.buf[self.n] @ u)[keep]
                step = (-(vt[keep].T @ (coef / s[keep]))).tolist()
                self._step = [a / b for a, b in zip(step, safe)], float(coef @ coef)
        return self._step

    def scaled_inverse(self, names: list[str]) -> tuple[list[list[float]] | None, str | None]:
        """``(S^T S)^-1`` of the column-scaled Jacobian ``S`` (covariance is this over ``safe_i * safe_j``).

        Returns ``(None, reason)`` when it is singular.
        """
        if not self.finite:
            jac = self.jac
            bad = [names[j] for j in range(len(names)) if not np.isfinite(jac[:, j]).all()]
            return None, f"the Jacobian is not finite for parameter(s) {', '.join(map(repr, bad))}"
        if 0.0 in self.norms:
            dead = [names[j] for j, nj in enumerate(self.norms) if nj == 0.0]
            return None, (f"parameter(s) {', '.join(map(repr, dead))} have no effect on the residual "
                          "(zero derivative); fix them or check the model")
        if self._inv is not None:
            return self._inv, None
        if self.well_conditioned():
            vec = self.vec
            assert vec is not None
            return ((vec / self.lam) @ vec.T).tolist(), None
        _, s, vt = self.svd()
        if s[-1] <= s[0] * max(SINGULAR_RTOL, max(self.buf.shape[1], self.n) * _EPS):
            null = np.abs(vt[-1])
            culprits = [names[j] for j in np.argsort(null)[::-1][:2] if null[j] > 0.1]
            return None, (f"the covariance matrix is singular: parameters {', '.join(map(repr, culprits))} "
                          "are (nearly) fully correlated; fix one of them or add a constraint")
        return ((vt.T / s**2) @ vt).tolist(), None


def condition(jac: Array) -> float:
    """Condition number of the Jacobian after scaling its columns to unit norm."""
    jac = np.asarray(jac, dtype=float)
    buf = np.zeros((jac.shape[1] + 1, jac.shape[0]))
    buf[:-1] = jac.T
    return _Decomposition(buf).cond


def _stencil_rows(obj: Objective, stencil: Stencil, v: Array, r0: Array) -> tuple[_Decomposition | None, Array | None]:
    """The engine's forward differences as the decomposed Jacobian at ``v`` (external), or None when not accurate there.

    Returns ``(decomposition, None)``, or ``(None, buffer)`` with a buffer (``r0`` in
    row ``n``) the core's own forward differences may fill, or ``(None, None)``.

    Each column becomes a forward difference in external coordinates (the
    external step is what the bound transform made of the engine's step; it
    must be within a factor of ten of the core's own step). When ``v`` is not
    the stencil's base point, the residual at ``v`` must match the stencil's
    linear prediction: the mismatch ``e = d - J dv`` (``d`` the residual's
    change) bounds the curvature along the move ``dv``, and ``2 |e| / |J dv|``
    estimates the relative change of the Jacobian in between, which must not
    exceed :data:`REUSE_RTOL`. The one matrix product the decomposition needs
    anyway, with ``d`` as one more row, gives ``|e|^2 = d.d - 2 dv.J^T d + dv.J^T J dv``
    (rounding in it is about ``1e-14 |d|^2``, far below the ``1e-12 |d|^2`` tested).
    """
    n, m = len(obj.free), r0.size
    rows = np.asarray(stencil.rows, dtype=float)
    base_r = np.asarray(stencil.r, dtype=float)
    xb = np.asarray(stencil.x, dtype=float).ravel().tolist()
    hs = np.asarray(stencil.steps, dtype=float).ravel().tolist()
    if rows.shape != (n, m) or base_r.shape != (m,) or len(xb) != n or len(hs) != n:
        return None, None
    ext = obj._ext
    probes = []
    for a, h in zip(xb, hs):
        probes.append(a + h)
    vb, vp = (xb, probes) if ext is None else (ext(xb), ext(probes))  # the transform is coordinate by coordinate
    vl = v.tolist()
    dv = []
    for j in range(n):
        d = vp[j] - vb[j]
        own = _FSTEP * (abs(vl[j]) if vl[j] != 0.0 else 1.0)
        if not 0.1 * own <= abs(d) <= 10.0 * own:
            return None, None
        dv.append(d)
    scale, coef, moved = [], [], False  # J^T row j is (rows_j - base_r) * scale_j; J dv = sum coef_j (rows_j - base_r)
    for a, b, d in zip(vl, vb, dv):
        scale.append(1.0 / d)
        coef.append((a - b) / d)
        moved = moved or a != b
    buf = np.empty((n + 2 if moved else n + 1, m))  # residual differences, r0 and (when moved) d
    np.subtract(rows, base_r, out=buf[:n])
    buf[n] = r0
    if moved:
        np.subtract(r0, base_r, out=buf[n + 1])
    mm = _LA.syrk(1.0, buf.T, trans=1).tolist()
    if moved:
        k = n + 1
        quad = cross = 0.0  # |J dv|^2 from the upper triangle, and dv . J^T d
        for i in range(n):
            row, ci = mm[i], coef[i]
            if not _SAFE_LOW < row[i] < _SAFE_HIGH:  # products near under- or overflow decide nothing
                return None, buf
            t = 0.0
            for j in range(i + 1, n):
                t += coef[j] * row[j]
            quad += ci * (ci * row[i] + 2.0 * t)
            cross += ci * row[k]
        err2 = mm[k][k] - 2.0 * cross + quad
        # also refuses NaN and inf
        if not (2.0 * math.sqrt(max(err2, 0.0)) <= REUSE_RTOL * math.sqrt(max(quad, 0.0)) and quad < math.inf):
            return None, buf
        buf = buf[:k]
    return _Decomposition(buf, mm, scale), None


def _jacobian(obj: Objective, v: Array, r0: Array, lower: Bounds, upper: Bounds,
              stencil: Stencil | None = None) -> tuple[_Decomposition, int]:
    """The engine's stencil or forward differences, refined when ill-conditioned.

    Returns the decomposition and the evaluations used.
    """
    dec, spare = (None, None) if stencil is None else _stencil_rows(obj, stencil, v, r0)
    used = 0
    if dec is None:
        dec = _forward_rows(obj, v, r0, lower, upper, spare)
        used = v.size
    if dec.cond_above(REFINE_CONDITION):
        dec = _Decomposition(_accurate_rows(obj, v, r0, lower, upper))
        used += 4 * v.size
    return dec, used


def _moves(step: list[float], v: list[float]) -> bool:
    """Whether ``step`` moves some value by more than :data:`POLISH_RTOL` of it."""
    for a, b in zip(step, v):
        if abs(a) > POLISH_RTOL * abs(b):
            return True
    return False


def _line_search(obj: Objective, v: Array, step: Array, chi: float, lower: Bounds,
                 upper: Bounds) -> tuple[tuple[Array, Array] | None, int]:
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
    obj: Objective,
    v: Array,
    r0: Array,
    chisqr: float,
    nfree: int,
    lower: Bounds,
    upper: Bounds,
    scale_covar: bool = True,
    polish: bool = False,
    stencil: Stencil | None = None,
) -> Uncertainty:
    """Estimate covariance, stderr and correlations at external values ``v``.

    ``chisqr`` is ``r0 @ r0``. With ``polish``, Gauss-Newton steps from the accurate Jacobian are tried
    first (see the module notes); the returned ``v``/``resid`` are the point
    the error bars belong to. The objective's parameters are left holding
    that point (and the expressions' values there) afterwards. An engine's
    ``stencil`` replaces the forward differences when it is accurate at ``v``.
    """
    names = obj.names
    if nfree <= 0:
        return Uncertainty(None, {}, {}, f"no degrees of freedom left (nfree = {nfree}): "
                           "need more data points than varied parameters", None, 0, v, r0)
    obj.counting = False
    polished = used = 0
    dec: _Decomposition | None = None
    try:
        dec, used = _jacobian(obj, v, r0, lower, upper, stencil)
        chi = chisqr
        while polish and polished < MAX_POLISH and dec.regular() and chi > 0.0:
            step, predicted = dec.step()
            if not (predicted > POLISH_TOLERANCE * chi / nfree
                    and _moves(step, v.tolist())):
                break
            found, tried = _line_search(obj, v, np.array(step), chi, lower, upper)
            used += tried
            if found is None:
                break
            v, r0 = found
            chi = float(r0 @ r0)
            polished += 1
            # an accurate Jacobian from here on: forward differences bias the step on large residuals
            dec = _Decomposition(_accurate_rows(obj, v, r0, lower, upper))
            used += 4 * v.size
    finally:
        obj.counting = True
        if dec is None or used:  # evaluations moved the parameters: back to the answer
            obj.set_external(v)
    assert dec is not None
    inv, reason = dec.scaled_inverse(names)
    if inv is None:
        return Uncertainty(None, {}, {}, reason, None, used, v, r0, polished, _dec=dec)
    factor = chi / nfree if scale_covar else 1.0  # an exact fit (chisqr = 0) has zero error bars, not none
    unc = _from_scaled(inv, dec.safe, factor, names, used)
    unc._dec = dec
    unc.gn_step = dec.step()[0]
    unc.v, unc.resid, unc.polished = v, r0, polished
    return unc


def _from_scaled(inv: list[list[float]], safe: list[float], factor: float, names: list[str],
                 nfev: int) -> Uncertainty:
    """Covariance ``factor * inv_ij / (safe_i safe_j)``, stderr and correlations, on Python floats."""
    roots = []  # correlations do not depend on the scale
    for i, row in enumerate(inv):
        d = row[i]
        if not 0.0 < d < math.inf:
            return Uncertainty(None, {}, {}, "the covariance matrix has non-positive or non-finite variances",
                               None, nfev)
        roots.append(math.sqrt(d))
    root = math.sqrt(factor)
    correl, stderr, cov = {}, {}, []  # plain loops: see _Decomposition
    for a, row, ra, sa in zip(names, inv, roots, safe):
        corr, crow = {}, []
        for b, c, rb, sb in zip(names, row, roots, safe):
            if b != a:
                corr[b] = c / (ra * rb)
            crow.append(factor * c / (sa * sb))
        correl[a], stderr[a] = corr, ra * root / sa
        cov.append(crow)
    return Uncertainty(np.array(cov), stderr, correl, None, None, nfev)


def from_covariance(cov: Array, names: list[str], jac: Array | None = None, nfev: int = 0) -> Uncertainty:
    """Standard errors and correlations from a covariance matrix (in ``names`` order)."""
    rows = np.asarray(cov, dtype=float).tolist()
    unc = _from_scaled(rows, [1.0] * len(rows), 1.0, names, nfev)
    unc.jacobian = jac
    return unc


def propagate(obj: Objective, v: Array, cov: Array) -> dict[str, float]:
    """First-order stderr of every expression parameter from the free parameters' covariance.

    The expressions' gradient with respect to the free parameters comes from
    central differences of the expressions alone (the residual is not called),
    for the parameters the expressions read (the gradient is zero for the others).
    """
    cons = obj.constraints
    if cons is None:
        return {}
    ordered = cons.ordered
    pars = []
    for c in ordered:
        pars.append(c.par)
    vs = v.tolist()
    used = cons.input_set  # names the expressions read: the others have no effect on them
    grads: list[list[float]] = []  # grads[j][k]: d expression k / d free parameter j (plain loops: see _Decomposition)
    try:
        for par_j, vj in zip(obj.free, vs):
            if par_j.name not in used:
                grads.append([0.0] * len(pars))
                continue
            h = _STEP * (abs(vj) if vj != 0.0 else 1.0)
            up, down = vj + h, vj - h
            par_j._value = up
            cons.evaluate()
            high = []
            for p in pars:
                high.append(p._value)
            par_j._value = down
            cons.evaluate()
            grad = []
            for a, p in zip(high, pars):
                grad.append((a - p._value) / (up - down))
            grads.append(grad)
            par_j._value = vj
    finally:
        obj.set_external(v)
    cl = cov.tolist()
    out = {}
    for k, c in enumerate(ordered):
        var = 0.0
        for gi, row in zip(grads, cl):
            t = 0.0
            for gj, cij in zip(grads, row):
                t += cij * gj[k]
            var += gi[k] * t
        out[c.name] = math.sqrt(var) if var > 0.0 else 0.0
    return out
