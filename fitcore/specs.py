"""What a plugin declares: EngineSpec and ProbFuncSpec (frozen, validated on creation)."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

__all__ = ["EngineSpec", "ProbFuncSpec", "ModelSpec", "resolve"]

_SPEC_NAME = re.compile(r"^[a-z][a-z0-9_.-]*$")
OBJECTIVES = ("residuals", "scalar")
BOUNDS = ("transform", "native", "required_finite")
#: options the core handles itself; an engine must not declare them
CORE_OPTIONS = frozenset({"nan_policy", "iter_cb", "max_nfev", "Dfun", "col_deriv", "seed", "scale_covar",
                          "errordef"})


def resolve(target: Any) -> Any:
    """Return ``target``, importing it first when it is a ``"module:attr"`` string."""
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _check_name(kind: str, name: Any) -> None:
    if not isinstance(name, str) or not _SPEC_NAME.match(name):
        raise ValueError(f"{kind} name {name!r} must match [a-z][a-z0-9_.-]* (lower case, no spaces)")


def _check_target(kind: str, name: str, target: Any) -> None:
    if isinstance(target, str):
        if not re.match(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$", target):
            raise ValueError(f"{kind} {name!r}: {target!r} is not a 'module:attribute' string")
    elif not callable(target):
        raise TypeError(f"{kind} {name!r}: expected a callable or a 'module:attribute' string, got {target!r}")


@dataclass(frozen=True)
class EngineSpec:
    """Declaration of one minimization engine.

    Parameters
    ----------
    name : str
        Selection name, e.g. ``'leastsq'``; lower case.
    engine : callable or str
        ``engine(problem, **options) -> EngineResult``, or a ``"module:attr"``
        string imported on first use (so listing engines imports nothing heavy).
    summary : str
        One line describing the algorithm.
    aliases : tuple of str
        Other names selecting the same engine.
    objective : {'residuals', 'scalar'}
        Whether the engine minimizes a residual vector or the scalar chi-square.
    bounds : {'transform', 'native', 'required_finite'}
        ``'transform'``: the core maps bounds away (MINUIT transform) and the
        engine sees an unbounded problem; ``'native'``: the engine enforces
        ``problem.lower``/``problem.upper`` itself; ``'required_finite'``: native,
        and every free parameter must have two finite bounds.
    is_global, stochastic, provides_covariance : bool
        Capabilities. ``stochastic`` engines receive ``problem.seed``;
        ``provides_covariance`` engines may return ``EngineResult.covariance``.
    supports_max_nfev, supports_abort : bool
        Whether the engine honours ``problem.max_nfev`` itself and can be
        stopped mid-fit. The core also enforces both as a backstop.
    options : mapping
        Every option the engine accepts, with its default (for documentation).
        Any other option is refused before the fit starts.
    precheck : callable or str, optional
        ``precheck(options, lower, upper, names)`` raising
        :class:`~fitcore.errors.EngineOptionError` or
        :class:`~fitcore.errors.EngineCapabilityError` before any evaluation.
    requires : tuple of str
        Importable modules the engine needs; listing reports the engine as
        unavailable when one is missing, without importing it.
    install_hint : str
        What to run to make an unavailable engine available.
    details : callable or str, optional
        Zero-argument callable returning a dict of extra facts for listings
        (e.g. the algorithms compiled into a library). Called only on request.
    least_squares : bool, callable or str
        Whether the engine, with the options of a fit, minimizes the plain sum
        of squares of the residual. Only then may the core replace its answer
        by a better point it saw, or polish it with Gauss-Newton steps; for an
        engine that says nothing (the default, False) its answer is the answer.
        A callable (or ``"module:attr"``) receives the fit's engine options and
        decides per option set, e.g. ``lambda o: o.get('loss', 'linear') == 'linear'``.
    batched : bool
        True for a batched engine: ``engine(batch_problem, **options) ->
        BatchEngineResult`` fits many problems at once (see
        :class:`fitcore.BatchProblem`, ``docs/plugins.md``, "Batched engines").
        Batched engines run only under ``fit_many(..., vectorized=True)``;
        per-fit engines only one fit at a time.
    """

    name: str
    engine: Callable[..., Any] | str
    summary: str
    aliases: tuple[str, ...] = ()
    objective: Literal["residuals", "scalar"] = "residuals"
    bounds: Literal["transform", "native", "required_finite"] = "transform"
    is_global: bool = False
    stochastic: bool = False
    provides_covariance: bool = False
    supports_max_nfev: bool = True
    supports_abort: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)
    precheck: Callable[..., None] | str | None = None
    requires: tuple[str, ...] = ()
    install_hint: str = ""
    details: Callable[[], Mapping[str, Any]] | str | None = None
    least_squares: bool | Callable[[Mapping[str, Any]], bool] | str = False
    batched: bool = False

    def __post_init__(self) -> None:
        _check_name("engine", self.name)
        _check_target("engine", self.name, self.engine)
        if not isinstance(self.summary, str) or not self.summary.strip():
            raise ValueError(f"engine {self.name!r}: summary must be a non-empty string")
        object.__setattr__(self, "aliases", tuple(self.aliases))
        for alias in self.aliases:
            _check_name("engine alias", alias)
        if self.objective not in OBJECTIVES:
            raise ValueError(f"engine {self.name!r}: objective={self.objective!r}; expected one of {OBJECTIVES}")
        if self.bounds not in BOUNDS:
            raise ValueError(f"engine {self.name!r}: bounds={self.bounds!r}; expected one of {BOUNDS}")
        for flag in ("is_global", "stochastic", "provides_covariance", "supports_max_nfev", "supports_abort",
                     "batched"):
            if not isinstance(getattr(self, flag), bool):
                raise TypeError(f"engine {self.name!r}: {flag} must be True or False")
        if not isinstance(self.options, Mapping) or not all(isinstance(k, str) for k in self.options):
            raise TypeError(f"engine {self.name!r}: options must be a mapping of option name to default")
        clash = CORE_OPTIONS & set(self.options)
        if clash:
            raise ValueError(f"engine {self.name!r}: options {sorted(clash)} are handled by fitcore's core")
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        if self.precheck is not None:
            _check_target("precheck of engine", self.name, self.precheck)
        if self.details is not None:
            _check_target("details of engine", self.name, self.details)
        if isinstance(self.requires, str):
            raise TypeError(f"engine {self.name!r}: requires must be a tuple of module names, "
                            f"e.g. ({self.requires!r},)")
        object.__setattr__(self, "requires", tuple(self.requires))
        bad = [m for m in self.requires if not isinstance(m, str) or not re.match(r"^[A-Za-z_][\w.]*$", m)]
        if bad:
            raise ValueError(f"engine {self.name!r}: requires {bad[0]!r} is not an importable module name")
        if not isinstance(self.install_hint, str):
            raise TypeError(f"engine {self.name!r}: install_hint must be a string")
        if not isinstance(self.least_squares, bool):
            _check_target("least_squares of engine", self.name, self.least_squares)

    def minimizes_least_squares(self, options: Mapping[str, Any]) -> bool:
        """Whether, with these engine options, the engine minimizes the plain sum of squares."""
        if isinstance(self.least_squares, bool):
            return self.least_squares
        decision = resolve(self.least_squares)(MappingProxyType(dict(options)))
        if not isinstance(decision, (bool, np.bool_)):
            raise TypeError(f"engine {self.name!r}: least_squares(options) returned {decision!r}, not True or False")
        return bool(decision)

    @property
    def names(self) -> tuple[str, ...]:
        """The name followed by the aliases."""
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class ProbFuncSpec:
    """Declaration of one confidence-interval probability function.

    Parameters
    ----------
    name : str
        Selection name, e.g. ``'f_test'``.
    func : callable or str
        ``func(best, new) -> probability`` where ``best`` and ``new`` expose
        ``ndata, nvarys, nfree, chisqr, redchi``; or a ``"module:attr"`` string.
    summary : str
        One line describing the statistic.
    """

    name: str
    func: Callable[[Any, Any], float] | str
    summary: str

    def __post_init__(self) -> None:
        _check_name("probability function", self.name)
        _check_target("probability function", self.name, self.func)
        if not isinstance(self.summary, str) or not self.summary.strip():
            raise ValueError(f"probability function {self.name!r}: summary must be a non-empty string")


@dataclass(frozen=True)
class ModelSpec:
    """Declaration of one model (a :class:`fitcore.Model` subclass), selectable by name.

    Parameters
    ----------
    name : str
        Selection name: ``fitcore.Model(name, prefix=...)``.
    model : type or str
        The model class, or a ``"module:Class"`` string (imported on first use).
    summary : str
        One line describing the model.
    example : mapping of str to float, optional
        True parameter values of a typical curve: the conformance kit fits the model's
        own ``guess`` to data made from them and checks that it recovers them.
    x : tuple of (start, stop, num), default (-5.0, 5.0, 201)
        Where the kit evaluates that curve.
    """

    name: str
    model: type | str
    summary: str
    example: Mapping[str, float] | None = None
    x: tuple[float, float, int] = (-5.0, 5.0, 201)

    def __post_init__(self) -> None:
        _check_name("model", self.name)
        _check_target("model", self.name, self.model)
        if not isinstance(self.summary, str) or not self.summary.strip():
            raise ValueError(f"model {self.name!r}: summary must be a non-empty string")
        if self.example is not None:
            if not isinstance(self.example, Mapping) or not all(
                    isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
                    for k, v in self.example.items()):
                raise ValueError(f"model {self.name!r}: example must map parameter names to numbers")
            object.__setattr__(self, "example", dict(self.example))
        start, stop, num = self.x
        if not (isinstance(num, int) and num >= 2 and float(start) < float(stop)):
            raise ValueError(f"model {self.name!r}: x must be (start, stop, num) with start < stop and num >= 2")
