"""The ``nlopt`` engine: one NLopt algorithm (optionally followed by a local polish) on ``problem.scalar``."""

from __future__ import annotations

from typing import Any

import nlopt
import numpy as np

from fitcore import EngineResult, Problem
from fitcore.errors import EngineError, EngineOptionError

from . import OPTIONS
from .algorithms import available, code, is_global, needs_local, uses_gradient, uses_local
from .checks import normalize

__all__ = ["nlopt_engine"]

#: nlopt result codes by value
RESULTS = {
    1: "SUCCESS", 2: "STOPVAL_REACHED", 3: "FTOL_REACHED", 4: "XTOL_REACHED", 5: "MAXEVAL_REACHED",
    6: "MAXTIME_REACHED", -1: "FAILURE", -2: "INVALID_ARGS", -3: "OUT_OF_MEMORY", -4: "ROUNDOFF_LIMITED",
    -5: "FORCED_STOP",
}
_CONVERGED = (1, 2, 3, 4)
_DEFAULT_LOCAL = "LN_BOBYQA"


class _Stage:
    """One nlopt.opt run on ``problem.scalar`` that keeps the best point and lets exceptions out.

    Some algorithms (the Luksan LD_* ones, StoGO) swallow exceptions raised in the
    objective, and StoGO even ignores a forced stop; so the exception is kept here,
    nlopt is asked to stop, later calls return ``inf`` without evaluating, and the
    exception is raised again once ``optimize`` returns.
    """

    def __init__(self, problem: Problem, alg: str, opts: dict[str, Any], maxeval: int,
                 local: str | None, scale: np.ndarray | None = None) -> None:
        self.problem = problem
        n = problem.nvar
        # nlopt works on u = x / scale: gradient algorithms take their first step along the gradient,
        # which on parameters of very different magnitude overshoots by orders of magnitude
        self.scale = np.ones(n) if scale is None else np.asarray(scale, dtype=float)
        self.alg = alg
        self.pending: BaseException | None = None
        self.best_f = np.inf
        self.best_x: np.ndarray | None = None
        self.calls = 0
        self.reason = ""
        self.retried = ""
        self.lower, self.upper = problem.lower, problem.upper
        self.opt = opt = nlopt.opt(code(alg), n)
        opt.set_min_objective(self._objective)
        opt.set_lower_bounds(problem.lower / self.scale)
        opt.set_upper_bounds(problem.upper / self.scale)
        _tolerances(opt, opts, self.scale)
        opt.set_maxeval(int(maxeval))
        if opts["maxtime"] is not None:
            opt.set_maxtime(float(opts["maxtime"]))
        self.default_step = opts["initial_step"] is None
        if not self.default_step:
            opt.set_initial_step(np.broadcast_to(np.asarray(opts["initial_step"], dtype=float), (n,)) / self.scale)
        if opts["population"] is not None:
            opt.set_population(int(opts["population"]))
        if local is not None:
            sub = nlopt.opt(code(local), n)
            _tolerances(sub, opts, self.scale)
            opt.set_local_optimizer(sub)

    def _objective(self, x: np.ndarray, grad: np.ndarray) -> float:
        if self.pending is not None:
            self.opt.force_stop()
            return np.inf
        self.calls += 1
        x = np.minimum(np.maximum(x * self.scale, self.lower), self.upper)  # some overshoot a bound by an ulp
        try:
            if grad.size:
                f, g = self.problem.scalar(x), self.problem.gradient(x)  # one evaluation for both
                grad[:] = g * self.scale  # nlopt reads the gradient from this array: fill it, never rebind
            else:
                f = self.problem.scalar(x)
        except BaseException as exc:  # noqa: BLE001 - kept and raised again after optimize()
            self.pending = exc
            self.opt.force_stop()
            return np.inf
        if f < self.best_f:
            self.best_f, self.best_x = f, np.array(x, dtype=float)
        return f

    def _bounded_step(self, u0: np.ndarray) -> None:
        """Use nlopt's default first step for the bounds, but never longer than its default without them.

        nlopt makes the first step of a bounded parameter a fraction of its range or of its distance to
        a bound; bounds of +-1e300 standing for "no bound" would make it 1e300. A bound only ever
        restricts, so each step is capped at nlopt's unbounded default: ``|u0|``, or 1 where ``u0`` is 0.
        """
        bounded = np.abs(np.asarray(self.opt.get_initial_step(u0), dtype=float))
        free = np.where(u0 != 0.0, np.abs(u0), 1.0)
        self.opt.set_initial_step(np.minimum(bounded, free))

    def run(self, x0: np.ndarray, retry: bool = True) -> tuple[np.ndarray, int]:
        """Optimize from ``x0``; return the best point and nlopt's result code."""
        try:
            x0 = np.clip(np.asarray(x0, dtype=float), self.lower, self.upper)  # nlopt refuses a start 1 ulp out
            if self.default_step:
                self._bounded_step(x0 / self.scale)
            u = np.asarray(self.opt.optimize(x0 / self.scale), dtype=float)
            x = np.clip(u * self.scale, self.lower, self.upper)
            status = int(self.opt.last_optimize_result())
        except Exception as exc:
            if self.pending is not None:
                raise self.pending from None
            status = int(self.opt.last_optimize_result())
            reason = self.opt.get_errmsg() or str(exc).strip() or "nlopt gave no reason"
            if status == nlopt.INVALID_ARGS and self.calls > 0 and self.best_x is not None and retry:
                # nlopt's BOBYQA can fail its own bound check by roundoff once x reaches a bound
                # mid-run; that is no fault of the arguments, so continue once from the best point
                self.retried = f"restarted once from the best point after nlopt said: {reason}"
                return self.run(self.best_x, retry=False)
            if status in (nlopt.ROUNDOFF_LIMITED, nlopt.FAILURE) and self.best_x is not None:
                self.reason = reason
                return self.best_x, status
            raise EngineError(f"nlopt algorithm {self.alg} failed with {RESULTS.get(status, status)}: {reason}",
                              "nlopt") from None
        if self.pending is not None:  # an algorithm that swallowed the exception
            raise self.pending
        if self.best_x is not None and self.best_f < self.problem.scalar(x):
            x = self.best_x
        return x, status


