"""Levenberg-Marquardt for a batch of fits: MINPACK's rules per fit, the arithmetic on arrays.

Every fit follows MINPACK's ``lmdif``/``lmder`` (Moré, "The Levenberg-Marquardt
algorithm: implementation and theory", 1977): variables scaled by ``diag``
(the running maximum of the Jacobian's column norms, or the user's ``diag``),
a trust region of radius ``delta`` started at ``factor * ||diag * x0||``, the
Levenberg-Marquardt parameter found by Moré's safeguarded Newton iteration so
that the scaled step is within 10 % of ``delta``, the same ratio of actual to
predicted reduction deciding acceptance (``ratio >= 1e-4``) and the update of
``delta`` and the parameter, and the same convergence tests (``ftol``,
``xtol``, ``gtol``, ``maxfev``, and the "tolerance too small" codes 6-8).

What differs is how the linear algebra is done. Each fit's step solves the
normal equations ``(J^T J + par D^2) p = -J^T f`` through one symmetric
eigen-decomposition of the scaled Gram matrix ``D^-1 J^T J D^-1 = V diag(w) V^T``
per Jacobian, computed for the whole batch in one LAPACK call
(``linalg.eigh`` on a stack of small matrices). In that basis the step for
any ``par`` is ``D p = -V (b / (w + par))`` with ``b = V^T D^-1 J^T f``, so
the Newton iteration on ``par`` costs a few array operations, not a
factorization per trial. Directions with ``w <= nvar * eps * max(w)`` are
dropped from the Gauss-Newton step, as MINPACK's rank-revealing QR drops them.

The loop advances all unfinished fits at once: each pass evaluates a new
Jacobian for the fits whose last step was accepted, then one trial step for
every unfinished fit (one batched residual evaluation). A fit that meets a
convergence test, spends its budget or returns a non-finite residual leaves
the active set and is never evaluated again.

The arrays go through the namespace of the starting point (the array API's
``__array_namespace__``) for the element-wise functions, reductions and
``linalg``; row selection and updates use numpy-style indexing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fitcore import BatchEngineResult, BatchProblem
from fitcore.stacked_linalg import cholesky_solve

__all__ = ["batch_lm", "OPTIONS", "MESSAGES"]

#: Defaults, as the ``leastsq`` engine's; ``maxfev=None`` means ``1000 * (nvar + 1)`` per fit.
OPTIONS: dict[str, Any] = {
    "ftol": 1.0e-7,
    "xtol": 1.0e-7,
    "gtol": 0.0,
    "maxfev": None,
    "factor": 100.0,
    "diag": None,
}

#: MINPACK's exit codes (``info``) and their meaning; -1 is this engine's own.
MESSAGES = {
    -1: "The residual or its Jacobian is not finite; the fit was stopped.",
    1: "Both actual and predicted relative reductions in the sum of squares are at most ftol.",
    2: "The relative error between two consecutive iterates is at most xtol.",
    3: "Both actual and predicted relative reductions in the sum of squares are at most ftol and "
       "the relative error between two consecutive iterates is at most xtol.",
    4: "The cosine of the angle between the residual and any column of the Jacobian is at most gtol "
       "in absolute value.",
    5: "Number of calls to the function has reached maxfev.",
    6: "ftol is too small. No further reduction in the sum of squares is possible.",
    7: "xtol is too small. No further improvement in the approximate solution x is possible.",
    8: "gtol is too small. The residual is orthogonal to the columns of the Jacobian to machine precision.",
}
SUCCESS = (1, 2, 3, 4)
_EPS = float(np.finfo(float).eps)
_DWARF = float(np.finfo(float).tiny)


def _namespace(x: Any) -> Any:
    get = getattr(x, "__array_namespace__", None)
    return get() if get is not None else np


def _lmpar_eig(xp: Any, s: Any, b: Any, delta: Any, par: Any) -> tuple[Any, Any]:
    """Moré's Levenberg-Marquardt parameter in the eigenbasis of ``S``, for rank-deficient ``S``.

    Returns ``par`` and the scaled step ``c = D p`` negated (``(S + par I) c = b``, the
    Gauss-Newton step on the numerical range of ``S`` when ``par = 0``).
    """
    w, vecs = xp.linalg.eigh(s)
    w = xp.maximum(w, 0.0)
    b = xp.sum(vecs * b[:, :, None], axis=1)  # V^T b
    nvar = w.shape[1]
    full = w > nvar * _EPS * xp.max(w, axis=1, keepdims=True)
    fullrank = xp.all(full, axis=1)
    wsafe = xp.where(full, w, 1.0)
    c = xp.where(full, b / wsafe, 0.0)
    dxnorm = xp.sqrt(xp.sum(c * c, axis=1))
    fp = dxnorm - delta
    gauss_newton = fp <= 0.1 * delta
    safe_dx = xp.where(dxnorm > 0, dxnorm, 1.0)
    slope = xp.sum(xp.where(full, c * c / wsafe, 0.0), axis=1) / (safe_dx * safe_dx)
    parl = xp.where(fullrank & ~gauss_newton & (slope > 0), fp / delta / xp.where(slope > 0, slope, 1.0), 0.0)
    bnorm = xp.sqrt(xp.sum(b * b, axis=1))
    paru = bnorm / delta
    paru = xp.where(paru == 0, _DWARF / xp.minimum(delta, 0.1), paru)
    par = xp.minimum(xp.maximum(par, parl), paru)
    par = xp.where(par == 0, bnorm / safe_dx, par)
    active = ~gauss_newton
    for it in range(10):
        if not bool(xp.any(active)):
            break
        par = xp.where(active & (par == 0), xp.maximum(_DWARF, 0.001 * paru), par)
        wp = w + par[:, None]
        trial = b / wp
        c = xp.where(active[:, None], trial, c)
        dxn = xp.sqrt(xp.sum(trial * trial, axis=1))
        previous, fp = fp, xp.where(active, dxn - delta, fp)
        stop = (xp.abs(fp) <= 0.1 * delta) | ((parl == 0) & (fp <= previous) & (previous < 0)) | (it == 9)
        going = active & ~stop
        dxs = xp.where(dxn > 0, dxn, 1.0)
        slope = xp.sum(trial * trial / wp, axis=1) / (dxs * dxs)
        parc = fp / delta / xp.where(slope > 0, slope, 1.0)
        parl = xp.where(going & (fp > 0), xp.maximum(parl, par), parl)
        paru = xp.where(going & (fp < 0), xp.minimum(paru, par), paru)
        par = xp.where(going, xp.maximum(parl, par + parc), par)
        active = going
    return xp.where(gauss_newton, 0.0, par), xp.sum(vecs * c[:, None, :], axis=2)


def _lmpar_chol(xp: Any, s: Any, lower: Any, b: Any, delta: Any, par: Any) -> tuple[Any, Any]:
    """Moré's Levenberg-Marquardt parameter for fits whose scaled Gram matrix ``S`` is positive definite.

    Solves ``(S + par I) c = b`` for each trial ``par`` (the scaled step is
    ``D p = -c``), with ``lower`` the Cholesky factors of ``S`` for
    ``par = 0``; the derivative of ``||c||`` comes from one more solve with
    the same factors, as MINPACK's ``lmpar`` gets it from its R factor.
    Only the fits still iterating are factorized again.
    """
    k, nvar = b.shape
    eye = xp.eye(nvar)
    c = cholesky_solve(lower, b)
    dxnorm = xp.sqrt(xp.sum(c * c, axis=1))
    fp = dxnorm - delta
    active = fp > 0.1 * delta
    par = xp.where(active, par, 0.0)
    if not bool(xp.any(active)):
        return par, c
    safe_dx = xp.where(dxnorm > 0, dxnorm, 1.0)
    y = cholesky_solve(lower, c)
    slope = xp.sum(c * y, axis=1) / (safe_dx * safe_dx)
    parl = xp.where(active & (slope > 0), fp / delta / xp.where(slope > 0, slope, 1.0), 0.0)
    bnorm = xp.sqrt(xp.sum(b * b, axis=1))
    paru = bnorm / delta
    paru = xp.where(paru == 0, _DWARF / xp.minimum(delta, 0.1), paru)
    par = xp.where(active, xp.minimum(xp.maximum(par, parl), paru), 0.0)
    par = xp.where(active & (par == 0), bnorm / safe_dx, par)
    rows = np.flatnonzero(np.asarray(active))
    for it in range(10):
        if not rows.size:
            break
        p_r = par[rows]
        p_r = xp.where(p_r == 0, xp.maximum(_DWARF, 0.001 * paru[rows]), p_r)
        m = xp.linalg.cholesky(s[rows] + p_r[:, None, None] * eye)  # positive definite: S is, and par > 0
        trial = cholesky_solve(m, b[rows])
        c[rows] = trial
        dl = delta[rows]
        dxn = xp.sqrt(xp.sum(trial * trial, axis=1))
        previous, fp_r = fp[rows], dxn - dl
        fp[rows] = fp_r
        par[rows] = p_r
        stop = (xp.abs(fp_r) <= 0.1 * dl) | ((parl[rows] == 0) & (fp_r <= previous) & (previous < 0)) | (it == 9)
        going = ~np.asarray(stop)
        if not going.any():
            break
        rows, m, trial, fp_r, dl, p_r = rows[going], m[going], trial[going], fp_r[going], dl[going], p_r[going]
        dxs = dxn[going]
        y = cholesky_solve(m, trial)
        slope = xp.sum(trial * y, axis=1) / (dxs * dxs)
        parc = fp_r / dl / xp.where(slope > 0, slope, 1.0)
        lo = xp.where(fp_r > 0, xp.maximum(parl[rows], p_r), parl[rows])
        parl[rows] = lo
        paru[rows] = xp.where(fp_r < 0, xp.minimum(paru[rows], p_r), paru[rows])
        par[rows] = xp.maximum(lo, p_r + parc)
    return par, c


def _factor(xp: Any, s: Any) -> tuple[Any, Any]:
    """Cholesky factors of the scaled Gram matrices, and which of them are numerically singular.

    A singular fit (its factor is left as the identity) takes the
    eigen-decomposition path; the others solve with their factors.
    """
    k, nvar = s.shape[0], s.shape[-1]
    try:
        lower = xp.linalg.cholesky(s)
    except np.linalg.LinAlgError:  # some matrix is not positive definite: tell them apart one by one
        good = np.zeros(k, dtype=bool)
        for i in range(k):
            try:
                xp.linalg.cholesky(s[i])
                good[i] = True
            except np.linalg.LinAlgError:
                pass
        lower = xp.zeros(s.shape) + xp.eye(nvar)
        if good.any():
            lower[good] = xp.linalg.cholesky(s[good])
    else:
        good = np.ones(k, dtype=bool)
    scale = xp.max(xp.linalg.diagonal(s), axis=1)
    pivots = xp.min(xp.linalg.diagonal(lower), axis=1)
    return lower, ~good | np.asarray(pivots * pivots <= nvar * _EPS * scale)


def batch_lm(problem: BatchProblem, **options: Any) -> BatchEngineResult:
    """Fit every problem of the batch by Levenberg-Marquardt.

    Parameters
    ----------
    problem : fitcore.BatchProblem
        The batch (unbounded: the engine declares ``bounds='transform'``).
    **options
        ``ftol``, ``xtol``, ``gtol``, ``factor``, ``diag`` with MINPACK's
        meaning, per fit; ``maxfev`` evaluations per fit (default
        ``1000 * (nvar + 1)``, never more than ``problem.max_nfev``).

    Returns
    -------
    fitcore.BatchEngineResult
        ``status`` is MINPACK's ``info`` per fit (1-4 success, 5 budget spent,
        6-8 tolerances too small), or -1 when the fit's residual turned non-finite.
    """
    if not isinstance(problem, BatchProblem):
        raise TypeError("batch_lm is a batched engine: it fits a fitcore.BatchProblem, given by "
                        "fitcore.fit_many(..., vectorized=True); for a single fit use engine='leastsq'")
    opts = {**OPTIONS, **options}
    ftol, xtol, gtol, factor = (float(opts[k]) for k in ("ftol", "xtol", "gtol", "factor"))
    xp = _namespace(problem.x0)
    n, nvar = problem.x0.shape
    budget = opts["maxfev"] if opts["maxfev"] is not None else 1000 * (nvar + 1)
    core_binds = problem.max_nfev is not None and problem.max_nfev < budget
    if problem.max_nfev is not None:
        budget = min(budget, problem.max_nfev)
    jac_cost = 0 if problem.has_analytic_jacobian else nvar
    user_diag = None if opts["diag"] is None else xp.asarray(np.asarray(opts["diag"], dtype=float))

    x = xp.asarray(problem.x0, dtype=xp.float64, copy=True)
    everyone = np.arange(n, dtype=np.intp)
    f = problem.residual(x, everyone)
    nfev = np.ones(n, dtype=np.int64)
    status = np.zeros(n, dtype=np.int64)
    status[~np.asarray(xp.all(xp.isfinite(f), axis=1))] = -1
    fnorm = xp.sqrt(xp.sum(f * f, axis=1))
    diag = xp.ones((n, nvar)) if user_diag is None else xp.broadcast_to(user_diag, (n, nvar)) * 1.0
    delta = xp.zeros(n)
    par = xp.zeros(n)
    xnorm = xp.zeros(n)
    gnorm = xp.zeros(n)
    nit = np.ones(n, dtype=np.int64)  # MINPACK's iter, 1 until the first accepted step
    started = np.zeros(n, dtype=bool)
    needs_jac = np.ones(n, dtype=bool)
    gram_s = xp.zeros((n, nvar, nvar))  # D^-1 J^T J D^-1 at the last Jacobian
    chol = xp.zeros((n, nvar, nvar))  # its Cholesky factor
    b = xp.zeros((n, nvar))
    rank_deficient = np.zeros(n, dtype=bool)

    while True:
        # the budget must cover what the fit does next: a Jacobian (if due) and one trial step
        due = np.where(needs_jac, jac_cost + 1, 1)
        status[(status == 0) & (nfev + due > budget)] = 5
        fits = np.flatnonzero((status == 0) & needs_jac)
        if fits.size:
            xs, fs = x[fits], f[fits]
            jac = problem.jacobian(xs, fits, fs)
            nfev[fits] += jac_cost
            gram = xp.matmul(xp.matrix_transpose(jac), jac)
            # a NaN or inf in the Jacobian (or an overflow) shows in J^T J, a far smaller array
            bad = ~np.asarray(xp.all(xp.isfinite(gram), axis=(1, 2)))
            if bad.any():
                status[fits[bad]] = -1
                fits, jac, xs, fs, gram = fits[~bad], jac[~bad], xs[~bad], fs[~bad], gram[~bad]
            acnorm = xp.sqrt(xp.linalg.diagonal(gram))
            first = ~started[fits]
            if user_diag is None:
                d = xp.where(first[:, None], xp.where(acnorm == 0, 1.0, acnorm), xp.maximum(diag[fits], acnorm))
                diag[fits] = d
            else:
                d = diag[fits]
            xn = xp.sqrt(xp.sum((d * xs) ** 2, axis=1))
            start_delta = factor * xn
            delta[fits] = xp.where(first, xp.where(start_delta == 0, factor, start_delta), delta[fits])
            xnorm[fits] = xp.where(first, xn, xnorm[fits])
            started[fits] = True
            grad = xp.matmul(fs[:, None, :], jac)[:, 0, :]  # J^T f
            fn = fnorm[fits]
            cosines = xp.abs(grad) / (xp.where(acnorm == 0, 1.0, acnorm) * xp.where(fn == 0, 1.0, fn)[:, None])
            g = xp.where(fn == 0, 0.0, xp.max(xp.where(acnorm == 0, 0.0, cosines), axis=1))
            gnorm[fits] = g
            status[fits[np.asarray(g <= gtol)]] = 4
            scaled = gram / (d[:, :, None] * d[:, None, :])
            gram_s[fits] = scaled
            b[fits] = grad / d  # D^-1 J^T f
            chol[fits], rank_deficient[fits] = _factor(xp, scaled)
            needs_jac[fits] = False

        fits = np.flatnonzero(status == 0)
        if not fits.size:
            break
        d, dl, fn = diag[fits], delta[fits], fnorm[fits]
        s_f, b_f, l_f = gram_s[fits], b[fits], chol[fits]
        p_par, c = xp.zeros(fits.size), xp.zeros((fits.size, nvar))
        eig = rank_deficient[fits]
        if not eig.any():
            p_par, c = _lmpar_chol(xp, s_f, l_f, b_f, dl, par[fits])
        else:
            chol_fits = ~eig
            if chol_fits.any():
                p_par[chol_fits], c[chol_fits] = _lmpar_chol(xp, s_f[chol_fits], l_f[chol_fits], b_f[chol_fits],
                                                             dl[chol_fits], par[fits[chol_fits]])
            p_par[eig], c[eig] = _lmpar_eig(xp, s_f[eig], b_f[eig], dl[eig], par[fits[eig]])
        dp = -c  # D p
        pnorm = xp.sqrt(xp.sum(dp * dp, axis=1))
        first = nit[fits] == 1
        dl = xp.where(first, xp.minimum(dl, pnorm), dl)
        xs = x[fits] + dp / d
        fs = problem.residual(xs, fits)
        nfev[fits] += 1
        fnorm1 = xp.sqrt(xp.sum(fs * fs, axis=1))
        bad = ~np.asarray(xp.isfinite(fnorm1))  # NaN or inf in the residual (or its squares overflow)
        status[fits[bad]] = -1
        actred = xp.where(0.1 * fnorm1 < fn, 1.0 - (fnorm1 / fn) ** 2, -1.0)
        temp1 = xp.sum(c * xp.matmul(s_f, c[:, :, None])[:, :, 0], axis=1) / (fn * fn)  # ||J p||^2 / fnorm^2
        temp2 = p_par * pnorm * pnorm / (fn * fn)
        prered = temp1 + 2.0 * temp2
        dirder = -(temp1 + temp2)
        ratio = xp.where(prered != 0, actred / xp.where(prered != 0, prered, 1.0), 0.0)
        shrink = ratio <= 0.25
        halve = xp.where(actred >= 0, 0.5, 0.5 * dirder / (dirder + 0.5 * actred))
        halve = xp.where((0.1 * fnorm1 >= fn) | (halve < 0.1), 0.1, halve)
        grow = ~shrink & ((p_par == 0) | (ratio >= 0.75))
        dl = xp.where(shrink, halve * xp.minimum(dl, pnorm / 0.1), xp.where(grow, pnorm / 0.5, dl))
        new_par = xp.where(shrink, p_par / halve, xp.where(grow, 0.5 * p_par, p_par))
        ok = ~bad
        delta[fits[ok]] = dl[ok]
        par[fits[ok]] = new_par[ok]
        accept = np.asarray(ratio >= 1e-4) & ok
        took = fits[accept]
        x[took] = xs[accept]
        f[took] = fs[accept]
        fnorm[took] = fnorm1[accept]
        xnorm[took] = xp.sqrt(xp.sum((diag[took] * xs[accept]) ** 2, axis=1))
        nit[took] += 1
        needs_jac[took] = True

        # MINPACK's tests, in its order, for the fits still running
        live = ok
        sub = fits[live]
        a, pr, r_, dl_ = actred[live], prered[live], ratio[live], delta[sub]
        small_f = np.asarray((xp.abs(a) <= ftol) & (pr <= ftol) & (0.5 * r_ <= 1.0))
        small_x = np.asarray(dl_ <= xtol * xnorm[sub])
        code = np.where(small_f & small_x, 3, np.where(small_x, 2, np.where(small_f, 1, 0)))
        code = np.where((code == 0) & (nfev[sub] >= budget), 5, code)
        code = np.where((code == 0) & np.asarray((xp.abs(a) <= _EPS) & (pr <= _EPS) & (0.5 * r_ <= 1.0)), 6, code)
        code = np.where((code == 0) & np.asarray(dl_ <= _EPS * xnorm[sub]), 7, code)
        code = np.where((code == 0) & np.asarray(gnorm[sub] <= _EPS), 8, code)
        status[sub] = code

    success = np.isin(status, SUCCESS)
    messages = tuple(MESSAGES[int(s)] for s in status)
    aborted = (status == 5) & core_binds
    return BatchEngineResult(x=x, success=success, status=status, message=messages, nfev=nfev,
                             nit=nit - 1, aborted=aborted,
                             extras={"ftol": ftol, "xtol": xtol, "gtol": gtol, "maxfev": budget})
