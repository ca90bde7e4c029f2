"""FitResult: what one fit produced, frozen when the fit ends.

Every fit, by any engine, produces one :class:`FitResult`. It holds a copy of
the Parameters as the fit left them (values, ``stderr``, ``correl``), the
manual's table of statistics, the covariance and the engine's own account, so
a later fit never changes an earlier result. :class:`~fitcore.Minimizer`
reads its manual attributes from its last result, and :func:`fitcore.fit_many`
returns one per dataset.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from .parameters import Parameters

__all__ = ["FitResult"]

Array = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class FitResult:
    """The outcome of one fit.

    Attributes
    ----------
    params : Parameters
        A copy of the parameters as the fit left them: best values, ``stderr``
        and ``correl``. Changing it changes nothing else.
    success : bool
        Whether the fit converged to a minimum (see ``docs/architecture.md``,
        "Honest success"). ``bool(result)`` is ``success``.
    message : str
        Why the fit stopped, in the engine's words, or why it is not a success.
    aborted : bool
        True when ``iter_cb`` or ``max_nfev`` stopped the fit; values are the
        best seen.
    nfev : int
        Evaluations made by the engine (the manual's ``nfev``).
    nfev_errorbars : int
        Evaluations made at the solution for the error bars and the polish.
    polished : int
        Gauss-Newton steps the core took after the engine (each lowered
        chi-square); only for engines that declare plain least squares.
    ier, lmdif_message, nit
        The engine's status code, message and iteration count.
    errorbars : bool
        Whether ``stderr``, ``correl`` and ``covar`` were estimated.
    errorbars_reason : str or None
        Why not, when ``errorbars`` is False.
    nvarys, ndata, nfree : int
        Varied parameters, data points and degrees of freedom.
    residual : ndarray or None
        The residual at the answer (least-squares fits).
    chisqr, redchi, aic, bic : float
        Chi-square, reduced chi-square and information criteria. For a cost
        fit ``chisqr`` is the cost and ``redchi``, ``aic``, ``bic`` are NaN.
    covar : ndarray or None
        Covariance of the varied parameters, in ``var_names`` order.
    var_names : tuple of str
        Names of the varied parameters.
    init_vals : tuple of float
        Their starting values.
    engine : str
        Name of the engine that made the fit.
    engine_options, core_options : mapping
        The engine's options and fitcore's own options of the fit.
    engine_extras : mapping
        Anything engine specific (e.g. MINPACK's own counts).
    objective : {'least_squares', 'cost'}
        Whether the function returned residuals or a scalar cost.
    errordef : float
        The cost increase that defines one standard error (1 for chi-square,
        0.5 for a negative log-likelihood).
    engine_objective : float or None
        The engine's own objective at the answer when it is not the plain
        chi-square (e.g. a robust loss); ``chisqr`` is then the plain
        chi-square at that point.
    samples : ndarray or None
        Posterior samples of the varied parameters from a sampling engine,
        shape ``(nsamples, nvarys)``.
    index : int
        Position of the dataset in :func:`fitcore.fit_many`, else -1.
    error : object or None
        What a fit in :func:`fitcore.fit_many` raised, when it failed.
    """

    params: Parameters
    success: bool
    message: str
    var_names: tuple[str, ...] = ()
    init_vals: tuple[float, ...] = ()
    aborted: bool = False
    nfev: int = 0
    nfev_errorbars: int = 0
    polished: int = 0
    ier: int | None = None
    lmdif_message: str = ""
    nit: int | None = None
    errorbars: bool = False
    errorbars_reason: str | None = None
    nvarys: int = 0
    ndata: int = 0
    nfree: int = 0
    residual: Array | None = None
    chisqr: float = math.nan
    redchi: float = math.nan
    aic: float = math.nan
    bic: float = math.nan
    covar: Array | None = None
    engine: str | None = None
    engine_options: Mapping[str, Any] = field(default_factory=dict)
    core_options: Mapping[str, Any] = field(default_factory=dict)
    engine_extras: Mapping[str, Any] = field(default_factory=dict)
    objective: Literal["least_squares", "cost"] = "least_squares"
    errordef: float = 1.0
    engine_objective: float | None = None
    samples: Array | None = None
    index: int = -1
    error: Any = None

    def __post_init__(self) -> None:
        # freeze the arrays and mappings so a result cannot be changed by accident
        for name in ("residual", "covar", "samples"):
            arr = getattr(self, name)
            if arr is not None:
                arr = np.array(arr, dtype=float)
                arr.flags.writeable = False
                object.__setattr__(self, name, arr)
        for name in ("engine_options", "core_options", "engine_extras"):
            object.__setattr__(self, name, dict(getattr(self, name)))
        object.__setattr__(self, "var_names", tuple(self.var_names))
        object.__setattr__(self, "init_vals", tuple(float(v) for v in self.init_vals))

    def __bool__(self) -> bool:
        """``success``, so ``if fit.leastsq():`` reads as in the manual."""
        return self.success

    @classmethod
    def not_run(cls, params: Parameters) -> FitResult:
        """The placeholder a Minimizer holds before its first fit."""
        return cls(params=params, success=False, message="no fit has been run",
                   errorbars_reason="no fit has been run")

    def with_index(self, index: int) -> FitResult:
        """This result, marked as the fit of dataset ``index`` of a batch."""
        return replace(self, index=index)

    @property
    def values(self) -> dict[str, float | None]:
        """Best value of every parameter (varied, fixed and constrained)."""
        return {name: par.value for name, par in self.params.items()}

    @property
    def stderr(self) -> dict[str, float | None]:
        """Standard error of every parameter; None where not estimated."""
        return {name: par.stderr for name, par in self.params.items()}

    @property
    def correl(self) -> dict[str, dict[str, float] | None]:
        """Correlations of each parameter with the varied ones; None where not estimated."""
        return {name: (None if par.correl is None else dict(par.correl)) for name, par in self.params.items()}

    @property
    def init_values(self) -> dict[str, float]:
        """Starting values of the varied parameters."""
        return dict(zip(self.var_names, self.init_vals))

    def __repr__(self) -> str:
        state = "success" if self.success else ("aborted" if self.aborted else "failed")
        return (f"<FitResult {state} engine={self.engine!r} chisqr={self.chisqr:.6g} nfev={self.nfev} "
                f"nvarys={self.nvarys}>")