def _tolerances(opt: Any, opts: dict[str, Any], scale: np.ndarray) -> None:
    opt.set_xtol_rel(float(opts["xtol_rel"]))
    opt.set_ftol_rel(float(opts["ftol_rel"]))
    opt.set_xtol_abs(float(opts["xtol_abs"]) / scale)
    opt.set_ftol_abs(float(opts["ftol_abs"]))


def _seed(seed: Any) -> None:
    """Seed nlopt's (process-wide) generator from fitcore's ``seed``; unseeded fits draw from the clock."""
    if seed is None:
        nlopt.srand_time()
        return
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(0, 2**31 - 1))
    elif isinstance(seed, np.random.RandomState):
        seed = int(seed.randint(0, 2**31 - 1))
    elif isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
        raise EngineOptionError(f"engine 'nlopt': seed={seed!r}; expected an integer from 0 to 2**64 - 1, a "
                                "numpy Generator or RandomState, or None", "nlopt", "seed")
    nlopt.srand(int(seed))


def nlopt_engine(problem: Problem, **options: Any) -> EngineResult:
    """Minimize ``problem.scalar`` (chi-square, or a cost) with the NLopt algorithm ``algorithm``.

    Parameters
    ----------
    problem : fitcore.Problem
        Native bounds (``problem.lower``/``upper``); global algorithms need them finite.
    **options
        ``algorithm``, ``local_algorithm``, ``xtol_rel``, ``ftol_rel``, ``xtol_abs``,
        ``ftol_abs``, ``maxeval``, ``maxtime``, ``initial_step``, ``population``,
        ``polish``; see :data:`fitcore_engine_nlopt.OPTIONS` and ``docs/engines.md``.

    Returns
    -------
    fitcore.EngineResult
        ``status`` is nlopt's result code (of the polish, when there is one);
        ``success`` is True for SUCCESS/STOPVAL/FTOL/XTOL_REACHED (of the polish, when there
        is one; for an unpolished global algorithm also MAXEVAL/MAXTIME_REACHED), and only
        when the chi-square gradient at the result is negligible (see :func:`_stationary`).
    """
    opts = {**OPTIONS, **options}
    valid = available()
    alg = normalize("algorithm", opts["algorithm"], valid)
    glob = is_global(alg)
    local = normalize("local_algorithm", opts["local_algorithm"], valid) if opts["local_algorithm"] else None
    polish = glob if opts["polish"] is None else bool(opts["polish"])
    sub = (local or _DEFAULT_LOCAL) if (needs_local(alg) or (local and uses_local(alg))) else None
    n = problem.nvar
    maxeval = opts["maxeval"] or (1000 if glob else 2000) * (n + 1)
    _seed(problem.seed)
    scale = _scale(problem.x0) if uses_gradient(alg) else None
    stage = _Stage(problem, alg, opts, maxeval, sub, scale)
    x, status = stage.run(problem.x0)
    extras: dict[str, Any] = {"algorithm": alg, "nlopt_result": RESULTS.get(status, str(status)),
                              "nlopt_calls": stage.calls, "uses_gradient": uses_gradient(alg)}
    if sub:
        extras["local_algorithm"] = sub
    if stage.retried:
        extras["retried"] = stage.retried
    ok = status in _CONVERGED or (glob and status in (5, 6))
    message = f"nlopt {alg}: {RESULTS.get(status, status)}"
    if status in (nlopt.ROUNDOFF_LIMITED, nlopt.FAILURE):
        message += f" ({stage.reason}; the best point seen is returned)"
    if polish:
        pol_alg = local or _DEFAULT_LOCAL
        pol = _Stage(problem, pol_alg, {**opts, "initial_step": None, "population": None},
                     2000 * (n + 1), None)
        px, pstatus = pol.run(x)
        if problem.scalar(px) <= problem.scalar(x):
            x = px
        extras.update(polish_algorithm=pol_alg, polish_result=RESULTS.get(pstatus, str(pstatus)),
                      polish_calls=pol.calls)
        message += f"; polished by {pol_alg}: {RESULTS.get(pstatus, pstatus)}"
        ok = ok and pstatus in _CONVERGED
        status = pstatus
    x = np.clip(np.asarray(x, dtype=float), problem.lower, problem.upper)
    if ok and not _stationary(x, problem):
        ok = False
        message += ("; but the chi-square gradient at the result is not small (the point is not a minimum): "
                    "try another algorithm or tighter tolerances")
    return EngineResult(x=x.reshape(n), success=ok, message=message, status=status,
                        extras=extras)


