"""Discovering, validating and looking up plugins.

Entry points in the ``fitcore`` group are loaded lazily, once, on first use
(by whichever thread gets there first; the others wait for it), each on its
own: a plugin written for another contract version, or that fails to import,
fails pluggy's validation, raises in its hook or yields the wrong type is
recorded as broken with one :class:`~fitcore.errors.PluginWarning` naming the
file and line at fault, and every other plugin keeps working.

Several distributions may claim one name: every claimant stays selectable as
``'<distribution>:<name>'``, and the bare name selects the one from fitcore's
own repository when it is a claimant (see :mod:`fitcore.catalog`), with one
:class:`~fitcore.errors.PluginConflictWarning`.

Environment switches, read when plugins are first loaded. The core's own
entry points (distribution ``fitcore``: the built-in probability functions) are
part of fitcore and always load; the switches govern every other distribution.

``FITCORE_DISABLE_PLUGIN_AUTOLOAD``
    ``1``, ``true``, ``yes`` or ``on``: load no other entry points (plugins given
    to :func:`register` still work). ``0``, ``false``, ``no``, ``off``, empty or
    unset: load them. Anything else is a :class:`~fitcore.errors.PluginConfigError`.
``FITCORE_LOAD_PLUGINS=dist1,dist2``
    load only the entry points of these distributions (names compared as
    packaging does); the others are listed as ``blocked``.
``FITCORE_STRICT_PLUGINS``
    same values as the first; on: raise :class:`~fitcore.errors.PluginError`
    instead of warning.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import os
import threading
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import pluggy

from .catalog import Catalog, Lookup, qualified
from .contract import CONTRACT_VERSION, contract_problem
from .errors import (
    EngineConflictError,
    EngineNotFoundError,
    EngineUnavailableError,
    ModelNotFoundError,
    PluginConfigError,
    PluginConflictWarning,
    PluginError,
    PluginWarning,
    ProbFuncConflictError,
    ProbFuncNotFoundError,
    did_you_mean,
)
from .hookspecs import PROJECT, FitcoreSpec
from .probcheck import CheckedProbFunc
from .shipped import normalize, shipped_distribution
from .specs import EngineSpec, ModelSpec, ProbFuncSpec, resolve

__all__ = [
    "EngineInfo",
    "ProbFuncInfo",
    "ModelInfo",
    "list_models",
    "get_model_info",
    "PluginRecord",
    "register",
    "unregister",
    "list_engines",
    "list_prob_funcs",
    "list_plugins",
    "list_conflicts",
    "get_engine",
    "get_prob_func",
    "get_prob_func_info",
    "reset",
    "selects",
    "shadowed_aliases",
    "CONTRACT_VERSION",
]

RUNTIME = "(runtime)"
CORE_DISTRIBUTION = "fitcore"
TRUE_VALUES = ("1", "true", "yes", "on")
FALSE_VALUES = ("", "0", "false", "no", "off")


@dataclass
class _Installed:
    """A spec as installed: what it declares and the plugin and distribution it came from."""

    spec: Any
    plugin: str
    distribution: str
    version: str

    @property
    def name(self) -> str:
        """The name it is registered under."""
        return str(self.spec.name)

    @property
    def aliases(self) -> tuple[str, ...]:
        """The aliases its spec declares (engines only; none for other kinds)."""
        return tuple(getattr(self.spec, "aliases", ()))

    @property
    def qualified_name(self) -> str:
        """``'<distribution>:<name>'``, which selects it whatever else is installed."""
        return qualified(self)


@dataclass
class EngineInfo(_Installed):
    """An engine as installed: its spec and where it came from."""

    spec: EngineSpec
    _callable: Callable[..., Any] | None = field(default=None, repr=False)

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
                call = resolve(self.spec.engine)
            except Exception as exc:
                hint = f" ({self.spec.install_hint})" if self.spec.install_hint else ""
                raise EngineUnavailableError(
                    f"engine {self.name!r} from {self.distribution} could not be imported: {describe(exc)}{hint}",
                    self.name,
                ) from exc
            if not callable(call):
                raise EngineUnavailableError(f"engine {self.name!r}: {self.spec.engine!r} is not callable", self.name)
            self._callable = call
        return self._callable

    def details(self) -> dict[str, Any]:
        """Extra facts from the spec's ``details`` callable (may import the engine's library)."""
        if self.spec.details is None:
            return {}
        return dict(resolve(self.spec.details)())


@dataclass
class ProbFuncInfo(_Installed):
    """A probability function as installed."""

    spec: ProbFuncSpec

    def load(self) -> Callable[[Any, Any], float]:
        """Return the function as the plugin provides it (unchecked), importing it on first use."""
        func: Callable[[Any, Any], float] = resolve(self.spec.func)
        return func


@dataclass
class ModelInfo(_Installed):
    """A model as installed: ``fitcore.Model(name)`` builds it."""

    spec: ModelSpec

    def load(self) -> Any:
        """Return the model class, importing it on first use."""
        return resolve(self.spec.model)


@dataclass
class PluginRecord:
    """One plugin (entry point or runtime registration) and what became of it."""

    plugin: str
    distribution: str
    version: str
    status: str = "active"  # active | blocked | broken
    stage: str | None = None
    error: str | None = None
    #: kind ('engine', 'prob_func', ...) -> the names it registered
    provides: dict[str, list[str]] = field(default_factory=dict)

    @property
    def engines(self) -> list[str]:
        """Names of the engines it registered."""
        return self.provides.setdefault("engine", [])

    @property
    def prob_funcs(self) -> list[str]:
        """Names of the probability functions it registered."""
        return self.provides.setdefault("prob_func", [])

    @property
    def models(self) -> list[str]:
        """Names of the models it registered."""
        return self.provides.setdefault("model", [])


InfoT = TypeVar("InfoT", EngineInfo, ProbFuncInfo, ModelInfo)


@dataclass(frozen=True)
class Kind(Generic[InfoT]):
    """One kind of thing plugins provide: its hook, spec type, installed-item type and label."""

    key: str
    label: str
    hook: str
    spec: type
    info: Callable[[Any, str, str, str], InfoT]


ENGINE: Kind[EngineInfo] = Kind("engine", "engine", "fitcore_engines", EngineSpec, EngineInfo)
PROB_FUNC: Kind[ProbFuncInfo] = Kind("prob_func", "probability function", "fitcore_prob_funcs", ProbFuncSpec,
                                     ProbFuncInfo)
MODEL: Kind[ModelInfo] = Kind("model", "model", "fitcore_models", ModelSpec, ModelInfo)
#: every kind, in the order hooks are called
KINDS: tuple[Kind[Any], ...] = (ENGINE, PROB_FUNC, MODEL)


def describe(exc: BaseException) -> str:
    """``'Type: message (file:line)'``, the line being the innermost one outside the import machinery."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<frozen")]
    if frames:
        text += f" (at {frames[-1].filename}:{frames[-1].lineno})"
    return text


