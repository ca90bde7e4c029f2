"""What the scipy engines share: the stationarity test behind an honest ``success``, the bounded polish, seeds."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
from scipy.optimize import OptimizeResult, minimize
from threadpoolctl import threadpool_limits

from fitcore import Problem

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["STATIONARY_COS", "DEGENERATE_RTOL", "Carried", "Clipped", "Finite", "uncarried", "bounds_list",
           "is_cost_fit",
           "generator", "inside", "message_of", "one_blas_thread", "polish", "rng_keyword", "stationary"]

#: largest cosine between the residual and a Jacobian column at an accepted least-squares minimum
STATIONARY_COS = 1.0e-4
#: smallest singular value of the column-scaled Jacobian, relative to the largest, at an accepted minimum
#: (forward differences resolve ~1e-8; the worst certified NIST StRD answer, Bennett5, is at 1.8e-5)
DEGENERATE_RTOL = 1.0e-7
#: a residual this small relative to the model's sensitivity (|J_j| |x_j|) is an exact fit (roundoff)
EXACT_RTOL = 1.0e-9
#: relative distance from a bound within which a parameter counts as held by it
_BOUND_ROOM = 1.0e-7
#: the polish's tolerances: tight enough for error bars as accurate as a least-squares engine's
POLISH_OPTIONS = {"ftol": 1.0e-12, "gtol": 1.0e-8}


class Carried(Exception):
    """A ``ValueError``/``TypeError`` from the objective, carried through scipy unchanged.

    differential_evolution turns either, raised inside its map, into a ``RuntimeError`` about
    the map's form; fitcore's own ``NonFiniteResidualError`` is a ``ValueError``.
    """

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


@contextmanager
def uncarried() -> Iterator[None]:
    """Raise the objective's own exception where scipy passed a :class:`Carried` one up."""
    try:
        yield
    except Carried as exc:
        raise exc.error from None
    except RuntimeError as exc:
        if isinstance(exc.__cause__, Carried):
            raise exc.__cause__.error from None
        raise


class Finite:
    """``fun(x)``, with a non-finite value replaced by ``+inf`` (picklable, for ``workers``)."""

    def __init__(self, fun: Callable[[np.ndarray], float]) -> None:
        self.fun = fun

    def __call__(self, x: np.ndarray) -> float:
        """Return the objective at ``x``, ``inf`` where it is not finite."""
        try:
            f = float(self.fun(x))
        except (ValueError, TypeError) as exc:
            raise Carried(exc) from exc
        return f if np.isfinite(f) else np.inf