def _scale(x0: np.ndarray) -> np.ndarray:
    """Typical magnitude of each parameter: its start, or 1 where the start is 0."""
    mag = np.abs(np.asarray(x0, dtype=float))
    return np.where(mag > 0.0, mag, 1.0)


#: largest cosine between the residual and a column of the Jacobian at an accepted minimum
STATIONARY_COS = 1.0e-4
#: largest Gauss-Newton step, relative to each value's magnitude, at an accepted minimum
STATIONARY_STEP = 1.0e-6
#: smallest singular value of the column-scaled Jacobian, relative to the largest, at an accepted minimum
DEGENERATE_RTOL = 1.0e-7
#: relative distance from a bound within which a parameter counts as held by it
_BOUND_ROOM = 1.0e-7


def _stationary(x: np.ndarray, problem: Problem) -> bool:
    """Whether ``x`` is a minimum as far as first derivatives tell (bounds taken into account).

    Some algorithms (e.g. LD_SLSQP on some problems) report convergence far from
    a minimum; this keeps ``success`` honest at the cost of one Jacobian. For a
    cost fit, which has no residual, it accepts nlopt's verdict. A point
    passes when no free column of the Jacobian has a cosine above
    :data:`STATIONARY_COS` with the residual, or when the Gauss-Newton step from it
    moves no free value by more than :data:`STATIONARY_STEP` of its magnitude
    (the start's where the value is 0, or 1). The second test is the one that
    decides exact, noise-free fits: there the residual is only what is left of
    the distance to the minimum, the Jacobian's own columns, so its cosines stay
    large however close the point is.
    """
    if problem.objective != "least_squares":
        return True  # a cost has no residual to test against: nlopt's own result and the core's verdict decide
    r = np.array(problem.residual(x), dtype=float)
    rn = float(np.linalg.norm(r))
    if rn == 0.0:
        return True
    jac = problem.jacobian(x)
    g = jac.T @ r
    norms = np.linalg.norm(jac, axis=0)
    norms[norms == 0] = 1.0
    cos = np.abs(g) / (norms * rn)
    near = _BOUND_ROOM * np.maximum(np.abs(x), 1.0)
    free = ~(((x - problem.lower <= near) & (g > 0)) | ((problem.upper - x <= near) & (g < 0)))
    # a (nearly) rank-deficient Jacobian is a degenerate limit with a flat gradient, not a minimum
    # (LN_BOBYQA on NIST Lanczos1-3: 1e-9 there, 1e-4 at the certified answers)
    if jac.shape[0] >= jac.shape[1]:
        sv = np.linalg.svd(jac / norms, compute_uv=False)
        if not sv[-1] > DEGENERATE_RTOL * sv[0]:
            return False
    if np.all(cos[free] <= STATIONARY_COS):
        return True
    step = np.linalg.lstsq(jac[:, free], -r, rcond=None)[0]
    size = np.maximum(np.abs(x[free]), _scale(problem.x0)[free])
    return bool(np.all(np.abs(step) <= STATIONARY_STEP * size))
