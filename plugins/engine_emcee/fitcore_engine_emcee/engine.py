"""The ``emcee`` engine: emcee's ensemble sampler on the log-posterior of the fit."""

from __future__ import annotations

import math
from typing import Any

import emcee
import numpy as np

from fitcore import EngineResult, Problem
from fitcore.errors import EngineOptionError

from . import OPTIONS
from .checks import ndim_of

__all__ = ["emcee_engine", "LogPosterior", "start_ball"]

#: relative radius of the ball of walkers around the start (absolute where a value is 0)
BALL = 1.0e-4
#: a walker whose mean log-probability is more than this (+ ndim) below the walkers' median is stuck in
#: another mode (on a sine with many local minima in its frequency, four of 32 walkers stay ~480 below)
STUCK_LNPROB = 10.0


class LogPosterior:
    """Log-posterior with flat priors inside the bounds; keeps the first exception instead of letting emcee print it.

    emcee prints a traceback for every exception raised in the log-probability and then
    re-raises it; fitcore stops fits (``max_nfev``, ``iter_cb``) by raising. So the exception
    is kept, every later call returns ``-inf`` without evaluating, the engine stops sampling
    after the current step and raises it again.

    Parameters
    ----------
    problem : fitcore.Problem
        Its ``scalar`` is the chi-square (least-squares fit) or the cost (cost fit).
    mode : {'weighted', 'lnsigma', 'cost'}
        ``-chisqr / 2``; ``-chisqr / (2 sigma**2) - ndata * log(sigma)`` with ``sigma = exp(x[-1])``;
        ``-cost / (2 errordef)``.
    errordef : float
        The cost's change for one standard error (cost fits).
    """

    def __init__(self, problem: Problem, mode: str, errordef: float = 1.0) -> None:
        self.scalar, self.mode, self.errordef = problem.scalar, mode, float(errordef)
        self.lower, self.upper, self.ndata = problem.lower, problem.upper, problem.ndata
        self.nvar = problem.nvar
        self.pending: BaseException | None = None

    def __call__(self, theta: np.ndarray) -> float:
        """Return the log-posterior at ``theta`` (the parameters, then ``__lnsigma`` if sampled)."""
        if self.pending is not None:
            return -math.inf
        x = theta[:self.nvar]
        if np.any(x < self.lower) or np.any(x > self.upper):
            return -math.inf
        try:
            f = float(self.scalar(x))
        except BaseException as exc:  # noqa: BLE001 - kept, raised again once emcee returns
            self.pending = exc
            return -math.inf
        if not math.isfinite(f):
            return -math.inf
        if self.mode == "weighted":
            return -0.5 * f
        if self.mode == "cost":
            return -f / (2.0 * self.errordef)
        lnsigma = float(theta[-1])
        if f <= 0.0:  # an exact fit: only the normalization depends on sigma
            return -self.ndata * lnsigma
        exponent = math.log(f) - 2.0 * lnsigma
        if exponent > 700.0:  # sigma far below the residual's size: no posterior mass (and exp would overflow)
            return -math.inf
        return -0.5 * math.exp(exponent) - self.ndata * lnsigma


def start_ball(x0: np.ndarray, lower: np.ndarray, upper: np.ndarray, nwalkers: int,
               rng: np.random.Generator) -> np.ndarray:
    """Walkers in a small ball around ``x0`` (relative radius :data:`BALL`), reflected into the bounds."""
    scale = np.where(x0 != 0.0, np.abs(x0), 1.0) * BALL
    width = upper - lower
    scale = np.minimum(scale, np.where(np.isfinite(width), width * BALL, np.inf))
    pos = x0 + scale * rng.standard_normal((nwalkers, x0.size))
    pos = np.where(pos < lower, 2 * lower - pos, pos)
    pos = np.where(pos > upper, 2 * upper - pos, pos)
    return np.clip(pos, lower, upper)


def _mode(problem: Problem, is_weighted: Any) -> str:
    if getattr(problem, "objective", "least_squares") == "cost":
        if is_weighted is not None:
            raise EngineOptionError("engine 'emcee': is_weighted applies to least-squares fits; a cost fit's "
                                    "log-likelihood is -cost / (2 errordef): leave is_weighted out", "emcee",
                                    "is_weighted")
        return "cost"
    return "weighted" if is_weighted else "lnsigma"


