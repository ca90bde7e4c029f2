"""The plugin registry in-process: lookup, filters, run-time registration and its refusals."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SpecPlugin

import fitcore
from fitcore import EngineResult, EngineSpec, ProbFuncSpec, hookimpl, plugins
from fitcore.errors import (
    EngineNotFoundError,
    EngineUnavailableError,
    PluginConfigError,
    PluginError,
    PluginWarning,
    ProbFuncError,
    ProbFuncNotFoundError,
)

pytestmark = pytest.mark.usefixtures("fresh_registry")


def _line(problem, **_):
    """Exact least squares for a problem that is linear in its parameters."""
    jac = problem.jacobian(problem.x0)
    step = np.linalg.lstsq(jac, -problem.residual(problem.x0), rcond=None)[0]
    return EngineResult(x=problem.x0 + step, success=True, message="one Gauss-Newton step")





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
    installed = {e.name for e in fitcore.list_engines(is_global=True, bounds="native")}  # e.g. basinhopping
    plugins.register(SpecPlugin(EngineSpec("glob", _line, "global", is_global=True, bounds="native")))
    glob = fitcore.list_engines(is_global=True)
    assert "glob" in [e.name for e in glob] and all(e.spec.is_global for e in glob)
    both = fitcore.list_engines(is_global=True, bounds="native")
    assert {e.name for e in both} == installed | {"glob"}
    assert all(e.spec.is_global and e.spec.bounds == "native" for e in both)
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
    plugin = SpecPlugin(EngineSpec("gn", _line, "one Gauss-Newton step", aliases=("gauss-newton",)))
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
        rec = plugins.register(SpecPlugin(EngineSpec("leastsq", _line, "impostor")))
    assert rec.status == "broken" and rec.stage == "conflict"
    assert plugins.get_engine("leastsq").distribution == "fitcore-engine-leastsq"


def test_runtime_prob_func_clash_is_refused_and_the_first_kept():
    """A run-time plugin claiming a probability-function name already taken is refused; the first one stays."""
    plugins.register(SpecPlugin(ProbFuncSpec("same", lambda b, n: 0.25, "first")), name="p1")
    with pytest.warns(PluginWarning, match="'same' is already taken by \\(runtime\\) \\(p1\\); choose another"):
        rec = plugins.register(SpecPlugin(ProbFuncSpec("same", lambda b, n: 1.0, "second")), name="p2")
    assert (rec.status, rec.stage, rec.prob_funcs) == ("broken", "conflict", [])
    assert plugins.get_prob_func("same")(None, None) == 0.25


def test_strict_mode_raises_instead_of_warning(monkeypatch):
    """FITCORE_STRICT_PLUGINS=1 turns a broken plugin into PluginError with plugin, distribution and stage."""
    monkeypatch.setenv("FITCORE_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError) as info:
        plugins.register(WrongType(), name="wt")
    assert (info.value.plugin, info.value.distribution, info.value.stage) == ("wt", "(runtime)", "spec")


def test_disable_autoload_lists_installed_as_blocked(monkeypatch):
    """FITCORE_DISABLE_PLUGIN_AUTOLOAD=1: no engines, the engine distributions blocked; the core's f_test stays."""
    monkeypatch.setenv("FITCORE_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert fitcore.list_engines() == []
    recs = {r.distribution: r for r in fitcore.list_plugins()}
    assert recs["fitcore-engine-leastsq"].status == "blocked"
    assert (recs["fitcore"].status, recs["fitcore"].prob_funcs) == ("active", ["f_test", "likelihood_ratio"])
    with pytest.raises(EngineUnavailableError, match="blocked: FITCORE_DISABLE_PLUGIN_AUTOLOAD"):
        plugins.get_engine("leastsq")
    plugins.register(SpecPlugin(EngineSpec("gn", _line, "one step")))
    assert _fit("gn") == pytest.approx((3.0, -2.0))


def test_allow_list_normalizes_names_and_keeps_the_core(monkeypatch):
    """FITCORE_LOAD_PLUGINS matches names as packaging does; the core's own prob funcs always load."""
    monkeypatch.setenv("FITCORE_LOAD_PLUGINS", " Fitcore_Engine.Leastsq ")
    assert [e.name for e in fitcore.list_engines()] == ["leastsq"]
    assert [p.name for p in fitcore.list_prob_funcs()] == ["f_test", "likelihood_ratio"]
    with pytest.raises(EngineUnavailableError, match="fitcore-engine-lbfgsb is not in FITCORE_LOAD_PLUGINS"):
        plugins.get_engine("L-BFGS-B")


def test_allow_list_typo_is_named_when_an_engine_is_missing(monkeypatch):
    """A FITCORE_LOAD_PLUGINS entry that matches no installed distribution is pointed out by the not-found error."""
    monkeypatch.setenv("FITCORE_LOAD_PLUGINS", "fitcore-engine-leastsq,fitcore-engine-lbgfsb")
    with pytest.raises(EngineNotFoundError) as info:
        plugins.get_engine("no-such-engine")
    assert any("FITCORE_LOAD_PLUGINS names fitcore-engine-lbgfsb" in n for n in info.value.__notes__)


@pytest.mark.parametrize(("value", "disabled"), [
    ("1", True), ("true", True), (" Yes ", True), ("ON", True),
    ("0", False), ("false", False), ("no", False), ("off", False), ("", False),
])
def test_disable_switch_accepted_values(monkeypatch, value, disabled):
    """The on/off switch accepts 1/true/yes/on and 0/false/no/off/empty, case- and space-insensitively."""
    monkeypatch.setenv("FITCORE_DISABLE_PLUGIN_AUTOLOAD", value)
    assert ("leastsq" not in [e.name for e in fitcore.list_engines()]) is disabled


@pytest.mark.parametrize("variable", ["FITCORE_DISABLE_PLUGIN_AUTOLOAD", "FITCORE_STRICT_PLUGINS"])
@pytest.mark.parametrize("value", ["n", "0.0", "maybe"])
def test_switch_with_unknown_value_is_an_error(monkeypatch, variable, value):
    """A value that is neither on nor off is refused, naming the variable and the accepted values, every time."""
    monkeypatch.setenv(variable, value)
    for _ in range(2):
        with pytest.raises(PluginConfigError, match=f"{variable}='{value}' is not understood.*1, true, yes, on"):
            plugins.get_engine("leastsq")
    monkeypatch.setenv(variable, "off")
    assert plugins.get_engine("leastsq").name == "leastsq"


def test_engine_exception_keeps_type_and_gets_a_note():
    """An engine's own exception propagates unchanged in type, with a note naming engine and distribution."""
    class Singular(ArithmeticError):
        pass

    def boom(problem):
        raise Singular("pivot is zero")

    plugins.register(SpecPlugin(EngineSpec("boom", boom, "raises")), name="boomer")
    with pytest.raises(Singular, match="pivot is zero") as info:
        _fit("boom")
    assert any("fitcore engine 'boom'" in n and "(runtime)" in n for n in info.value.__notes__)


def test_missing_requirement_without_import():
    """An engine whose requirement is missing is listed as unavailable, and refused with the install hint."""
    spec = EngineSpec("needs", "fitcore_missing_backend:run", "needs a backend",
                      requires=("fitcore_missing_backend",), install_hint="pip install fitcore-missing")
    plugins.register(SpecPlugin(spec))
    info = plugins.get_engine("needs")
    assert info.status == "unavailable: requires fitcore_missing_backend; pip install fitcore-missing"
    with pytest.raises(EngineUnavailableError, match="pip install fitcore-missing"):
        _fit("needs")


def test_lazy_engine_import_failure_is_reported_on_use():
    """A 'module:attr' engine that cannot be imported is listed, and fails only when selected, saying why."""
    plugins.register(SpecPlugin(EngineSpec("ghost", "fitcore_no_such_module:run", "lazy")))
    assert "ghost" in [e.name for e in fitcore.list_engines()]
    with pytest.raises(EngineUnavailableError, match="could not be imported: ModuleNotFoundError"):
        _fit("ghost")


def test_get_prob_func_forms():
    """None means f_test, a name is looked up, a callable is used; each comes back checked; bad input refused."""
    from fitcore.stats import FitStats, f_test, likelihood_ratio

    best = FitStats(50, 4, 46, 46.0, 1.0)
    new = best.constrained(1, 50.0)
    assert plugins.get_prob_func(None)(best, new) == f_test(best, new)
    assert plugins.get_prob_func("fitcore:likelihood_ratio")(best, new) == likelihood_ratio(best, new)
    assert plugins.get_prob_func(lambda b, n: 0.5)(best, new) == 0.5
    with pytest.raises(ProbFuncNotFoundError, match="Did you mean 'f_test'.*likelihood_ratio"):
        plugins.get_prob_func("f_tset")
    with pytest.raises(TypeError, match="prob_func must be"):
        plugins.get_prob_func(3)


def _toy_fit():
    x = np.linspace(0.3, 10, 100)
    y = 1 / (0.1 * x) + 2 + 0.1 * np.random.default_rng(0).standard_normal(x.size)
    p = fitcore.Parameters()
    p.add_many(("a", 0.1), ("b", 1.0))
    return fitcore.minimize(lambda p: 1 / (p["a"].value * x) + p["b"].value - y, p)


def _times(factor):
    from fitcore.stats import f_test

    return lambda best, new: factor * f_test(best, new)


@pytest.mark.parametrize(("func", "fragment"), [
    (_times(1.5), r"returned 1\.\d+, outside \[0, 1\]"),
    (_times(-1.0), r"returned -0\.\d+, outside \[0, 1\]"),
    (lambda best, new: float("nan"), "returned nan"),
    (lambda best, new: "0.5", "returned str '0.5', not a float"),
    (lambda best, new: None, "returned NoneType None, not a float"),
    (lambda best, new: np.array([0.1, 0.2]), "returned ndarray"),
])
def test_registered_prob_func_checked_at_use(func, fragment):
    """conf_interval with a registered function returning a non-probability fails naming it and its source."""
    plugins.register(SpecPlugin(ProbFuncSpec("shaky", func, "a broken probability function")), name="shakylib")
    fit = _toy_fit()
    with pytest.raises(ProbFuncError, match=fragment) as info:
        fitcore.conf_interval(fit, prob_func="shaky")
    msg = str(info.value)
    assert "probability function 'shaky' from distribution (runtime)" in msg and "chi-square increase of" in msg
    assert "defect of the function, not of your fit" in msg and "f_test" in msg
    assert "smaller level" not in msg and info.value.name == "shaky"


def test_prob_func_passed_as_callable_is_checked_too():
    """A callable given as prob_func is checked the same way; a correct one gives the F-test's limits."""
    fit = _toy_fit()
    with pytest.raises(ProbFuncError, match="'<lambda>' from the prob_func you passed returned 1.5"):
        fitcore.conf_interval(fit, prob_func=lambda best, new: 1.5)
    by_name = fitcore.conf_interval(fit, sigmas=(1,))
    by_callable = fitcore.conf_interval(fit, sigmas=(1,), prob_func=_times(1.0))
    assert by_callable == by_name


@pytest.mark.parametrize(("declared", "ok"), [
    (None, True), ("1.0", True), ("1", True), ("1.1", True), (">=1.0,<3", True), ("==1.1", True),
    ("1.2", False), ("2.0", False), ("0.9", False), (">=2", False), ("<1.1", False), ("!=1.1", False),
])
def test_contract_version_is_checked(declared, ok):
    """A plugin stating a contract this fitcore does not implement is broken (stage 'contract'), not registered."""
    plugin = SpecPlugin(EngineSpec("versioned", _line, "states a contract"))
    if declared is not None:
        plugin.fitcore_contract = declared
    if ok:
        assert plugins.register(plugin).status == "active"
        assert _fit("versioned") == pytest.approx((3.0, -2.0))
        return
    with pytest.warns(PluginWarning, match=f"is broken \\(contract\\): it was written for fitcore plugin contract "
                                           f"'{declared}', and this fitcore implements contract 1.1"):
        rec = plugins.register(plugin)
    assert (rec.status, rec.stage, rec.engines) == ("broken", "contract", [])
    with pytest.raises(EngineNotFoundError):
        plugins.get_engine("versioned")


@pytest.mark.parametrize("declared", ["banana", "~=1.1", ">=1.0;<2", 1.1])
def test_unreadable_contract_declaration_is_broken(declared):
    """A contract declaration that cannot be read is a broken plugin, saying what form is expected."""
    plugin = SpecPlugin(EngineSpec("versioned", _line, "states a contract"))
    plugin.fitcore_contract = declared
    with pytest.warns(PluginWarning, match=r"\(contract\): fitcore_contract.*'1.1'"):
        rec = plugins.register(plugin)
    assert rec.stage == "contract"


class BareRaise:
    @hookimpl
    def fitcore_engines(self):
        raise Exception()


def test_broken_plugin_message_names_file_and_line():
    """A bare exception in a plugin is reported with the file and line that raised it, without strict mode."""
    import inspect

    with pytest.warns(PluginWarning) as record:
        rec = plugins.register(BareRaise())
    line = inspect.getsourcelines(BareRaise.fitcore_engines)[1] + 2
    where = f"(at {__file__}:{line})"
    assert rec.error == f"fitcore_engines() raised Exception: {where}"
    assert where in str(record[0].message)


def test_lmfit_method_names_select_the_engine_that_declares_them():
    """Aliases match case-insensitively: lmfit's 'L-BFGS-B' and 'dual_annealing' select lbfgsb and anneal."""
    assert plugins.get_engine("L-BFGS-B").name == "lbfgsb"
    assert plugins.get_engine("Dual_Annealing").name == "anneal"
    assert plugins.get_engine("LEASTSQ").name == "leastsq"
    assert plugins.get_engine("fitcore-engine-lbfgsb:L-BFGS-B").qualified_name == "fitcore-engine-lbfgsb:lbfgsb"


def test_qualified_names_select_by_distribution():
    """'<distribution>:<name>' selects that distribution's engine (names compared as packaging does)."""
    info = plugins.get_engine("Fitcore_Engine.Leastsq:leastsq")
    assert info.qualified_name == "fitcore-engine-leastsq:leastsq"
    assert _fit("fitcore-engine-leastsq:leastsq") == pytest.approx((3.0, -2.0))
    with pytest.raises(EngineNotFoundError, match="unknown engine 'fitcore-engine-anneal:leastsq'"):
        plugins.get_engine("fitcore-engine-anneal:leastsq")


def test_missing_shipped_engine_names_its_distribution(monkeypatch):
    """An engine fitcore ships separately, not installed, is an error saying which distribution to install."""
    import importlib.metadata as md

    real = md.entry_points

    def without_lbfgsb(**kws):
        return [ep for ep in real(**kws) if ep.dist is None or ep.dist.name != "fitcore-engine-lbfgsb"]

    monkeypatch.setattr(md, "entry_points", without_lbfgsb)
    with pytest.raises(EngineNotFoundError, match="provided by the distribution fitcore-engine-lbfgsb: pip install "
                                                  "fitcore-engine-lbfgsb") as info:
        _fit("lbfgsb")
    assert info.value.provider == "fitcore-engine-lbfgsb"
    with pytest.raises(EngineNotFoundError, match="pip install fitcore-engine-lbfgsb"):
        plugins.get_engine("L-BFGS-B")


THREADS = r"""
import threading
import numpy as np
import fitcore

N = 24
barrier = threading.Barrier(N)
errors, values = [], []
x = np.linspace(0, 5, 21)
data = 3.0 * x - 2.0


def work(i):
    p = fitcore.Parameters(); p.add("a", value=1.0); p.add("b", value=0.0)
    barrier.wait()
    try:
        fitcore.minimize(lambda p: p["a"].value * x + p["b"].value - data, p, engine=["leastsq", "lbfgsb"][i % 2])
        values.append(round(p["a"].value, 5))
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")


threads = [threading.Thread(target=work, args=(i,)) for i in range(N)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(len(errors), sorted(set(values)), errors[:1])
"""


@pytest.mark.slow
def test_threads_starting_together_in_a_fresh_process_all_find_the_engines():
    """24 threads starting their first fits at once in a fresh interpreter all fit (loading waits for them)."""
    import subprocess
    import sys

    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("FITCORE_")}
    procs = [subprocess.Popen([sys.executable, "-c", THREADS], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for _ in range(4)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert out.strip() == "0 [3.0] []", out


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


def test_packaging_installs_a_default_engine_and_all_brings_every_shipped_one():
    """fitcore requires the default engine's distribution; fitcore[all] requires every distribution in plugins/."""
    import importlib.metadata as md
    import re
    from pathlib import Path

    from fitcore.shipped import SHIPPED

    root = Path(__file__).resolve().parents[1]
    ours = {re.search(r'^name = "([^"]+)"', p.read_text(), re.M).group(1)
            for p in root.glob("plugins/*/pyproject.toml")}
    requires = md.requires("fitcore") or []
    plain = {r.split(">=")[0] for r in requires if ";" not in r}
    extra_all = {r.split(">=")[0] for r in requires if r.replace(" ", "").endswith('extra=="all"')}
    assert "fitcore-engine-leastsq" in plain
    assert extra_all == ours
    assert ours <= set(SHIPPED), "a distribution under plugins/ is missing from fitcore.shipped.SHIPPED"