def one_blas_thread(engine: F) -> F:
    """Run ``engine`` with one BLAS thread.

    scipy's quasi-Newton and trust-region methods do small dense algebra at every iteration,
    which BLAS threads only slow down: basinhopping's L-BFGS-B searches on the damped sine ran
    13 times slower with OpenBLAS's threads on a busy 2-core machine.
    """

    @functools.wraps(engine)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with threadpool_limits(limits=1, user_api="blas"):
            return engine(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class Clipped:
    """``fun(x)`` at ``x`` clipped into ``[lower, upper]`` (picklable, for ``workers``)."""

    def __init__(self, fun: Callable[[np.ndarray], Any], lower: np.ndarray, upper: np.ndarray) -> None:
        self.fun, self.lower, self.upper = fun, lower, upper

    def __call__(self, x: np.ndarray) -> Any:
        """Return ``fun`` on the bound where ``x`` is outside it."""
        return self.fun(np.clip(x, self.lower, self.upper))


def inside(problem: Problem) -> tuple[Clipped, Clipped]:
    """``problem.scalar`` and ``problem.gradient`` evaluated at ``x`` clipped into the bounds.

    scipy's line searches and grids can land an ulp outside a bound (Powell; brute's last grid
    point ``min + (Ns - 1) * step``); the user's model is evaluated on the bound instead.
    """
    return (Clipped(problem.scalar, problem.lower, problem.upper),
            Clipped(problem.gradient, problem.lower, problem.upper))


def is_cost_fit(problem: Problem) -> bool:
    """Whether ``problem.scalar`` is the user's own cost rather than the chi-square of a residual."""
    return getattr(problem, "objective", "least_squares") == "cost"


def bounds_list(problem: Problem) -> list[tuple[float | None, float | None]]:
    """``problem.lower``/``upper`` as scipy's ``(min, max)`` pairs, ``None`` for an infinite bound."""
    return [(float(lo) if np.isfinite(lo) else None, float(hi) if np.isfinite(hi) else None)
            for lo, hi in zip(problem.lower, problem.upper)]


def stationary(problem: Problem, x: np.ndarray, r: Any = None, jac: Any = None) -> str | None:
    """Why ``x`` is not a minimum of the chi-square as far as first derivatives tell, or None.

    Two tests, costing one Jacobian (``r`` and ``jac``, dense or sparse, spare the evaluations
    when the engine already has them at ``x``):

    * the largest cosine between the residual and a column of the Jacobian must be at most
      :data:`STATIONARY_COS`, ignoring parameters held by a bound the gradient pushes against.
      Several scipy methods stop on an absolute gradient or step tolerance and call that
      convergence far from the minimum;
    * the column-scaled Jacobian must have full rank (smallest singular value above
      :data:`DEGENERATE_RTOL` of the largest). Methods without derivatives, or with a line search,
      can drift to where a term of the model has vanished or two parameters trade off exactly
      (NIST Misra1b with ``b2`` at 1e8, MGH10, Rat43); the gradient is then flat too, and the
      point is a degenerate limit, not a minimum.

    Cost fits have no residual to compare the gradient with: their ``success`` is scipy's.
    """
    if is_cost_fit(problem):
        return None
    r = np.array(problem.residual(x) if r is None else r, dtype=float)
    rn = float(np.linalg.norm(r))
    if rn == 0.0:
        return None
    jac = np.asarray(problem.jacobian(x), dtype=float) if jac is None else jac
    g = np.asarray(jac.T @ r, dtype=float).ravel()
    dense = isinstance(jac, np.ndarray)
    if dense:
        norms = np.linalg.norm(jac, axis=0)
    else:  # a scipy.sparse matrix (least_squares with jac_sparsity)
        norms = np.sqrt(np.asarray(jac.multiply(jac).sum(axis=0), dtype=float).ravel())
    norms[norms == 0] = 1.0
    cos = np.abs(g) / (norms * rn)
    near = _BOUND_ROOM * np.maximum(np.abs(x), 1.0)
    # the chi-square's gradient is 2 J^T r: positive g lowers chi-square by decreasing x
    blocked = ((x - problem.lower <= near) & (g > 0)) | ((problem.upper - x <= near) & (g < 0))
    if rn <= EXACT_RTOL * float(np.max(norms * np.maximum(np.abs(x), 1.0))):
        return None  # an exact fit: the residual is roundoff, its direction carries no information
    if not np.all(cos[~blocked] <= STATIONARY_COS):
        return "the chi-square gradient at the result is not small (not a minimum)"
    if dense and jac.shape[0] >= jac.shape[1] and np.all(np.isfinite(jac)):
        sv = np.linalg.svd(jac / norms, compute_uv=False)
        if not sv[-1] > DEGENERATE_RTOL * sv[0]:
            return ("the Jacobian at the result is (nearly) singular: a term of the model vanished or parameters "
                    "trade off exactly there, a degenerate limit rather than a minimum")
    return None


def polish(problem: Problem, x: np.ndarray, maxiter: int = 15000) -> OptimizeResult:
    """L-BFGS-B from ``x`` inside the bounds on ``problem.scalar`` with ``problem.gradient``, in scaled coordinates.

    The search runs in ``u`` with ``x = offset + u * scale``: the unit box where both bounds are
    finite, else ``x / |x|``. On parameters of very different magnitude (NIST Misra1a: 240 and
    5.5e-4) L-BFGS-B in ``x`` stops on its relative reduction of the chi-square far from the
    minimum. Returns scipy's result with ``x`` and ``fun`` in the parameters' own coordinates.
    """
    lower, upper = problem.lower, problem.upper
    x = np.clip(np.asarray(x, dtype=float), lower, upper)
    finite = np.isfinite(lower) & np.isfinite(upper)
    scale = np.where(finite, upper - lower, np.where(x != 0.0, np.abs(x), 1.0))
    offset = np.where(finite, lower, 0.0)

    def to_x(u: np.ndarray) -> np.ndarray:
        return np.clip(offset + u * scale, lower, upper)

    def fun(u: np.ndarray) -> float:
        return float(problem.scalar(to_x(u)))

    def jac(u: np.ndarray) -> np.ndarray:
        return np.asarray(problem.gradient(to_x(u)), dtype=float) * scale

    ubounds = [(0.0, 1.0) if f else ((lo - o) / s if np.isfinite(lo) else None,
                                     (hi - o) / s if np.isfinite(hi) else None)
               for f, lo, hi, o, s in zip(finite, lower, upper, offset, scale)]
    res = minimize(fun, (x - offset) / scale, jac=jac, method="L-BFGS-B", bounds=ubounds,
                   options={**POLISH_OPTIONS, "maxiter": int(maxiter)})
    res.x = to_x(np.asarray(res.x, dtype=float))
    return res


def generator(seed: Any) -> np.random.Generator:
    """A numpy Generator from fitcore's ``seed`` (None, an int, a Generator or a legacy RandomState)."""
    if isinstance(seed, np.random.RandomState):
        return np.random.default_rng(int(seed.randint(0, 2**31 - 1)))
    return np.random.default_rng(seed)


def rng_keyword(func: Callable[..., Any]) -> str:
    """``'rng'`` where the installed scipy's ``func`` takes it (scipy >= 1.15), else ``'seed'``."""
    return "rng" if "rng" in inspect.signature(func).parameters else "seed"


def message_of(res: Any) -> str:
    """Return scipy's message as one line (basinhopping's is a list)."""
    msg = getattr(res, "message", "")
    if isinstance(msg, (list, tuple)):
        msg = "; ".join(str(m) for m in msg)
    return " ".join(str(msg).split())
