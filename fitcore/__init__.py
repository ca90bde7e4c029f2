"""fitcore: non-linear least-squares fitting with Parameters, bounds and constraints.

Every minimization engine and confidence-interval probability function is a
plugin, selected by name.

Examples
--------
>>> import numpy as np
>>> from fitcore import Parameters, minimize
>>> x = np.linspace(0, 10, 101)
>>> data = 5.0 * np.sin(2.0 * x) * np.exp(-0.1 * x)
>>> def residual(p, x, data):
...     return p['amp'].value * np.sin(p['omega'].value * x) * np.exp(-p['decay'].value * x) - data
>>> params = Parameters()
>>> params.add('amp', value=4); params.add('omega', value=2.05); params.add('decay', value=0.2, min=0)
>>> fit = minimize(residual, params, args=(x, data))
>>> fit.success, round(params['omega'].value, 6)
(True, 2.0)
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import plugins, printfuncs
from .batch import FitArgs, FitBatch, FitSnapshot, fit_many
from .batch_problem import BatchEngineResult, BatchProblem
from .chisquare import ChiSquare
from .ci_report import ci_report, report_ci
from .confidence import conf_interval, conf_interval2d
from .errors import (
    BoundsWarning,
    ConfidenceWarning,
    ConstraintError,
    EngineCapabilityError,
    EngineConflictError,
    EngineError,
    EngineNotFoundError,
    EngineOptionError,
    EngineUnavailableError,
    FitcoreError,
    FitcoreWarning,
    ModelNotFoundError,
    NonFiniteResidualError,
    ParameterError,
    PluginConfigError,
    PluginConflictWarning,
    PluginError,
    PluginWarning,
    ProbFuncConflictError,
    ProbFuncError,
    ProbFuncNotFoundError,
    ResidualError,
)
from .hookspecs import hookimpl, hookspec
from .minimizer import Minimizer, minimize
from .model import CompositeModel, Model
from .model_result import ModelResult
from .parameters import Parameter, Parameters, create_params
from .plugins import list_engines, list_models, list_plugins, list_prob_funcs
from .problem import EngineResult, Problem, Stencil
from .report import fit_report, report_errors, report_fit
from .result import FitResult
from .specs import EngineSpec, ModelSpec, ProbFuncSpec


def __getattr__(name: str) -> object:
    """Import ``fitcore.plot`` (matplotlib) only when it is first used; ``models`` and ``lineshapes`` on demand."""
    if name in ("models", "lineshapes"):
        import importlib

        return importlib.import_module("." + name, __name__)
    if name == "plot":
        import importlib

        return importlib.import_module(".plot", __name__)
    raise AttributeError(f"module 'fitcore' has no attribute {name!r}")


try:
    __version__ = version("fitcore")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "BatchProblem",
    "BatchEngineResult",
    "Parameter",
    "Parameters",
    "create_params",
    "Minimizer",
    "minimize",
    "Model",
    "CompositeModel",
    "ModelResult",
    "list_models",
    "FitResult",
    "fit_many",
    "FitArgs",
    "FitBatch",
    "FitSnapshot",
    "fit_report",
    "report_errors",
    "report_fit",
    "conf_interval",
    "conf_interval2d",
    "ci_report",
    "report_ci",
    "printfuncs",
    "list_engines",
    "list_prob_funcs",
    "list_plugins",
    "plugins",
    "hookimpl",
    "hookspec",
    "EngineSpec",
    "ProbFuncSpec",
    "ModelSpec",
    "Problem",
    "EngineResult",
    "Stencil",
    "ChiSquare",
    "FitcoreError",
    "ParameterError",
    "ConstraintError",
    "EngineError",
    "EngineNotFoundError",
    "EngineUnavailableError",
    "EngineOptionError",
    "EngineCapabilityError",
    "ModelNotFoundError",
    "EngineConflictError",
    "ProbFuncNotFoundError",
    "ProbFuncConflictError",
    "ProbFuncError",
    "ResidualError",
    "NonFiniteResidualError",
    "PluginError",
    "PluginConfigError",
    "FitcoreWarning",
    "BoundsWarning",
    "PluginWarning",
    "PluginConflictWarning",
    "ConfidenceWarning",
    "__version__",
]
