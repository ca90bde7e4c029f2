"""The plugin registry in-process: lookup, filters, run-time registration and its refusals."""

from __future__ import annotations

import numpy as np
import pytest

import fitcore
from fitcore import EngineResult, EngineSpec, ProbFuncSpec, hookimpl, plugins
from fitcore.errors import (
    EngineNotFoundError,
    EngineUnavailableError,
    PluginError,
    PluginWarning,
    ProbFuncNotFoundError,
)


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch):
    """Each test starts from the installed plugins only, with no FITCORE_* switch set."""
    for var in ("FITCORE_DISABLE_PLUGIN_AUTOLOAD", "FITCORE_LOAD_PLUGINS", "FITCORE_STRICT_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    plugins.reset()
    yield
    plugins.reset()


def _line(problem, **_):
    """Exact least squares for a problem that is linear in its parameters."""
    jac = problem.jacobian(problem.x0)
    step = np.linalg.lstsq(jac, -problem.residual(problem.x0), rcond=None)[0]
    return EngineResult(x=problem.x0 + step, success=True, message="one Gauss-Newton step")


class Plugin:
    """A run-time plugin yielding the given specs."""

    def __init__(self, *specs):
        self.specs = specs

    @hookimpl
    def fitcore_engines(self):
        yield from (s for s in self.specs if isinstance(s, EngineSpec))

    @hookimpl
    def fitcore_prob_funcs(self):
        yield from (s for s in self.specs if isinstance(s, ProbFuncSpec))


def _fit(engine, **kws):
    x = np.linspace(0, 5, 11)
    p = fitcore.Parameters()
    p.add("a", value=1.0)
    p.add("b", value=0.0)
    fitcore.minimize(lambda p: p["a"].value * x + p["b"].value - (3.0 * x - 2.0), p, engine=engine, **kws)
    return p["a"].value, p["b"].value


def test_installed_engines_listed_with_their_distribution():
    """leastsq comes from its own distribution; the core's prob funcs from 'fitcore' via builtin_stats."""
    info = plugins.get_engine("leastsq")
    assert (info.distribution, info.plugin, info.status) == ("fitcore-engine-leastsq", "leastsq", "available")
    stats = {p.name: p for p in fitcore.list_prob_funcs()}
    assert stats["f_test"].distribution == "fitcore" and stats["f_test"].plugin == "builtin_stats"


def test_list_engines_filters_by_capability():
    """Filters compare spec fields; every listed engine matches; a filter nobody matches gives an empty list."""
    plugins.register(Plugin(EngineSpec("glob", _line, "global", is_global=True, bounds="native")))
    glob = fitcore.list_engines(is_global=True)
    assert "glob" in [e.name for e in glob] and all(e.spec.is_global for e in glob)
    assert [e.name for e in fitcore.list_engines(is_global=True, bounds="native")] == ["glob"]
    local = fitcore.list_engines(is_global=False)
    assert "leastsq" in [e.name for e in local] and all(not e.spec.is_global for e in local)
    assert [e.name for e in fitcore.list_engines(is_global=True, objective="no-such-objective")] == []


def test_list_engines_refuses_unknown_filter():
    """A misspelt capability is an error listing the ones that exist."""
    with pytest.raises(TypeError, match=r"unknown filter 'global'.*is_global"):
        fitcore.list_engines(**{"global": True})


def test_unknown_engine_suggests_and_lists():
    """An unknown name is an error with a did-you-mean and the installed engines, never a fallback."""
    with pytest.raises(EngineNotFoundError, match=r"Did you mean 'leastsq'\?.*Installed engines: .*leastsq"):
        plugins.get_engine("leastsqr")
    with pytest.raises(TypeError, match="must be a name"):
        plugins.get_engine(None)


def test_runtime_engine_fits_by_name_and_alias():
    """A plugin registered at run time is selected by name and by alias, and can be removed again."""
    plugin = Plugin(EngineSpec("gn", _line, "one Gauss-Newton step", aliases=("gauss-newton",)))
    rec = plugins.register(plugin, name="notebook")
    assert (rec.status, rec.distribution, rec.engines) == ("active", "(runtime)", ["gn"])
    assert _fit("gn") == pytest.approx((3.0, -2.0))
    assert plugins.get_engine("gauss-newton").name == "gn"
    plugins.unregister(plugin)
    with pytest.raises(EngineNotFoundError):
        plugins.get_engine("gauss-newton")
    with pytest.raises(ValueError, match="not registered"):
        plugins.unregister(plugin)


class WrongSignature:
    @hookimpl
    def fitcore_engines(self, config):
        yield from ()


class Raises:
    @hookimpl
    def fitcore_engines(self):
        raise RuntimeError("cannot reach the license server")


class WrongType:
    @hookimpl
    def fitcore_engines(self):
        yield "leastsq2"


class Unmarked:
    def fitcore_engines(self):
        yield EngineSpec("unmarked", _line, "forgot @hookimpl")


class Misspelt:
    @hookimpl
    def fitcore_engine(self):
        yield EngineSpec("misspelt", _line, "hook name without the s")


class HalfBroken:
    @hookimpl
    def fitcore_engines(self):
        yield EngineSpec("half", _line, "fine on its own")

    @hookimpl
    def fitcore_prob_funcs(self):
        raise ValueError("prob funcs are broken")


@pytest.mark.parametrize(("plugin", "stage", "fragment"), [
    (WrongSignature(), "validate", "config"),
    (Raises(), "hook", "cannot reach the license server"),
    (WrongType(), "spec", "yielded str 'leastsq2', expected fitcore.EngineSpec"),
    (Unmarked(), "validate", "not marked with @fitcore.hookimpl"),
    (Misspelt(), "validate", "'fitcore_engine' is not a fitcore hook"),
    (HalfBroken(), "hook", "prob funcs are broken"),
])
def test_broken_runtime_plugin_warns_once_and_registers_nothing(plugin, stage, fragment):
    """A broken plugin gives exactly one PluginWarning with its stage; nothing of it is registered; leastsq works."""
    with pytest.warns(PluginWarning) as record:
        rec = plugins.register(plugin)
    assert len(record) == 1
    msg = str(record[0].message)
    assert f"'{type(plugin).__name__}'" in msg and "(runtime)" in msg and f"({stage})" in msg and fragment in msg
    assert (rec.status, rec.stage, rec.engines, rec.prob_funcs) == ("broken", stage, [], [])
    assert {e.distribution for e in fitcore.list_engines()} & {"(runtime)"} == set()
    assert _fit("leastsq") == pytest.approx((3.0, -2.0))


def test_selecting_a_broken_plugins_name_raises_its_error():
    """Selecting the engine of a broken plugin (by its plugin name) raises the recorded error."""
    with pytest.warns(PluginWarning):
        plugins.register(Raises(), name="licensed")
    with pytest.raises(EngineUnavailableError, match=r"plugin 'licensed'.*broken \(hook\).*license server"):
        plugins.get_engine("licensed")


def test_runtime_name_clash_is_refused_and_the_installed_engine_kept():
    """Registering an engine under an installed name is refused; the installed engine stays selected."""
    with pytest.warns(PluginWarning, match="'leastsq' is already taken by fitcore-engine-leastsq"):
        rec = plugins.register(Plugin(EngineSpec("leastsq", _line, "impostor")))
    assert rec.status == "broken" and rec.stage == "conflict"
    assert plugins.get_engine("leastsq").distribution == "fitcore-engine-leastsq"


def test_prob_func_conflict_removes_both():
    """Two plugins claiming one probability function name: neither is selected, one warning."""
    plugins.register(Plugin(ProbFuncSpec("same", lambda b, n: 0.0, "first")), name="p1")
    with pytest.warns(PluginWarning, match="'same' is claimed by"):
        plugins.register(Plugin(ProbFuncSpec("same", lambda b, n: 1.0, "second")), name="p2")
    with pytest.raises(ProbFuncNotFoundError):
        plugins.get_prob_func("same")


def test_strict_mode_raises_instead_of_warning(monkeypatch):
    """FITCORE_STRICT_PLUGINS=1 turns a broken plugin into PluginError with plugin, distribution and stage."""
    monkeypatch.setenv("FITCORE_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError) as info:
        plugins.register(WrongType(), name="wt")
    assert (info.value.plugin, info.value.distribution, info.value.stage) == ("wt", "(runtime)", "spec")


def test_disable_autoload_lists_installed_as_blocked(monkeypatch):
    """FITCORE_DISABLE_PLUGIN_AUTOLOAD=1: no engines; every entry point listed as blocked; register still works."""
    monkeypatch.setenv("FITCORE_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert fitcore.list_engines() == []
    recs = {r.distribution: r for r in fitcore.list_plugins()}
    assert recs["fitcore-engine-leastsq"].status == "blocked"
    with pytest.raises(EngineUnavailableError, match="blocked: FITCORE_DISABLE_PLUGIN_AUTOLOAD"):
        plugins.get_engine("leastsq")
    plugins.register(Plugin(EngineSpec("gn", _line, "one step")))
    assert _fit("gn") == pytest.approx((3.0, -2.0))


def test_allow_list_normalizes_names(monkeypatch):
    """FITCORE_LOAD_PLUGINS matches distribution names case- and separator-insensitively."""
    monkeypatch.setenv("FITCORE_LOAD_PLUGINS", " Fitcore_Engine.Leastsq ")
    assert [e.name for e in fitcore.list_engines()] == ["leastsq"]
    assert fitcore.list_prob_funcs() == []  # the core's own builtin_stats was not allowed


def test_engine_exception_keeps_type_and_gets_a_note():
    """An engine's own exception propagates unchanged in type, with a note naming engine and distribution."""
    class Singular(ArithmeticError):
        pass

    def boom(problem):
        raise Singular("pivot is zero")

    plugins.register(Plugin(EngineSpec("boom", boom, "raises")), name="boomer")
    with pytest.raises(Singular, match="pivot is zero") as info:
        _fit("boom")
    assert any("fitcore engine 'boom'" in n and "(runtime)" in n for n in info.value.__notes__)


def test_missing_requirement_without_import():
    """An engine whose requirement is missing is listed as unavailable, and refused with the install hint."""
    spec = EngineSpec("needs", "fitcore_missing_backend:run", "needs a backend",
                      requires=("fitcore_missing_backend",), install_hint="pip install fitcore-missing")
    plugins.register(Plugin(spec))
    info = plugins.get_engine("needs")
    assert info.status == "unavailable: requires fitcore_missing_backend; pip install fitcore-missing"
    with pytest.raises(EngineUnavailableError, match="pip install fitcore-missing"):
        _fit("needs")


def test_lazy_engine_import_failure_is_reported_on_use():
    """A 'module:attr' engine that cannot be imported is listed, and fails only when selected, saying why."""
    plugins.register(Plugin(EngineSpec("ghost", "fitcore_no_such_module:run", "lazy")))
    assert "ghost" in [e.name for e in fitcore.list_engines()]
    with pytest.raises(EngineUnavailableError, match="could not be imported: ModuleNotFoundError"):
        _fit("ghost")


def test_get_prob_func_forms():
    """None means f_test, a callable is returned as is, an unknown name lists the registered ones."""
    from fitcore.stats import f_test

    assert plugins.get_prob_func(None) is f_test
    func = lambda best, new: 0.5  # noqa: E731
    assert plugins.get_prob_func(func) is func
    with pytest.raises(ProbFuncNotFoundError, match="Did you mean 'f_test'.*likelihood_ratio"):
        plugins.get_prob_func("f_tset")
    with pytest.raises(TypeError, match="prob_func must be"):
        plugins.get_prob_func(3)


@pytest.mark.parametrize(("kwargs", "error", "fragment"), [
    ({"requires": "nlopt"}, TypeError, "tuple of module names"),
    ({"requires": ("not a module",)}, ValueError, "not an importable module name"),
    ({"install_hint": 3}, TypeError, "install_hint must be a string"),
    ({"bounds": "clip"}, ValueError, "expected one of"),
    ({"options": {"max_nfev": 10}}, ValueError, "handled by fitcore's core"),
])
def test_engine_spec_validates_on_creation(kwargs, error, fragment):
    """An invalid EngineSpec is refused when the plugin creates it, saying which field is wrong."""
    with pytest.raises(error, match=fragment):
        EngineSpec("x", _line, "summary", **kwargs)
