"""Discovering, validating and looking up plugins.

Entry points in the ``fitcore`` group are loaded lazily, once, on first use,
each on its own: a plugin that fails to import, fails pluggy's validation,
raises in its hook, yields the wrong type, or claims a name another
distribution already has is recorded with one :class:`PluginWarning` and
every other engine keeps working.

Environment switches (read when plugins are first loaded):

``FITCORE_DISABLE_PLUGIN_AUTOLOAD=1``
    load no entry points (only plugins given to :func:`register`).
``FITCORE_LOAD_PLUGINS=dist1,dist2``
    load only entry points of these distributions.
``FITCORE_STRICT_PLUGINS=1``
    raise :class:`~fitcore.errors.PluginError` instead of warning.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from .errors import (
    EngineNotFoundError,
    EngineUnavailableError,
    PluginError,
    PluginWarning,
    ProbFuncNotFoundError,
)
from .hookspecs import PROJECT, FitcoreSpec
from .specs import EngineSpec, ProbFuncSpec, resolve

__all__ = [
    "EngineInfo",
    "ProbFuncInfo",
    "PluginRecord",
    "register",
    "unregister",
    "list_engines",
    "list_prob_funcs",
    "list_plugins",
    "list_conflicts",
    "get_engine",
    "get_prob_func",
    "reset",
]

RUNTIME = "(runtime)"


@dataclass
class EngineInfo:
    """An engine as installed: its spec and where it came from."""

    spec: EngineSpec
    plugin: str
    distribution: str
    version: str
    _callable: Callable[..., Any] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """The engine's name."""
        return self.spec.name

    @property
    def status(self) -> str:
        """``'available'``, or ``'unavailable: <why>'`` (without importing the engine)."""
        missing = [m for m in self.spec.requires if importlib.util.find_spec(m.split(".")[0]) is None]
        if missing:
            hint = f"; {self.spec.install_hint}" if self.spec.install_hint else ""
            return f"unavailable: requires {', '.join(missing)}{hint}"
        return "available"

    def load(self) -> Callable[..., Any]:
        """Return the engine callable, importing it on first use."""
        if self._callable is None:
            status = self.status
            if status != "available":
                raise EngineUnavailableError(f"engine {self.name!r} is {status}", self.name)
            try:
                self._callable = resolve(self.spec.engine)
            except Exception as exc:
                hint = f" ({self.spec.install_hint})" if self.spec.install_hint else ""
                raise EngineUnavailableError(
                    f"engine {self.name!r} from {self.distribution} could not be imported: "
                    f"{type(exc).__name__}: {exc}{hint}",
                    self.name,
                ) from exc
            if not callable(self._callable):
                raise EngineUnavailableError(f"engine {self.name!r}: {self.spec.engine!r} is not callable", self.name)
        return self._callable

    def details(self) -> dict[str, Any]:
        """Extra facts from the spec's ``details`` callable (may import the engine's library)."""
        if self.spec.details is None:
            return {}
        return dict(resolve(self.spec.details)())


@dataclass
class ProbFuncInfo:
    """A probability function as installed."""

    spec: ProbFuncSpec
    plugin: str
    distribution: str
    version: str

    @property
    def name(self) -> str:
        """The function's name."""
        return self.spec.name

    def load(self) -> Callable[[Any, Any], float]:
        """Return the callable, importing it on first use."""
        return resolve(self.spec.func)  # type: ignore[no-any-return]


@dataclass
class PluginRecord:
    """One plugin (entry point or runtime registration) and what became of it."""

    plugin: str
    distribution: str
    version: str
    status: str = "active"  # active | blocked | broken
    stage: str | None = None
    error: str | None = None
    engines: list[str] = field(default_factory=list)
    prob_funcs: list[str] = field(default_factory=list)


