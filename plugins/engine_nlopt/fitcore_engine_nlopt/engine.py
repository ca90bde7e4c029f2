"""The ``nlopt`` engine: one NLopt algorithm (optionally followed by a local polish) on the chi-square."""

from __future__ import annotations

from typing import Any

import nlopt
import numpy as np

from fitcore import EngineResult, Problem
from fitcore.errors import EngineError

from . import OPTIONS
from ._derivs import ChiSquare
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
    """One nlopt.opt run on the chi-square that keeps the best point and lets exceptions out.

    Some algorithms (the Luksan LD_* ones, StoGO) swallow exceptions raised in the
    objective, and StoGO even ignores a forced stop; so the exception is kept here,
    nlopt is asked to stop, later calls return ``inf`` without evaluating, and the
    exception is raised again once ``optimize`` returns.
    """

    def __init__(self, chi: ChiSquare, alg: str, problem: Problem, opts: dict[str, Any], maxeval: int,
                 local: str | None) -> None:
        self.chi = chi
        self.alg = alg
        self.pending: BaseException | None = None
        self.best_f = np.inf
        self.best_x: np.ndarray | None = None
        self.calls = 0
        n = problem.nvar
        self.opt = opt = nlopt.opt(code(alg), n)
        opt.set_min_objective(self._objective)
        opt.set_lower_bounds(problem.lower)
        opt.set_upper_bounds(problem.upper)
        _tolerances(opt, opts)
        opt.set_maxeval(int(maxeval))
        if opts["maxtime"] is not None:
            opt.set_maxtime(float(opts["maxtime"]))
        if opts["initial_step"] is not None:
            opt.set_initial_step(np.broadcast_to(np.asarray(opts["initial_step"], dtype=float), (n,)).copy())
        if opts["population"] is not None:
            opt.set_population(int(opts["population"]))
        if local is not None:
            sub = nlopt.opt(code(local), n)
            _tolerances(sub, opts)
            opt.set_local_optimizer(sub)

    def _objective(self, x: np.ndarray, grad: np.ndarray) -> float:
        if self.pending is not None:
            self.opt.force_stop()
            return np.inf
        self.calls += 1
        try:
            if grad.size:
                f, g = self.chi.value_and_gradient(x)
                grad[:] = g  # nlopt reads the gradient from this array: fill it, never rebind
            else:
                f = self.chi.value(x)
        except BaseException as exc:  # noqa: BLE001 - kept and raised again after optimize()
            self.pending = exc
            self.opt.force_stop()
            return np.inf
        if f < self.best_f:
            self.best_f, self.best_x = f, np.array(x, dtype=float)
        return f

    def run(self, x0: np.ndarray) -> tuple[np.ndarray, int]:
        """Optimize from ``x0``; return the best point and nlopt's result code."""
        try:
            x = np.asarray(self.opt.optimize(np.asarray(x0, dtype=float)), dtype=float)
            status = int(self.opt.last_optimize_result())
        except Exception as exc:
            if self.pending is not None:
                raise self.pending from None
            status = int(self.opt.last_optimize_result())
            if status == nlopt.ROUNDOFF_LIMITED and self.best_x is not None:
                return self.best_x, status
            reason = self.opt.get_errmsg() or str(exc).strip() or "nlopt gave no reason"
            raise EngineError(f"nlopt algorithm {self.alg} failed with {RESULTS.get(status, status)}: {reason}",
                              "nlopt") from None
        if self.pending is not None:  # an algorithm that swallowed the exception
            raise self.pending
        if self.best_x is not None and self.best_f < self.chi.value(x):
            x = self.best_x
        return x, status


def _tolerances(opt: Any, opts: dict[str, Any]) -> None:
    opt.set_xtol_rel(float(opts["xtol_rel"]))
    opt.set_ftol_rel(float(opts["ftol_rel"]))
    opt.set_xtol_abs(float(opts["xtol_abs"]))
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
    nlopt.srand(int(seed))


def nlopt_engine(problem: Problem, **options: Any) -> EngineResult:
    """Minimize the chi-square of ``problem`` with the NLopt algorithm ``algorithm``.

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
        ``success`` is True for SUCCESS/STOPVAL/FTOL/XTOL_REACHED, and for a global
        algorithm without polish also when it spent its evaluation or time budget.
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
    chi = ChiSquare(problem)
    stage = _Stage(chi, alg, problem, opts, maxeval, sub)
    x, status = stage.run(problem.x0)
    extras: dict[str, Any] = {"algorithm": alg, "nlopt_result": RESULTS.get(status, str(status)),
                              "nlopt_calls": stage.calls, "uses_gradient": uses_gradient(alg)}
    if sub:
        extras["local_algorithm"] = sub
    ok = status in _CONVERGED or (glob and status in (5, 6))
    message = f"nlopt {alg}: {RESULTS.get(status, status)}"
    if status == nlopt.ROUNDOFF_LIMITED:
        message += " (roundoff errors limited progress; the best point seen is returned)"
    if polish:
        pol_alg = local or _DEFAULT_LOCAL
        pol = _Stage(chi, pol_alg, problem, {**opts, "initial_step": None, "population": None},
                     2000 * (n + 1), None)
        px, pstatus = pol.run(x)
        if chi.value(px) <= chi.value(x):
            x = px
        extras.update(polish_algorithm=pol_alg, polish_result=RESULTS.get(pstatus, str(pstatus)),
                      polish_calls=pol.calls)
        message += f"; polished by {pol_alg}: {RESULTS.get(pstatus, pstatus)}"
        ok = ok and pstatus in _CONVERGED
        status = pstatus
    return EngineResult(x=np.asarray(x, dtype=float).reshape(n), success=ok, message=message, status=status,
                        extras=extras)