def emcee_engine(problem: Problem, **options: Any) -> EngineResult:
    """Sample the posterior of ``problem``'s parameters, starting in a small ball around ``problem.x0``.

    Parameters
    ----------
    problem : fitcore.Problem
        Native bounds: the flat prior is zero outside them (infinite bounds: improper flat prior).
        ``problem.seed`` seeds the start ball and emcee's moves.
    **options
        ``nwalkers``, ``steps``, ``burn``, ``thin``, ``is_weighted``, ``progress``,
        ``min_autocorr_lengths``; see :data:`fitcore_engine_emcee.OPTIONS`.

    Returns
    -------
    fitcore.EngineResult
        ``samples``: the chain after ``burn``, thinned, flattened, shape ``(nsamples, nvar)``;
        ``x`` their medians. ``extras``: ``chain`` (steps, walkers, ndim), ``lnprob``,
        ``acceptance_fraction`` (per walker), ``autocorr_time`` (per dimension, emcee's
        estimate), ``var_names``, and ``lnsigma`` (median) when the noise scale was sampled.
        ``success``: the chain after burn is at least ``min_autocorr_lengths`` autocorrelation
        times long, the mean acceptance fraction is within [0.05, 0.95], and no walker is stuck
        in another mode (:data:`STUCK_LNPROB`; ``extras['stuck_walkers']`` counts them).
    """
    opts = {**OPTIONS, **options}
    mode = _mode(problem, opts["is_weighted"])
    n = problem.nvar
    ndim = ndim_of(n, mode != "lnsigma")
    nwalkers = int(opts["nwalkers"] or max(32, 2 * ndim + 2))
    steps, burn, thin = int(opts["steps"]), int(opts["burn"]), int(opts["thin"])
    seed = problem.seed
    if isinstance(seed, np.random.RandomState):  # a legacy generator: draw a seed from it
        seed = int(seed.randint(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    x0 = np.clip(np.array(problem.x0, dtype=float), problem.lower, problem.upper)
    post = LogPosterior(problem, mode, getattr(problem, "errordef", 1.0))
    pos = start_ball(x0, problem.lower, problem.upper, nwalkers, rng)
    names = list(problem.names)
    if mode == "lnsigma":
        chi2 = float(problem.scalar(x0))
        if post.pending is not None or not math.isfinite(chi2):
            raise EngineOptionError("engine 'emcee': the chi-square at the start is not finite, so no noise scale "
                                    "can be estimated; start from finite values", "emcee", None)
        lnsigma0 = 0.5 * math.log(max(chi2, 1e-300) / max(problem.ndata - n, 1))
        pos = np.column_stack([pos, lnsigma0 + BALL * rng.standard_normal(nwalkers)])
        names.append("__lnsigma")
    sampler = emcee.EnsembleSampler(nwalkers, ndim, post)
    sampler.random_state = np.random.RandomState(int(rng.integers(2**32 - 1))).get_state()
    for _ in sampler.sample(pos, iterations=steps, progress=bool(opts["progress"]), skip_initial_state_check=True):
        if post.pending is not None:
            break
    if post.pending is not None:
        raise post.pending
    chain = sampler.get_chain(discard=burn, thin=thin)
    flat = chain.reshape(-1, ndim)
    samples = flat[:, :n].copy()
    tau = np.asarray(sampler.get_autocorr_time(discard=burn, tol=0), dtype=float)
    accept = np.asarray(sampler.acceptance_fraction, dtype=float)
    kept = steps - burn
    lengths = kept / float(np.max(tau)) if np.all(np.isfinite(tau)) and np.max(tau) > 0 else 0.0
    ok_len = lengths >= float(opts["min_autocorr_lengths"])
    ok_acc = 0.05 <= float(np.mean(accept)) <= 0.95
    lnprob = sampler.get_log_prob(discard=burn, thin=thin)
    walker_mean = np.mean(lnprob, axis=0)
    stuck = int(np.sum(walker_mean < np.median(walker_mean) - (STUCK_LNPROB + ndim)))
    message = (f"emcee: {steps} steps of {nwalkers} walkers, {burn} burned; the chain after burn is {lengths:.1f} "
               f"autocorrelation times long (longest tau {float(np.max(tau)):.1f} steps); mean acceptance "
               f"fraction {float(np.mean(accept)):.2f}")
    if not ok_len:
        message += (f"; fewer than min_autocorr_lengths={opts['min_autocorr_lengths']}: run more steps "
                    "(emcee recommends 50 autocorrelation times)")
    if not ok_acc:
        message += "; the acceptance fraction is outside [0.05, 0.95]: the walkers are stuck or the posterior is flat"
    if stuck:
        message += (f"; {stuck} walker(s) stayed where the log-probability is more than {STUCK_LNPROB:g} + ndim below "
                    "the others' (another mode): start from a previous fit, or run more steps")
    extras: dict[str, Any] = {
        "chain": chain, "lnprob": lnprob, "stuck_walkers": stuck,
        "acceptance_fraction": accept, "autocorr_time": tau, "var_names": names,
        "nwalkers": nwalkers, "steps": steps, "burn": burn, "thin": thin,
    }
    if mode == "lnsigma":
        extras["lnsigma"] = float(np.median(flat[:, -1]))
    ok = ok_len and ok_acc and not stuck
    return EngineResult(x=np.median(samples, axis=0), success=ok, message=message, status=0 if ok else 1,
                        nit=steps, extras=extras, samples=samples)
