"""Covariance, standard errors and correlations: from a Jacobian, a Hessian, a covariance or samples.

A least-squares fit's covariance is ``s^2 (J^T J)^-1`` with ``J`` the Jacobian
of the residual in the user's (external) coordinates. It comes from one
singular value decomposition of ``J`` with its columns scaled to unit norm
(:class:`ScaledJacobian`), which also gives the condition number and the
Gauss-Newton step; the normal equations are never formed, so nothing squares
the condition number or under- or overflows for residuals near the ends of the
floating-point range. A cost fit's covariance is ``2 errordef H^-1``
(:func:`covariance_from_hessian`), decomposed the same way after scaling ``H``
to unit diagonal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = ["ErrorBars", "ScaledJacobian", "SINGULAR_RTOL", "condition", "errorbars_from_covariance",
           "errorbars_from_samples", "covariance_from_hessian", "no_errorbars", "with_covariance"]

Array = NDArray[np.float64]
_EPS = float(np.finfo(float).eps)
#: singular values of the column-scaled Jacobian below this fraction of the largest are difference
#: noise (Richardson differences resolve about 1e-11): the parameters are then not separable
SINGULAR_RTOL = 1.0e-9


@dataclass(frozen=True)
class ErrorBars:
    """The error bars of one fit, and the point they belong to.

    Attributes
    ----------
    covar : ndarray or None
        Covariance of the free parameters (external coordinates); None when it
        could not be estimated, with the reason in ``reason``.
    stderr : dict
        Standard error by name.
    correl : dict
        ``correl[a][b]``: correlation of ``a`` with each other free parameter ``b``.
    reason : str or None
        Why ``covar`` is None.
    nfev : int
        Evaluations spent on the error bars and the Gauss-Newton polish.
    jacobian : ndarray or None
        ``(ndata, nvar)`` Jacobian of the residual at ``v`` (None for cost fits
        and where none was formed).
    v : ndarray
        The point the error bars belong to (polished, or as given); empty when
        they come from an engine's covariance.
    resid : ndarray or None
        The residual at ``v`` (None for cost fits).
    polished : int
        Gauss-Newton steps kept.
    gn_step : ndarray or None
        The Gauss-Newton (for a cost: Newton) step still pointing away from ``v``;
        None where it was not computed.
    """

    covar: Array | None
    stderr: dict[str, float]
    correl: dict[str, dict[str, float]]
    reason: str | None
    nfev: int = 0
    jacobian: Array | None = None
    v: Array = field(default_factory=lambda: np.empty(0))
    resid: Array | None = None
    polished: int = 0
    gn_step: Array | None = None


def no_errorbars(reason: str, **fields: object) -> ErrorBars:
    """ErrorBars without a covariance, saying why."""
    return ErrorBars(None, {}, {}, reason, **fields)  # type: ignore[arg-type]


def with_covariance(cov: Array, names: Sequence[str], **fields: object) -> ErrorBars:
    """ErrorBars from a covariance matrix (in ``names`` order): stderr and correlations.

    A covariance with a non-positive or non-finite variance gives no error bars, saying so.
    """
    cov = np.asarray(cov, dtype=float)
    var = np.diag(cov).copy() if cov.ndim == 2 else np.array([])
    if cov.shape != (len(names), len(names)):
        raise ValueError(f"covariance of shape {cov.shape} for {len(names)} parameters {tuple(names)}")
    if not (np.all(np.isfinite(cov)) and np.all(var > 0.0)):
        return no_errorbars("the covariance matrix has non-positive or non-finite variances", **fields)
    stderr = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / np.outer(stderr, stderr)
    return _assemble(cov, stderr, corr, names, **fields)


def _assemble(cov: Array, stderr: Array, corr: Array, names: Sequence[str], **fields: object) -> ErrorBars:
    names = list(names)
    correl = {}
    for i, (a, row) in enumerate(zip(names, corr.tolist())):
        del row[i]
        correl[a] = dict(zip(names[:i] + names[i + 1:], row))
    return ErrorBars(cov, dict(zip(names, stderr.tolist())), correl, None, **fields)  # type: ignore[arg-type]


class ScaledJacobian:
    """A Jacobian with unit-norm columns, decomposed once by SVD: condition, covariance, Gauss-Newton step.

    Parameters
    ----------
    jac : ndarray, shape (ndata, nvar)
        The Jacobian of the residual.
    names : sequence of str
        The free parameters' names (for the reasons given when there are no error bars).
    """

    def __init__(self, jac: Array, names: Sequence[str]) -> None:
        self.jac = jac
        self.names = list(names)
        self._gn: tuple[Array, tuple[Array, float]] | None = None
        with np.errstate(over="ignore", invalid="ignore"):
            self.norms = np.sqrt(np.einsum("ij,ij->j", jac, jac))
        self.reason: str | None = None
        self.dead = False  # a parameter without effect: no difference formula helps
        self.s: Array | None = None
        total = float(self.norms.sum())
        if not math.isfinite(total):
            bad = [n for n, ok in zip(self.names, np.asarray(np.isfinite(jac).all(axis=0)).tolist()) if not ok]
            if not bad:  # finite entries whose squares overflow: scale before squaring
                big = np.max(np.abs(jac), axis=0)
                self.norms = big * np.linalg.norm(jac / big, axis=0)
            else:
                self.reason = f"the Jacobian is not finite for parameter(s) {', '.join(map(repr, bad))}"
                return
        if float(self.norms.min()) == 0.0:
            dead = [n for n, d in zip(self.names, self.norms) if d == 0.0]
            self.dead = True
            self.reason = (f"parameter(s) {', '.join(map(repr, dead))} have no effect on the residual "
                           "(zero derivative); fix them or check the model")
            return
        self.u, self.s, self.vt = np.linalg.svd(jac / self.norms, full_matrices=False)

    def ill_conditioned(self, limit: float) -> bool:
        """Whether the condition number exceeds ``limit`` or the Jacobian is not finite (a zero column is not)."""
        if self.s is None:
            return not self.dead
        return self.condition > limit

    @property
    def condition(self) -> float:
        """Condition number of the column-scaled Jacobian (inf when it is degenerate)."""
        if self.s is None or self.s[-1] == 0.0:
            return np.inf
        return float(self.s[0] / self.s[-1])

    def gauss_newton(self, r: Array) -> tuple[Array, float] | None:
        """Return the Gauss-Newton step ``-pinv(J) r`` and its predicted decrease of chi-square ``|J step|^2``.

        Directions of singular values at rounding level are left out; None when
        the Jacobian is degenerate.
        """
        if self.s is None:
            return None
        if self._gn is not None and self._gn[0] is r:
            return self._gn[1]
        s = self.s
        coef = r @ self.u
        if s[-1] <= s[0] * max(self.jac.shape) * _EPS:
            keep = s > s[0] * max(self.jac.shape) * _EPS
            s, coef, vt = s[keep], coef[keep], self.vt[keep]
        else:
            vt = self.vt
        out = -((coef / s) @ vt) / self.norms, float(coef @ coef)
        self._gn = r, out
        return out

    def errorbars(self, factor: float, **fields: object) -> ErrorBars:
        """Covariance ``factor * (J^T J)^-1``, stderr and correlations, or the reason there are none."""
        if self.s is None:
            assert self.reason is not None
            return no_errorbars(self.reason, **fields)
        s, vt = self.s, self.vt
        if s[-1] <= s[0] * max(SINGULAR_RTOL, max(self.jac.shape) * _EPS):
            null = np.abs(vt[-1])
            culprits = [self.names[j] for j in np.argsort(null)[::-1][:2] if null[j] > 0.1]
            return no_errorbars(f"the covariance matrix is singular: parameters {', '.join(map(repr, culprits))} "
                                "are (nearly) fully correlated; fix one of them or add a constraint", **fields)
        w = vt.T / s
        inv = w @ w.T  # (S^T S)^-1 of the scaled Jacobian S
        roots = np.sqrt(inv.diagonal())
        corr = inv / roots / roots[:, None]  # correlations do not depend on factor (an exact fit has factor 0)
        scale = 1.0 / self.norms
        cov = inv * (factor * scale) * scale[:, None]
        return _assemble(cov, math.sqrt(factor) * roots * scale, corr, self.names, **fields)


def condition(jac: Array) -> float:
    """Condition number of a Jacobian after scaling its columns to unit norm (inf when degenerate)."""
    jac = np.asarray(jac, dtype=float)
    return ScaledJacobian(jac, [str(j) for j in range(jac.shape[1])]).condition


def covariance_from_hessian(hess: Array, names: Sequence[str], errordef: float,
                            **fields: object) -> ErrorBars:
    """Covariance ``2 errordef H^-1`` of a cost's minimum from its Hessian ``H``, or the reason there is none.

    ``H`` is scaled to unit diagonal and decomposed by ``eigh``; a Hessian that
    is not positive definite (a saddle, a maximum, or a flat direction at
    rounding level) gives no error bars.
    """
    diag = np.diag(hess)
    if not np.all(np.isfinite(hess)):
        bad = [n for n, row in zip(names, np.asarray(np.isfinite(hess).all(axis=1)).tolist()) if not row]
        return no_errorbars(f"the Hessian of the cost is not finite for parameter(s) {', '.join(map(repr, bad))}",
                            **fields)
    if np.any(diag <= 0.0):
        flat = [n for n, d in zip(names, diag) if d <= 0.0]
        what = "no effect on the cost" if np.all(diag[diag <= 0.0] == 0.0) else "negative curvature"
        return no_errorbars(f"parameter(s) {', '.join(map(repr, flat))} have {what} at the answer (second "
                            "derivative <= 0): not a minimum in them; fix them or check the cost", **fields)
    scale = np.sqrt(diag)
    lam, vec = np.linalg.eigh(hess / np.outer(scale, scale))
    if lam[0] <= lam[-1] * max(SINGULAR_RTOL, len(names) * _EPS):
        culprits = [names[j] for j in np.argsort(np.abs(vec[:, 0]))[::-1][:2] if abs(vec[j, 0]) > 0.1]
        kind = "singular" if lam[0] > -lam[-1] * SINGULAR_RTOL else "not positive definite (a saddle, not a minimum)"
        return no_errorbars(f"the Hessian of the cost is {kind}: parameters {', '.join(map(repr, culprits))} "
                            "are (nearly) fully correlated or not at a minimum; fix one of them or add a constraint",
                            **fields)
    inv = (vec / lam) @ vec.T
    roots = np.sqrt(np.diag(inv))
    corr = inv / np.outer(roots, roots)
    cov = 2.0 * errordef * inv / np.outer(scale, scale)
    return _assemble(cov, np.sqrt(2.0 * errordef) * roots / scale, corr, names, **fields)


def errorbars_from_covariance(cov: Array, names: Sequence[str]) -> ErrorBars:
    """ErrorBars from a covariance matrix an engine supplied (in ``names`` order).

    Parameters
    ----------
    cov : ndarray, shape (nvar, nvar)
        Covariance in external coordinates.
    names : sequence of str
        The free parameters, in the covariance's order.

    Returns
    -------
    ErrorBars
        With ``nfev`` 0, no Jacobian and an empty ``v``.
    """
    return with_covariance(cov, names)


def errorbars_from_samples(samples_external: Array, names: Sequence[str]) -> ErrorBars:
    """ErrorBars from posterior samples: medians, half the 15.87-84.13 % width, the samples' covariance.

    Parameters
    ----------
    samples_external : ndarray, shape (nsamples, nvar)
        Samples in external coordinates.
    names : sequence of str
        The free parameters, in column order.

    Returns
    -------
    ErrorBars
        ``v`` holds the medians and ``stderr`` the half widths (equal to the
        standard deviation for a normal posterior); ``covar`` and ``correl``
        are the samples' covariance and correlations.
    """
    samples = np.asarray(samples_external, dtype=float)
    if samples.ndim != 2 or samples.shape[1] != len(names) or samples.shape[0] < 2:
        raise ValueError(f"samples of shape {samples.shape}: need (nsamples >= 2, {len(names)}) "
                         f"for parameters {tuple(names)}")
    if not np.all(np.isfinite(samples)):
        return no_errorbars("the posterior samples are not all finite", v=np.median(samples, axis=0))
    low, med, high = np.percentile(samples, [15.865525393145708, 50.0, 84.13447460685429], axis=0)
    cov = np.atleast_2d(np.cov(samples, rowvar=False))
    sd = np.sqrt(np.diag(cov))
    if np.any(sd == 0.0):
        dead = [n for n, d in zip(names, sd) if d == 0.0]
        return no_errorbars(f"the posterior samples of {', '.join(map(repr, dead))} do not vary", v=med)
    return _assemble(cov, (high - low) / 2.0, cov / np.outer(sd, sd), names, v=med)