def add_note(exc: BaseException, note: str | None) -> None:
    """Add ``note`` to ``exc`` (Python 3.11+ shows it under the message; 3.10 keeps it in ``__notes__``)."""
    if note:
        if hasattr(exc, "add_note"):
            exc.add_note(note)
        else:  # pragma: no cover - Python 3.10
            exc.__dict__["__notes__"] = [*getattr(exc, "__notes__", []), note]


def flag(name: str) -> bool:
    """Read an on/off environment switch; raise PluginConfigError for a value that is neither."""
    raw = os.environ.get(name)
    value = "" if raw is None else raw.strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise PluginConfigError(
        f"{name}={raw!r} is not understood: set it to one of {', '.join(TRUE_VALUES)} to turn it on, or to "
        f"one of {', '.join(repr(v) for v in FALSE_VALUES)} (or unset it) to turn it off",
        name,
    )


class _Registry:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._reset()

    def _reset(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(FitcoreSpec)
        self.catalogs: dict[str, Catalog[Any]] = {k.key: Catalog() for k in KINDS}
        self.records: list[PluginRecord] = []
        self.unmatched: list[str] = []  # FITCORE_LOAD_PLUGINS entries naming no installed distribution
        self.loaded = False
        self._loading = False

    # -- loading --------------------------------------------------------------------------
    def ensure_loaded(self) -> None:
        if self.loaded:
            return
        with self._lock:  # other threads wait here until the first has loaded every plugin
            if self.loaded or self._loading:  # _loading: a plugin being loaded asked, on this thread
                return
            self._loading = True
            try:
                self._load_entry_points()
            except BaseException:  # strict mode, a bad switch: fail now, and again on every later use
                self._reset()
                raise
            finally:
                self._loading = False
            self.loaded = True  # only now: a thread that finds it set sees every plugin

    def _load_entry_points(self) -> None:
        disabled = flag("FITCORE_DISABLE_PLUGIN_AUTOLOAD")
        flag("FITCORE_STRICT_PLUGINS")  # refuse a value it does not understand before loading anything
        allow = os.environ.get("FITCORE_LOAD_PLUGINS")
        allowed = None if allow is None else {normalize(d) for d in allow.split(",") if d.strip()}
        eps = sorted(md.entry_points(group=PROJECT), key=lambda e: (_dist_name(e), e.name))
        if allowed is not None:
            present = {normalize(_dist_name(e)) for e in eps}
            self.unmatched = sorted(allowed - present)
        for ep in eps:
            dist, version = _dist_name(ep), _dist_version(ep)
            core = normalize(dist) == CORE_DISTRIBUTION
            if disabled and not core:
                self.records.append(PluginRecord(ep.name, dist, version, status="blocked",
                                                 error="FITCORE_DISABLE_PLUGIN_AUTOLOAD is set"))
                continue
            if allowed is not None and not core and normalize(dist) not in allowed:
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
        text = exc if isinstance(exc, str) else describe(exc)
        text = " ".join(text.split())
        rec.status, rec.stage, rec.error = "broken", stage, text
        rec.provides.clear()
        if rec not in self.records:
            self.records.append(rec)
        msg = f"fitcore plugin {rec.plugin!r} from distribution {rec.distribution!r} is broken ({stage}): {text}"
        err = PluginError(msg, rec.plugin, rec.distribution, stage)
        if flag("FITCORE_STRICT_PLUGINS"):
            raise err from (exc if isinstance(exc, BaseException) else None)
        warnings.warn(msg + "; every other plugin keeps working", PluginWarning, stacklevel=4)

    def _add(self, obj: Any, name: str, dist: str, version: str) -> PluginRecord:
        rec = PluginRecord(name, dist, version)
        self.records.append(rec)
        problem = contract_problem(getattr(obj, "fitcore_contract", None))
        if problem is not None:
            self._fail(rec, "contract", f"{problem}; install a version of {dist} built for fitcore plugin "
                                        f"contract {CONTRACT_VERSION.split('.')[0]}.x, or a fitcore that "
                                        "implements the contract it needs")
            return rec
        unknown = _unknown_hooks(obj)
        if unknown:
            self._fail(rec, "validate", "; ".join(unknown))
            return rec
        try:
            self.pm.register(obj, name=f"{dist}:{name}")
        except Exception as exc:  # pluggy.PluginValidationError, duplicate registration
            self._fail(rec, "validate", exc)
            return rec
        collected: list[tuple[Kind[Any], Any]] = []
        for kind in KINDS:
            for impl in getattr(self.pm.hook, kind.hook).get_hookimpls():
                if impl.plugin is not obj:
                    continue
                try:
                    specs = impl.function()
                    specs = [] if specs is None else list(specs)
                except Exception as exc:
                    self.pm.unregister(obj)
                    self._fail(rec, "hook", f"{kind.hook}() raised {describe(exc)}")
                    return rec
                bad = [s for s in specs if not isinstance(s, kind.spec)]
                if bad:
                    self.pm.unregister(obj)
                    self._fail(rec, "spec", f"{kind.hook}() yielded {type(bad[0]).__name__} {bad[0]!r}, "
                                            f"expected fitcore.{kind.spec.__name__}")
                    return rec
                collected.extend((kind, s) for s in specs)
        refusal = self._refusal(collected, rec)
        if refusal is not None:
            self.pm.unregister(obj)
            self._fail(rec, "conflict", refusal)
            return rec
        for kind, spec in collected:
            self._claim(kind, spec, rec)
        return rec

    def _refusal(self, collected: list[tuple[Kind[Any], Any]], rec: PluginRecord) -> str | None:
        """Why the plugin's names cannot be registered at all, or None.

        A distribution may not claim one name twice; a run-time registration may
        not claim an installed name at all (choose another name in the notebook).
        """
        mine: dict[str, set[str]] = {}
        for kind, spec in collected:
            info = kind.info(spec, rec.plugin, rec.distribution, rec.version)
            catalog = self.catalogs[kind.key]
            names = {info.name, *info.aliases}
            twice = names & mine.setdefault(kind.key, set())
            if twice:
                return f"{kind.label} name {sorted(twice)[0]!r} is yielded twice"
            mine[kind.key] |= names
            if rec.distribution == RUNTIME:
                for n in sorted(names):
                    taken = [o for o in catalog.claimants(n) if n in (o.name, *o.aliases)]
                    if taken:
                        return (f"{kind.label} name {n!r} is already taken by {taken[0].distribution} "
                                f"({taken[0].plugin}); choose another name")
            other = catalog.same_distribution(info)
            if other is not None:
                return (f"{kind.label} name {info.name!r} clashes with {other.name!r} that {rec.distribution} "
                        f"already provides (plugin {other.plugin}); one distribution may use each name once")
        return None

    def _claim(self, kind: Kind[Any], spec: Any, rec: PluginRecord) -> None:
        info = kind.info(spec, rec.plugin, rec.distribution, rec.version)
        catalog = self.catalogs[kind.key]
        catalog.add(info)
        rec.provides.setdefault(kind.key, []).append(info.name)
        for name, claimants in catalog.conflicts().items():
            if info not in claimants:  # announce each clash once, when its newest claimant arrives
                continue
            look = catalog.lookup(name)
            names = " and ".join(qualified(c) for c in claimants)
            rule = (f"the bare name selects fitcore's own {look.selected.distribution}"
                    if look.selected is not None else "the bare name is ambiguous and refused")
            msg = (f"fitcore {kind.label} name {name!r} is claimed by {names}; {rule}; select one by its qualified "
                   "name, e.g. " + repr(qualified(claimants[-1])))
            if flag("FITCORE_STRICT_PLUGINS"):
                raise PluginError(msg, rec.plugin, rec.distribution, "conflict")
            warnings.warn(msg, PluginConflictWarning, stacklevel=5)

    # -- lookup ---------------------------------------------------------------------------
    def lookup(self, kind: Kind[InfoT], name: str) -> Lookup[InfoT]:
        self.ensure_loaded()
        with self._lock:
            return self.catalogs[kind.key].lookup(name)

    def items(self, kind: Kind[InfoT]) -> list[InfoT]:
        self.ensure_loaded()
        with self._lock:
            return sorted(self.catalogs[kind.key], key=lambda i: (i.name, i.distribution))

    def unusable_note(self) -> str | None:
        """Return a note on plugins that were not loaded, for not-found errors."""
        with self._lock:
            unusable = [f"{r.plugin} ({r.distribution}, {r.status})" for r in self.records if r.status != "active"]
            unmatched = list(self.unmatched)
        parts = []
        if unusable:
            parts.append("Plugins not loaded: " + ", ".join(unusable) + "; see `fitcore plugins`.")
        if unmatched:
            parts.append(f"FITCORE_LOAD_PLUGINS names {', '.join(unmatched)}, which no installed distribution "
                         "in the 'fitcore' entry-point group matches.")
        return " ".join(parts) or None

    def unusable_provider(self, kind: Kind[Any], name: str) -> PluginRecord | None:
        """Return the blocked or broken record that would have provided ``name``, if one is known."""
        dist, sep, bare = name.rpartition(":")
        provider = dist if sep else shipped_distribution(kind.key, bare)
        with self._lock:
            for rec in self.records:
                if rec.status == "active":
                    continue
                if rec.plugin == bare or (provider is not None and normalize(rec.distribution) == normalize(provider)):
                    return rec
        return None

    def get_engine(self, name: str) -> EngineInfo:
        if not isinstance(name, str):
            raise TypeError(f"engine must be a name (str), not {type(name).__name__}")
        look = self.lookup(ENGINE, name)
        if look.selected is not None:
            return look.selected
        if look.ambiguous:
            names = [c.qualified_name for c in look.claimants]
            raise EngineConflictError(
                f"engine {name!r} is claimed by more than one distribution, none of them fitcore's own; select "
                f"one by its qualified name: {', '.join(repr(n) for n in names)} (or uninstall one, or restrict "
                "loading with FITCORE_LOAD_PLUGINS)",
                name, names,
            )
        rec = self.unusable_provider(ENGINE, name)
        if rec is not None:
            why = f"broken ({rec.stage}): {rec.error}" if rec.status == "broken" else f"blocked: {rec.error}"
            raise EngineUnavailableError(
                f"engine {name!r}: plugin {rec.plugin!r} from distribution "
                f"{(rec.distribution + ' ' + rec.version).strip()} is {why}",
                name,
            )
        dist, sep, bare = name.rpartition(":")
        available = [n for i in self.items(ENGINE) for n in (i.name, *i.aliases)]
        err = EngineNotFoundError(name, sorted(set(available)), shipped_distribution("engine", bare))
        add_note(err, self.unusable_note())
        raise err

    def get_prob_func(self, name: str) -> CheckedProbFunc:
        info = self.prob_func_info(name)
        others = sorted({i.name for i in self.items(PROB_FUNC)} - {info.name})
        source = f"distribution {(info.distribution + ' ' + info.version).strip()}"
        return CheckedProbFunc(info.load(), info.name, source, others)

    def prob_func_info(self, name: str) -> ProbFuncInfo:
        if not isinstance(name, str):
            raise TypeError(f"prob_func must be a name (str), not {type(name).__name__}")
        look = self.lookup(PROB_FUNC, name)
        others = sorted({i.name for i in self.items(PROB_FUNC)})
        if look.selected is not None:
            return look.selected
        if look.ambiguous:
            names = [c.qualified_name for c in look.claimants]
            raise ProbFuncConflictError(
                f"probability function {name!r} is claimed by more than one distribution, none of them fitcore's "
                f"own; select one by its qualified name: {', '.join(repr(n) for n in names)}",
                name, names,
            )
        err = ProbFuncNotFoundError(name, others)
        add_note(err, self.unusable_note())
        raise err


_registry = _Registry()


def _dist_name(ep: md.EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else "(unknown)"


def _dist_version(ep: md.EntryPoint) -> str:
    return ep.dist.version if ep.dist is not None else "?"


def _unknown_hooks(obj: Any) -> list[str]:
    """Problems pluggy would pass over silently: unknown marked hooks, hooks left unmarked."""
    marker = f"{PROJECT}_impl"
    hooks = {k.hook for k in KINDS}
    out = []
    for attr in dir(obj):
        try:
            value = getattr(obj, attr)
        except Exception:
            continue
        if attr in hooks:
            if callable(value) and not hasattr(value, marker):
                out.append(f"{attr} is not marked with @fitcore.hookimpl")
        elif hasattr(value, marker) and (getattr(value, marker) or {}).get("specname") not in hooks:
            out.append(f"{attr!r} is not a fitcore hook; the hooks are {', '.join(sorted(hooks))}")
    return out


def register(plugin: Any, name: str | None = None) -> PluginRecord:
    """Register a plugin object at run time (notebooks, tests), without packaging.

    A run-time plugin may not claim a name an installed plugin has (it is
    refused, listed as broken with stage ``conflict``): choose another name.

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
    """Remove a plugin added with :func:`register`, and everything it provided."""
    with _registry._lock:
        reg = _registry
        names = [n for n, o in reg.pm.list_name_plugin() if o is plugin]
        if not names:
            raise ValueError(f"{plugin!r} is not registered")
        reg.pm.unregister(plugin)
        for rec in [r for r in reg.records if r.distribution == RUNTIME and f"{RUNTIME}:{r.plugin}" in names]:
            for catalog in reg.catalogs.values():
                for info in [i for i in catalog if i.distribution == RUNTIME and i.plugin == rec.plugin]:
                    catalog.remove(info)
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

    Every claimant of a name is listed; see :attr:`EngineInfo.qualified_name`.

    Examples
    --------
    >>> [e.name for e in list_engines(is_global=True)]  # doctest: +SKIP
    ['anneal']
    """
    return [i for i in _registry.items(ENGINE) if _matches(i, filters)]


def list_prob_funcs() -> list[ProbFuncInfo]:
    """Return the registered confidence-interval probability functions (every claimant of a name)."""
    return _registry.items(PROB_FUNC)


def list_models() -> list[ModelInfo]:
    """Return the registered models (``fitcore.Model(name)``), every claimant of a name."""
    return _registry.items(MODEL)


def get_model_info(name: str) -> ModelInfo:
    """Return the registered model ``name`` (bare or ``'<distribution>:<name>'``).

    Raises
    ------
    ModelNotFoundError
        No model has that name (the message lists the registered ones), or two
        distributions other than fitcore claim it (select one by qualified name).
    """
    if not isinstance(name, str):
        raise TypeError(f"model must be a name (str), not {type(name).__name__}")
    look = _registry.lookup(MODEL, name)
    if look.selected is not None:
        return look.selected
    known = sorted({i.name for i in _registry.items(MODEL)})
    if look.ambiguous:
        names = ", ".join(repr(c.qualified_name) for c in look.claimants)
        raise ModelNotFoundError(f"model {name!r} is claimed by more than one distribution, none of them "
                                 f"fitcore's own; select one by its qualified name: {names}")
    err = ModelNotFoundError(f"no model named {name!r}.{did_you_mean(name.rpartition(':')[2], known)} "
                             f"Registered models: {', '.join(known)}")
    add_note(err, _registry.unusable_note())
    raise err


def list_conflicts(kind: str = "engine") -> dict[str, list[str]]:
    """Return each name claimed by more than one distribution, with the claimants' qualified names.

    Parameters
    ----------
    kind : {'engine', 'prob_func', 'model'}
        Which names.
    """
    known = {k.key for k in KINDS}
    if kind not in known:
        raise ValueError(f"kind={kind!r}; expected one of {sorted(known)}")
    _registry.ensure_loaded()
    with _registry._lock:
        return {n: [qualified(c) for c in cs] for n, cs in _registry.catalogs[kind].conflicts().items()}


def shadowed_aliases(info: EngineInfo) -> list[str]:
    """Return the aliases of ``info`` that select another engine, whose real name they are."""
    _registry.ensure_loaded()
    with _registry._lock:
        return _registry.catalogs[ENGINE.key].shadowed_aliases(info)


def selects(info: EngineInfo | ProbFuncInfo | ModelInfo) -> bool:
    """Whether the bare name of ``info`` selects it (False when another claimant wins or none does)."""
    if isinstance(info, EngineInfo):
        return _registry.lookup(ENGINE, info.name).selected is info
    if isinstance(info, ModelInfo):
        return _registry.lookup(MODEL, info.name).selected is info
    return _registry.lookup(PROB_FUNC, info.name).selected is info


def list_plugins() -> list[PluginRecord]:
    """Return every plugin seen (active, blocked or broken) with what it registered."""
    _registry.ensure_loaded()
    with _registry._lock:
        return list(_registry.records)


def get_engine(name: str) -> EngineInfo:
    """Look an engine up by name, alias or qualified name ``'<distribution>:<name>'``.

    A bare name claimed by several distributions selects fitcore's own when it
    is one of them, and is refused (:class:`~fitcore.errors.EngineConflictError`
    listing the qualified names) otherwise. Names and aliases match
    case-insensitively; an alias never shadows another engine's name. An
    unknown name raises :class:`~fitcore.errors.EngineNotFoundError` listing
    the installed engines and, for an engine fitcore ships separately, the
    distribution to install.
    """
    return _registry.get_engine(name)


def get_prob_func_info(name: str) -> ProbFuncInfo:
    """Look a probability function up as :func:`get_prob_func` does; return what is installed, unchecked."""
    return _registry.prob_func_info(name)


def get_prob_func(name_or_func: str | Callable[[Any, Any], float] | None) -> Callable[[Any, Any], float]:
    """Return a probability function, checked at every call (a float in [0, 1], else ProbFuncError).

    ``None`` means ``'f_test'``; a name (or ``'<distribution>:<name>'``) is
    looked up as :func:`get_engine` does; a callable is checked the same way.
    """
    if name_or_func is None:
        name_or_func = "f_test"
    if isinstance(name_or_func, CheckedProbFunc):
        return name_or_func
    if callable(name_or_func):
        label = getattr(name_or_func, "__name__", None) or type(name_or_func).__name__
        return CheckedProbFunc(name_or_func, label, "the prob_func you passed")
    if not isinstance(name_or_func, str):
        raise TypeError(f"prob_func must be None, a name or a callable, not {type(name_or_func).__name__}")
    return _registry.get_prob_func(name_or_func)
