"""What an engine receives (Problem) and returns (EngineResult).

An engine is ``engine(problem, **options) -> EngineResult``. It minimizes
``problem.residual`` (sum of squares) or ``problem.scalar`` starting from
``problem.x0``; everything else (counting evaluations, statistics, error bars,
writing values back, stopping at ``max_nfev`` or an ``iter_cb`` request) is the
core's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
from numpy.typing import NDArray

__all__ = ["Problem", "EngineResult"]

Array = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Problem:
    """The minimization problem as an engine sees it.

    Attributes
    ----------
    x0 : ndarray
        Starting point, in the engine's coordinates: internal (unbounded) for
        ``bounds='transform'`` engines, the parameters' own values otherwise.
    lower, upper : ndarray
        Bounds in the engine's coordinates (``-inf``/``inf`` under the transform).
    names : tuple of str
        Names of the free parameters, in vector order.
    residual : callable
        ``residual(x) -> ndarray`` of length ``ndata``.
    scalar : callable
        ``scalar(x) -> float``, the sum of squared residuals (chi-square).
    jacobian : callable
        ``jacobian(x) -> ndarray (ndata, nvar)``: the user's analytic Jacobian
        when one was given (``has_analytic_jacobian``), else forward differences.
    gradient : callable
        ``gradient(x) -> ndarray (nvar,)`` of ``scalar``, from ``jacobian``.
    ndata : int
        Length of the residual vector.
    max_nfev : int or None
        Evaluation budget; the core stops the fit when it is spent.
    seed : int, numpy Generator or None
        For stochastic engines.
    """

    x0: Array
    lower: Array
    upper: Array
    names: tuple[str, ...]
    residual: Callable[[Array], Array]
    scalar: Callable[[Array], float]
    jacobian: Callable[[Array], Array]
    gradient: Callable[[Array], Array]
    ndata: int
    has_analytic_jacobian: bool = False
    max_nfev: int | None = None
    seed: Any = None
    _counter: Callable[[], int] = field(default=lambda: 0, repr=False)

    @property
    def nvar(self) -> int:
        """Number of free parameters."""
        return len(self.names)

    @property
    def nfev(self) -> int:
        """Residual evaluations made so far in this fit."""
        return self._counter()


@dataclass
class EngineResult:
    """What an engine returns.

    Attributes
    ----------
    x : ndarray
        Best point found, in the engine's coordinates.
    success : bool
        Whether the engine's own convergence test passed.
    message : str
        The engine's own account of why it stopped.
    status : int
        The engine's exit code (``ier`` for MINPACK).
    nit : int or None
        Iterations, where the engine counts them.
    covariance : ndarray or None
        Covariance of ``x`` in external coordinates, only from engines that
        declare ``provides_covariance``.
    extras : dict
        Anything engine specific, kept on ``Minimizer.engine_extras``.
    """

    x: Array
    success: bool
    message: str
    status: int = 0
    nit: int | None = None
    covariance: Array | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)