class _Registry:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._reset()

    def _reset(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(FitcoreSpec)
        self.engines: dict[str, EngineInfo] = {}
        self.aliases: dict[str, str] = {}
        self.prob_funcs: dict[str, ProbFuncInfo] = {}
        self.conflicts: dict[str, list[str]] = {}
        self.records: list[PluginRecord] = []
        self.loaded = False

    # -- loading --------------------------------------------------------------------------
    def ensure_loaded(self) -> None:
        if self.loaded:
            return
        with self._lock:
            if self.loaded:
                return
            self.loaded = True
            try:
                self._load_entry_points()
            except PluginError:  # strict mode: fail now, and again on every later use
                self._reset()
                raise

    def _load_entry_points(self) -> None:
        disabled = _flag("FITCORE_DISABLE_PLUGIN_AUTOLOAD")
        allow = os.environ.get("FITCORE_LOAD_PLUGINS")
        allowed = None if allow is None else {_norm(d) for d in allow.split(",") if d.strip()}
        for ep in sorted(md.entry_points(group=PROJECT), key=lambda e: (_dist_name(e), e.name)):
            dist, version = _dist_name(ep), _dist_version(ep)
            if disabled:
                self.records.append(PluginRecord(ep.name, dist, version, status="blocked",
                                                 error="FITCORE_DISABLE_PLUGIN_AUTOLOAD is set"))
                continue
            if allowed is not None and _norm(dist) not in allowed:
                self.records.append(PluginRecord(ep.name, dist, version, status="blocked",
                                                 error=f"{dist} is not in FITCORE_LOAD_PLUGINS={allow}"))
                continue
            try:
                obj = ep.load()
            except Exception as exc:
                self._fail(PluginRecord(ep.name, dist, version), "import", exc)
                continue
            self._add(obj, ep.name, dist, version)

    def _fail(self, rec: PluginRecord, stage: str, exc: BaseException | str) -> None:
        text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        text = " ".join(text.split())
        rec.status, rec.stage, rec.error = "broken", stage, text
        if rec not in self.records:
            self.records.append(rec)
        msg = f"fitcore plugin {rec.plugin!r} from distribution {rec.distribution!r} is broken ({stage}): {text}"
        err = PluginError(msg, rec.plugin, rec.distribution, stage)
        if _strict():
            raise err from (exc if isinstance(exc, BaseException) else None)
        warnings.warn(msg + "; every other plugin keeps working", PluginWarning, stacklevel=4)

    def _add(self, obj: Any, name: str, dist: str, version: str) -> PluginRecord:
        rec = PluginRecord(name, dist, version)
        self.records.append(rec)
        unknown = _unknown_hooks(obj)
        if unknown:
            self._fail(rec, "validate", "; ".join(unknown))
            return rec
        try:
            self.pm.register(obj, name=f"{dist}:{name}")
        except Exception as exc:  # pluggy.PluginValidationError, duplicate registration
            self._fail(rec, "validate", exc)
            return rec
        collected: list[EngineSpec | ProbFuncSpec] = []
        for hookname, kind in _HOOKS.items():
            for impl in getattr(self.pm.hook, hookname).get_hookimpls():
                if impl.plugin is not obj:
                    continue
                try:
                    specs = impl.function()
                    specs = [] if specs is None else list(specs)
                except Exception as exc:
                    self.pm.unregister(obj)
                    self._fail(rec, "hook", f"{hookname}() raised {type(exc).__name__}: {exc}")
                    return rec
                bad = [s for s in specs if not isinstance(s, kind)]
                if bad:
                    self.pm.unregister(obj)
                    self._fail(rec, "spec", f"{hookname}() yielded {type(bad[0]).__name__} {bad[0]!r}, "
                                            f"expected fitcore.{kind.__name__}")
                    return rec
                collected.extend(specs)
        for spec in collected:
            self._claim(spec, rec)
        return rec

    def _claim(self, spec: EngineSpec | ProbFuncSpec, rec: PluginRecord) -> None:
        if isinstance(spec, EngineSpec):
            taken = [n for n in spec.names if n in self.engines or n in self.aliases or n in self.conflicts]
            if taken and rec.distribution == RUNTIME and taken[0] not in self.conflicts:
                n = taken[0]
                owner = self.engines[self.aliases.get(n, n)]
                self._fail(rec, "conflict", f"engine name {n!r} is already taken by {owner.distribution} "
                                            f"({owner.plugin}); choose another name")
                return
            if taken:
                n = taken[0]
                owner = self.engines.get(self.aliases.get(n, n))
                owners = self.conflicts.get(n) or ([f"{owner.distribution} ({owner.plugin})"] if owner else [])
                self.conflicts[n] = owners + [f"{rec.distribution} ({rec.plugin})"]
                if owner is not None:
                    for alias in owner.spec.names:
                        self.aliases.pop(alias, None)
                    self.engines.pop(owner.name, None)
                self._fail(rec, "conflict", f"engine name {n!r} is claimed by {' and by '.join(self.conflicts[n])}")
                return
            info = EngineInfo(spec, rec.plugin, rec.distribution, rec.version)
            self.engines[spec.name] = info
            for alias in spec.aliases:
                self.aliases[alias] = spec.name
            rec.engines.append(spec.name)
        else:
            if spec.name in self.prob_funcs:
                other = self.prob_funcs.pop(spec.name)
                self.conflicts["prob:" + spec.name] = [other.distribution, rec.distribution]
                self._fail(rec, "conflict", f"probability function {spec.name!r} is claimed by "
                                            f"{other.distribution} and by {rec.distribution}")
                return
            if "prob:" + spec.name in self.conflicts:
                return
            self.prob_funcs[spec.name] = ProbFuncInfo(spec, rec.plugin, rec.distribution, rec.version)
            rec.prob_funcs.append(spec.name)

    # -- lookup ---------------------------------------------------------------------------
    def get_engine(self, name: str) -> EngineInfo:
        self.ensure_loaded()
        if not isinstance(name, str):
            raise TypeError(f"engine must be a name (str), not {type(name).__name__}")
        key = self.aliases.get(name, name)
        if key in self.engines:
            return self.engines[key]
        if name in self.conflicts:
            raise EngineUnavailableError(
                f"engine {name!r} is claimed by more than one distribution: {' and '.join(self.conflicts[name])}; "
                "uninstall one of them or restrict loading with FITCORE_LOAD_PLUGINS",
                name,
            )
        for rec in self.records:
            if rec.status != "active" and rec.plugin == name:
                why = f"broken ({rec.stage}): {rec.error}" if rec.status == "broken" else f"blocked: {rec.error}"
                raise EngineUnavailableError(
                    f"engine {name!r}: plugin {rec.plugin!r} from distribution "
                    f"{(rec.distribution + ' ' + rec.version).strip()} is {why}",
                    name,
                )
        err = EngineNotFoundError(name, list(self.engines) + list(self.aliases))
        unusable = [f"{r.plugin} ({r.distribution}, {r.status})" for r in self.records if r.status != "active"]
        if unusable:
            err.add_note("Plugins not loaded: " + ", ".join(unusable) + "; see `fitcore plugins`.")
        raise err


_registry = _Registry()


def _norm(dist: str) -> str:
    return dist.strip().lower().replace("_", "-").replace(".", "-")


def _dist_name(ep: md.EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else "(unknown)"


def _dist_version(ep: md.EntryPoint) -> str:
    return ep.dist.version if ep.dist is not None else "?"


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def _strict() -> bool:
    return _flag("FITCORE_STRICT_PLUGINS")


_HOOKS: dict[str, type] = {"fitcore_engines": EngineSpec, "fitcore_prob_funcs": ProbFuncSpec}


def _unknown_hooks(obj: Any) -> list[str]:
    """Problems pluggy would pass over silently: unknown marked hooks, hooks left unmarked."""
    marker = f"{PROJECT}_impl"
    out = []
    for attr in dir(obj):
        try:
            value = getattr(obj, attr)
        except Exception:
            continue
        if attr in _HOOKS:
            if callable(value) and not hasattr(value, marker):
                out.append(f"{attr} is not marked with @fitcore.hookimpl")
        elif hasattr(value, marker) and (getattr(value, marker) or {}).get("specname") not in _HOOKS:
            out.append(f"{attr!r} is not a fitcore hook; the hooks are {', '.join(sorted(_HOOKS))}")
    return out


def register(plugin: Any, name: str | None = None) -> PluginRecord:
    """Register a plugin object at run time (notebooks, tests), without packaging.

    Parameters
    ----------
    plugin : module or object
        Anything with ``@hookimpl`` functions.
    name : str, optional
        A name for listings; defaults to the object's ``__name__``.

    Returns
    -------
    PluginRecord
        What was registered, or why it was refused (``status='broken'``).
    """
    _registry.ensure_loaded()
    with _registry._lock:
        label = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        return _registry._add(plugin, label, RUNTIME, "")


def unregister(plugin: Any) -> None:
    """Remove a plugin added with :func:`register`, and every engine and function it provided."""
    with _registry._lock:
        reg = _registry
        names = [n for n, o in reg.pm.list_name_plugin() if o is plugin]
        if not names:
            raise ValueError(f"{plugin!r} is not registered")
        reg.pm.unregister(plugin)
        for rec in [r for r in reg.records if r.distribution == RUNTIME and f"{RUNTIME}:{r.plugin}" in names]:
            for eng in rec.engines:
                info = reg.engines.pop(eng, None)
                for alias in (info.spec.aliases if info else ()):
                    reg.aliases.pop(alias, None)
            for pf in rec.prob_funcs:
                reg.prob_funcs.pop(pf, None)
            reg.records.remove(rec)


def reset() -> None:
    """Forget every plugin; entry points are loaded again on next use (for tests)."""
    with _registry._lock:
        _registry._reset()


def _matches(info: EngineInfo, filters: dict[str, Any]) -> bool:
    for key, want in filters.items():
        if not hasattr(info.spec, key):
            fields = ", ".join(f for f in EngineSpec.__dataclass_fields__ if f not in ("engine", "precheck", "details"))
            raise TypeError(f"list_engines: unknown filter {key!r}; filter on one of: {fields}")
        if getattr(info.spec, key) != want:
            return False
    return True


def list_engines(**filters: Any) -> list[EngineInfo]:
    """Return the installed engines, optionally filtered by capability.

    Examples
    --------
    >>> [e.name for e in list_engines(is_global=True)]  # doctest: +SKIP
    ['anneal']
    """
    _registry.ensure_loaded()
    return [i for i in sorted(_registry.engines.values(), key=lambda i: i.name) if _matches(i, filters)]


def list_prob_funcs() -> list[ProbFuncInfo]:
    """Return the registered confidence-interval probability functions."""
    _registry.ensure_loaded()
    return sorted(_registry.prob_funcs.values(), key=lambda i: i.name)


def list_conflicts() -> dict[str, list[str]]:
    """Return each engine name claimed by more than one distribution, with the claimants."""
    _registry.ensure_loaded()
    return {k: list(v) for k, v in _registry.conflicts.items() if not k.startswith("prob:")}


def list_plugins() -> list[PluginRecord]:
    """Return every plugin seen (active, blocked or broken) with what it registered."""
    _registry.ensure_loaded()
    return list(_registry.records)


def get_engine(name: str) -> EngineInfo:
    """Look an engine up by exact name or alias; raise with the installed list if unknown."""
    return _registry.get_engine(name)


def get_prob_func(name_or_func: str | Callable[[Any, Any], float] | None) -> Callable[[Any, Any], float]:
    """Return a probability function: None means ``'f_test'``; a name is looked up; a callable is returned."""
    if name_or_func is None:
        name_or_func = "f_test"
    if callable(name_or_func):
        return name_or_func
    if not isinstance(name_or_func, str):
        raise TypeError(f"prob_func must be None, a name or a callable, not {type(name_or_func).__name__}")
    _registry.ensure_loaded()
    info = _registry.prob_funcs.get(name_or_func)
    if info is None:
        raise ProbFuncNotFoundError(name_or_func, list(_registry.prob_funcs))
    return info.load()


