"""Exceptions and warnings raised by fitcore.

Every error carries the object it is about (a parameter name, an engine name,
a plugin) so that callers can react programmatically, and its message says what
was wrong and how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "ModelNotFoundError",
    "FitcoreError",
    "ParameterError",
    "ConstraintError",
    "EngineError",
    "EngineNotFoundError",
    "EngineUnavailableError",
    "EngineOptionError",
    "EngineCapabilityError",
    "EngineConflictError",
    "ProbFuncNotFoundError",
    "ProbFuncConflictError",
    "ProbFuncError",
    "PluginConfigError",
    "ResidualError",
    "NonFiniteResidualError",
    "PluginError",
    "FitcoreWarning",
    "BoundsWarning",
    "PluginWarning",
    "PluginConflictWarning",
    "ConfidenceWarning",
]


def _rebuild(cls: type[FitcoreError], args: tuple[Any, ...], state: dict[str, Any]) -> FitcoreError:
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class FitcoreError(Exception):
    """Base class of every error raised by fitcore itself.

    Every fitcore error pickles with its message and attributes whatever its
    constructor's signature, so errors travel back from worker processes.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class ParameterError(FitcoreError, ValueError):
    """A Parameter or Parameters set is invalid (bad name, bound, value).

    Attributes
    ----------
    name : str or None
        The name of the parameter the error is about, when there is one.
    """

    def __init__(self, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class ConstraintError(ParameterError):
    """A constraint expression is invalid: syntax, unknown symbol, cycle, unsafe."""

    def __init__(self, message: str, name: str | None = None, expr: str | None = None) -> None:
        super().__init__(message, name)
        self.expr = expr


def did_you_mean(name: str, choices: Sequence[str]) -> str:
    """Return a ``" Did you mean 'x'?"`` suffix, or ``""`` when nothing is close."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


class EngineError(FitcoreError):
    """Something is wrong with an engine or its use.

    Attributes
    ----------
    engine : str or None
        The engine name this error is about.
    """

    def __init__(self, message: str, engine: str | None = None) -> None:
        super().__init__(message)
        self.engine = engine


class EngineNotFoundError(EngineError, LookupError):
    """No engine of that name is installed."""

    def __init__(self, engine: str, available: Sequence[str], provider: str | None = None) -> None:
        listing = ", ".join(sorted(available)) or "(none)"
        install = (f" It is provided by the distribution {provider}: pip install {provider}."
                   if provider else "")
        super().__init__(
            f"unknown engine {engine!r}.{install}{did_you_mean(engine, available)} "
            f"Installed engines: {listing}.",
            engine,
        )
        self.available = tuple(sorted(available))
        self.provider = provider


class EngineUnavailableError(EngineError):
    """The engine is known but cannot be used here (missing dependency, broken plugin)."""


class EngineConflictError(EngineUnavailableError, LookupError):
    """Several distributions claim the engine name and none of them is fitcore's own.

    Attributes
    ----------
    claimants : tuple of str
        The qualified names ``'<distribution>:<name>'`` that select each claimant.
    """

    def __init__(self, message: str, engine: str | None = None, claimants: Sequence[str] = ()) -> None:
        super().__init__(message, engine)
        self.claimants = tuple(claimants)


class EngineOptionError(EngineError, TypeError):
    """An option passed to an engine does not exist or has an invalid value."""

    def __init__(self, message: str, engine: str | None = None, option: str | None = None) -> None:
        super().__init__(message, engine)
        self.option = option


class EngineCapabilityError(EngineError, ValueError):
    """The problem needs something the engine cannot do (e.g. infinite bounds)."""


class ProbFuncNotFoundError(FitcoreError, LookupError):
    """No probability function of that name is registered."""

    def __init__(self, name: str, available: Sequence[str]) -> None:
        listing = ", ".join(sorted(available)) or "(none)"
        super().__init__(
            f"unknown probability function {name!r}.{did_you_mean(name, available)} "
            f"Registered: {listing}."
        )
        self.name = name
        self.available = tuple(sorted(available))


class ModelNotFoundError(FitcoreError, LookupError):
    """No registered model has the name given to ``fitcore.Model(name)``; the message lists the registered ones."""


class ProbFuncConflictError(FitcoreError, LookupError):
    """Several distributions claim the probability-function name and none of them is fitcore's own.

    Attributes
    ----------
    name : str
        The name asked for.
    claimants : tuple of str
        The qualified names ``'<distribution>:<name>'`` that select each claimant.
    """

    def __init__(self, message: str, name: str, claimants: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.name = name
        self.claimants = tuple(claimants)


class ProbFuncError(FitcoreError, ValueError):
    """A probability function returned something other than a float in [0, 1].

    Attributes
    ----------
    name : str
        The function's name.
    value : object
        What it returned.
    """

    def __init__(self, message: str, name: str, value: Any = None) -> None:
        super().__init__(message)
        self.name = name
        self.value = value


class PluginConfigError(FitcoreError, ValueError):
    """A ``FITCORE_*`` plugin switch in the environment has a value fitcore does not understand.

    Attributes
    ----------
    variable : str
        The environment variable.
    """

    def __init__(self, message: str, variable: str) -> None:
        super().__init__(message)
        self.variable = variable


class ResidualError(FitcoreError, ValueError):
    """The user's residual function returned something fitcore cannot use."""

    def __init__(self, message: str, nfev: int | None = None, values: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.nfev = nfev
        self.values = values


class NonFiniteResidualError(ResidualError):
    """The residual contained NaN or inf and ``nan_policy='raise'``."""


class PluginError(FitcoreError):
    """A plugin failed to load, validate or register.

    Attributes
    ----------
    plugin : str
        The plugin (entry point) name.
    distribution : str or None
        The distribution that provides it.
    stage : str
        ``'contract'``, ``'import'``, ``'validate'``, ``'hook'``, ``'spec'`` or ``'conflict'``.
    """

    def __init__(self, message: str, plugin: str, distribution: str | None, stage: str) -> None:
        super().__init__(message)
        self.plugin = plugin
        self.distribution = distribution
        self.stage = stage


class FitcoreWarning(UserWarning):
    """Base class of fitcore's warnings."""


class BoundsWarning(FitcoreWarning):
    """A value was moved inside its bounds, or a result lies on a bound."""


class PluginWarning(FitcoreWarning):
    """A plugin was found broken and skipped; everything else keeps working."""


class PluginConflictWarning(PluginWarning):
    """Several distributions claim one name; each stays selectable as ``'<distribution>:<name>'``."""


class ConfidenceWarning(FitcoreWarning):
    """A confidence limit could not be found or lies beyond a bound."""


def caller_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning issued by the caller point at the first frame outside fitcore."""
    import sys

    package = __name__.rpartition(".")[0] + "."
    frame, level = sys._getframe(1), 1
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith(package):
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    return level
