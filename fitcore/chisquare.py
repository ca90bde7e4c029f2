"""Chi-square and its gradient ``2 J^T r`` from the residual, one evaluation per parameter.

The gradient is formed from the Jacobian of the residual rather than by
differencing the chi-square itself: near the minimum, where the gradient
vanishes, differences of the chi-square lose every digit, while ``J^T r``
keeps the accuracy of ``J``. Forward steps point into the bounds, so the model
is never evaluated outside them. The residual at ``x`` is remembered, so an
engine asking for the value and then the gradient at the same point pays once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .differences import inward_step, step

if TYPE_CHECKING:
    from .problem import Problem

__all__ = ["ChiSquare"]

Array = NDArray[np.float64]


class ChiSquare:
    """``value(x)``, ``gradient(x)`` and ``value_and_gradient(x)`` of ``sum(residual(x)**2)``.

    Engines build one per fit with :meth:`for_problem`; the core builds the
    ``Problem.jacobian`` and ``Problem.gradient`` it hands out the same way.

    Parameters
    ----------
    residual : callable
        ``residual(x) -> ndarray``.
    lower, upper : ndarray
        Bounds the forward steps stay inside.
    analytic_jacobian : callable, optional
        ``jacobian(x)`` to use instead of differences.
    step : float, optional
        Absolute forward-difference step; default the core's rule in an engine's
        coordinates, ``sqrt(eps) * max(|x|, 1)`` (:func:`fitcore.differences.step`).
    """

    def __init__(
        self,
        residual: Callable[[Array], Array],
        lower: Array,
        upper: Array,
        analytic_jacobian: Callable[[Array], Array] | None = None,
        step: float | None = None,
    ) -> None:
        self._residual = residual
        self.lower = np.asarray(lower, dtype=float)
        self.upper = np.asarray(upper, dtype=float)
        self._analytic = analytic_jacobian
        self.step = step
        self._x: Array | None = None
        self._r: Array | None = None

    @classmethod
    def for_problem(cls, problem: Problem, step: float | None = None) -> ChiSquare:
        """The chi-square of ``problem``, using its analytic Jacobian when the user gave one.

        For a cost fit (``problem.objective == 'cost'``) ``value`` and
        ``gradient`` are the problem's own cost and gradient.
        """
        if problem.objective == "cost":
            return _Cost(problem)
        analytic = problem.jacobian if problem.has_analytic_jacobian else None
        return cls(problem.residual, problem.lower, problem.upper, analytic, step)

    def residual(self, x: Array) -> Array:
        """Residual at ``x``, evaluated once per distinct point in a row."""
        if self._x is None or not np.array_equal(x, self._x):
            r = self._residual(x)
            self._x, self._r = np.array(x, dtype=float), np.array(r, dtype=float)
        assert self._r is not None
        return self._r

    def value(self, x: Array) -> float:
        """Chi-square at ``x``."""
        r = self.residual(x)
        return float(r @ r)

    def jacobian(self, x: Array) -> Array:
        """Jacobian of the residual at ``x``: the user's, else forward differences inside the bounds."""
        if self._analytic is not None:
            return np.asarray(self._analytic(x), dtype=float)
        x = np.array(x, dtype=float)
        r0 = self.residual(x)
        jac = np.empty((r0.size, x.size))
        for j in range(x.size):
            h = self.step if self.step is not None else step(x[j], scale=1.0)
            h = inward_step(h, x[j], self.lower[j], self.upper[j])
            xp = x.copy()
            xp[j] += h
            jac[:, j] = (self._residual(xp) - r0) / (xp[j] - x[j])  # the step as the floats really moved
        return jac

    def value_and_gradient(self, x: Array) -> tuple[float, Array]:
        """Chi-square and its gradient at ``x``."""
        r = self.residual(x).copy()
        jac = self.jacobian(x)
        return float(r @ r), 2.0 * (jac.T @ r)

    def gradient(self, x: Array) -> Array:
        """Gradient of the chi-square at ``x``."""
        return self.value_and_gradient(x)[1]


class _Cost(ChiSquare):
    """A cost fit's objective behind the ChiSquare interface (``problem.scalar``/``problem.gradient``)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.residual, problem.lower, problem.upper)
        self._problem = problem

    def value(self, x: Array) -> float:
        """The cost at ``x``."""
        return float(self._problem.scalar(x))

    def value_and_gradient(self, x: Array) -> tuple[float, Array]:
        """The cost and its gradient at ``x``."""
        return self.value(x), np.asarray(self._problem.gradient(x), dtype=float)
