"""What an engine receives (Problem) and returns (EngineResult).

An engine is ``engine(problem, **options) -> EngineResult``. It minimizes
``problem.residual`` (sum of squares) or ``problem.scalar`` starting from
``problem.x0``; everything else (counting evaluations, statistics, error bars,
writing values back, stopping at ``max_nfev`` or an ``iter_cb`` request) is the
core's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Problem", "EngineResult", "Stencil"]

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
    has_analytic_jacobian : bool
        Whether ``jacobian`` is the user's analytic one (``Dfun``).
    max_nfev : int or None
        Evaluation budget; the core stops the fit when it is spent.
    seed : int, numpy Generator or None
        For stochastic engines.
    objective : {'least_squares', 'cost'}
        ``'least_squares'``: the user's function returns residuals and
        ``scalar`` is their sum of squares. ``'cost'``: it returns a scalar
        cost (e.g. a negative log-likelihood), ``scalar`` is that cost, and
        ``residual``/``jacobian`` raise; only engines with
        ``objective='scalar'`` get such fits.
    errordef : float
        The increase of ``scalar`` that marks one standard error (1 for
        chi-square, 0.5 for a negative log-likelihood).
    nvar, nfev
        Number of free parameters; evaluations made so far in this fit.
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
    objective: str = "least_squares"
    errordef: float = 1.0
    _counter: Callable[[], int] = field(default=lambda: 0, repr=False)

    @property
    def nvar(self) -> int:
        """Number of free parameters."""
        return len(self.names)

    @property
    def nfev(self) -> int:
        """Residual evaluations made so far in this fit."""
        return self._counter()


@dataclass(frozen=True, eq=False)
class Stencil:
    """Forward differences an engine evaluated near its answer, offered to the core for the error bars.

    An engine that builds its Jacobian by forward differences (MINPACK does,
    at every iterate) can hand over its last one. The core converts it to
    external coordinates and uses it instead of evaluating ``nvar`` new points
    when it is accurate at the answer: when the answer is the stencil's base
    point, or when the residual at the answer agrees with the stencil's
    linear prediction so well that the Jacobian cannot have changed by more
    than :data:`fitcore.uncertainty.REUSE_RTOL` in between. Otherwise the core
    evaluates its own forward differences, as for engines that offer none.

    Attributes
    ----------
    x : ndarray
        The base point, in the engine's coordinates.
    r : ndarray
        The residual at ``x``.
    steps : ndarray
        ``steps[j]`` is the (non-zero) step along coordinate ``j``, in the engine's coordinates.
    rows : ndarray, shape (nvar, ndata)
        ``rows[j]`` is the residual at ``x + steps[j] * e_j``.
    """

    x: Array
    r: Array
    steps: Array
    rows: Array


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
    stencil : Stencil or None
        The engine's last forward-difference Jacobian, which may spare the
        core ``nvar`` evaluations for the error bars (see :class:`Stencil`).
    objective_value : float or None
        The engine's own objective at ``x`` when it is not the plain sum of
        squares (e.g. a robust loss); reported beside the plain chi-square.
    samples : ndarray or None
        Posterior samples, shape ``(nsamples, nvar)``, in the engine's
        coordinates, from a sampling engine. The core then reports the
        medians as values, half the 15.87-84.13 % quantile width as
        ``stderr`` and the samples' correlations.
    """

    x: Array
    success: bool
    message: str
    status: int = 0
    nit: int | None = None
    covariance: Array | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)
    stencil: Stencil | None = None
    objective_value: float | None = None
    samples: Array | None = None
