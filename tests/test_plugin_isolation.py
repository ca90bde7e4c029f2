"""Broken plugins, installed as real distributions, are isolated; the environment switches work.

Each scenario runs in a fresh interpreter that sees the throw-away distributions
of ``plugin_dists`` (built and pip-installed once per session) next to the
editable fitcore and fitcore-engine-leastsq.
"""

from __future__ import annotations

import plugin_dists as pd
import pytest

pytestmark = pytest.mark.slow  # builds, pip-installs and runs fresh interpreters

CORE = "fitcore,fitcore-engine-leastsq,acme-fitting"
SCENARIOS = {
    "all": {"PROBE_SELECT": "twin,badimport,explodes,acme-gpu,future,shade,fc-twin-b:twin",
            "PROBE_FIT": "leastsq,acme-nm,fc-impostor:leastsq,fitcore-engine-leastsq:leastsq,fc-twin-a:twin",
            "PROBE_PROB": "f_test,fc-impostor:f_test,twin_prob,fc-twin-b:twin_prob"},
    "allow": {"FITCORE_LOAD_PLUGINS": "fitcore-engine-leastsq, fc_twin_a", "PROBE_SELECT": "acme-nm",
              "PROBE_FIT": "leastsq,twin"},
    "disabled": {"FITCORE_DISABLE_PLUGIN_AUTOLOAD": "1", "PROBE_SELECT": "leastsq"},
    "strict": {"FITCORE_STRICT_PLUGINS": "1"},
    "strict_clean": {"FITCORE_STRICT_PLUGINS": "1", "FITCORE_LOAD_PLUGINS": CORE},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every scenario's JSON report, the interpreters run side by side."""
    acme = pd.installed(tmp_path_factory, only=("acme-fitting",))
    site = pd.sites(acme, pd.installed(tmp_path_factory, exclude=("acme-fitting",)))
    procs = {name: pd.probe(site, **env) for name, env in SCENARIOS.items()}
    return {name: pd.probe_result(proc) for name, proc in procs.items()}


def _plugin_warnings(run):
    return [w["message"] for w in run["warnings"] if w["category"] in ("PluginWarning", "PluginConflictWarning")]


@pytest.mark.parametrize("dist", sorted(pd.BROKEN))
def test_each_broken_distribution_gives_exactly_one_warning(runs, dist):
    """A plugin broken at import/validate/hook/spec stage yields one warning naming plugin, distribution, stage."""
    plugin, stage = pd.BROKEN[dist]
    mine = [m for m in _plugin_warnings(runs["all"]) if f"'{dist}'" in m]
    assert len(mine) == 1, mine
    assert f"plugin '{plugin}'" in mine[0] and f"({stage})" in mine[0]
    row = next(r for r in runs["all"]["plugins"] if r["distribution"] == dist)
    assert (row["status"], row["stage"], row["plugin"]) == ("broken", stage, plugin)


def test_warning_says_what_went_wrong(runs):
    """The recorded errors carry the cause: missing module, bad argument, the hook's exception, the bad type."""
    errors = {r["distribution"]: r["error"] for r in runs["all"]["plugins"]}
    assert "fc_no_such_module" in errors["fc-bad-import"]
    assert "config" in errors["fc-bad-signature"]
    assert "license server unreachable" in errors["fc-bad-raises"]
    assert "yielded dict" in errors["fc-bad-type"] and "EngineSpec" in errors["fc-bad-type"]


def test_no_other_warnings_and_every_other_engine_works(runs):
    """Six broken plugins and four name clashes installed: ten warnings; every good engine fits."""
    run = runs["all"]
    assert len(_plugin_warnings(run)) == 10, run["warnings"]
    assert not [w for w in run["warnings"] if w["category"] not in ("PluginWarning", "PluginConflictWarning")
                and "fitcore" in w["message"]]
    assert {"leastsq", "acme-nm", "acme-heavy", "acme-gpu", "explodes", "twin", "umbra"} <= set(run["engines"])
    for name in ("leastsq", "acme-nm", "fc-impostor:leastsq", "fitcore-engine-leastsq:leastsq", "fc-twin-a:twin"):
        a, b, success, _ = run["fits"][name]
        assert success and a == pytest.approx(2.5, rel=1e-6) and b == pytest.approx(-1.3, rel=1e-6), name


def _conflict_warnings(run, name):
    return [w["message"] for w in run["warnings"]
            if w["category"] == "PluginConflictWarning" and f"name {name!r} is claimed by" in w["message"]]


def test_a_clash_with_a_shipped_engine_keeps_both_and_the_bare_name_selects_fitcores_own(runs):
    """A third party also claiming 'leastsq': the bare name is fitcore's engine, the other is 'fc-impostor:leastsq'."""
    run = runs["all"]
    (warning,) = _conflict_warnings(run, "leastsq")
    assert "the bare name selects fitcore's own fitcore-engine-leastsq" in warning
    assert "fitcore-engine-leastsq:leastsq" in warning and "fc-impostor:leastsq" in warning
    assert not run["fits"]["leastsq"][3].startswith("impostor")
    assert run["fits"]["fc-impostor:leastsq"][3].startswith("impostor: ")
    assert {"fitcore-engine-leastsq:leastsq", "fc-impostor:leastsq"} <= set(run["qualified"])
    row = {r["qualified_name"]: r for r in run["engine_rows"]}
    assert row["fitcore-engine-leastsq:leastsq"]["selected_by_name"] is True
    assert row["fc-impostor:leastsq"]["selected_by_name"] is False
    assert row["fc-impostor:leastsq"]["conflicts"] == ["fitcore-engine-leastsq:leastsq"]
    lines = run["engines_table"].splitlines()
    assert any(ln.startswith("leastsq ") and "name also claimed by fc-impostor:leastsq" in ln for ln in lines)
    assert any(ln.startswith("fc-impostor:leastsq ") and "conflict with fitcore-engine-leastsq:leastsq" in ln
               for ln in lines)


def test_a_clash_on_a_core_prob_func_keeps_the_core_one(runs):
    """'f_test' claimed again: the bare name is the core's, the other one is selectable by its qualified name."""
    run = runs["all"]
    assert len(_conflict_warnings(run, "f_test")) == 1
    assert run["f_test"] == "<probability function 'f_test' from distribution fitcore 0.1.0, checked>"
    assert run["prob"]["fc-impostor:f_test"].startswith("<probability function 'f_test' from distribution "
                                                         "fc-impostor 1.2.3")


def test_conflicting_name_is_one_warning_and_an_error_listing_qualified_names(runs):
    """Two third parties claiming 'twin': one warning; the bare name is refused, naming both qualified names."""
    run = runs["all"]
    (warning,) = _conflict_warnings(run, "twin")
    assert "fc-twin-a:twin and fc-twin-b:twin" in warning and "the bare name is ambiguous" in warning
    err = run["select"]["twin"]
    assert err["type"] == "EngineConflictError" and "EngineUnavailableError" in err["bases"]
    assert "'fc-twin-a:twin', 'fc-twin-b:twin'" in err["message"]
    assert run["select"]["fc-twin-b:twin"]["type"] is None
    rows = [r for r in run["engine_rows"] if r["name"] == "twin"]
    assert [(r["qualified_name"], r["selected_by_name"]) for r in rows] == [
        ("fc-twin-a:twin", False), ("fc-twin-b:twin", False)]
    assert run["engines_table"].count("conflict with") >= 2


def test_a_prob_func_claimed_by_two_third_parties_needs_its_qualified_name(runs):
    """'twin_prob' from two third parties: the bare name is refused listing both; a qualified name works."""
    run = runs["all"]
    assert len(_conflict_warnings(run, "twin_prob")) == 1
    assert run["prob"]["twin_prob"].startswith("ProbFuncConflictError: probability function 'twin_prob' is claimed")
    assert "'fc-twin-a:twin_prob', 'fc-twin-b:twin_prob'" in run["prob"]["twin_prob"]
    assert run["prob"]["fc-twin-b:twin_prob"].startswith("<probability function 'twin_prob' from distribution "
                                                         "fc-twin-b 1.2.3")


def test_an_alias_never_shadows_an_engine_name(runs):
    """'umbra' declares the aliases 'leastsq' and 'shade': 'leastsq' still selects the real engine, 'shade' umbra."""
    run = runs["all"]
    assert run["fits"]["leastsq"][3] and not run["fits"]["leastsq"][3].startswith("impostor")
    assert run["select"]["shade"]["type"] is None
    row = next(r for r in run["engine_rows"] if r["name"] == "umbra")
    assert row["aliases"] == ["leastsq", "shade"] and row["shadowed_aliases"] == ["leastsq"]
    line = next(ln for ln in run["engines_table"].splitlines() if ln.startswith("umbra"))
    assert line.startswith("umbra (shade) ")
    assert not _conflict_warnings(run, "shade")


def test_plugin_for_another_contract_is_listed_broken(runs):
    """A plugin stating fitcore_contract='>=2.0' is broken at stage 'contract'; selecting its engine says why."""
    run = runs["all"]
    row = next(r for r in run["plugins"] if r["distribution"] == "fc-bad-contract")
    assert (row["status"], row["stage"]) == ("broken", "contract")
    assert "written for fitcore plugin contract '>=2.0', and this fitcore implements contract 1.1" in row["error"]
    err = run["select"]["future"]
    assert err["type"] == "EngineUnavailableError" and "broken (contract)" in err["message"]


def test_bare_exception_names_its_file_and_line(runs):
    """A plugin raising a bare Exception at import is reported with the file and line, without strict mode."""
    row = next(r for r in runs["all"]["plugins"] if r["distribution"] == "fc-bare-exc")
    assert row["error"].startswith("Exception: (at "), row["error"]
    assert row["error"].endswith("fc_bare_exc/__init__.py:2)")


def test_selecting_a_broken_plugin_raises_its_recorded_error(runs):
    """Asking for the engine of a plugin that failed to import explains why, instead of 'unknown engine'."""
    err = runs["all"]["select"]["badimport"]
    assert err["type"] == "EngineUnavailableError"
    assert "fc-bad-import" in err["message"] and "import" in err["message"] and "fc_no_such_module" in err["message"]


def test_engine_exception_keeps_type_and_gains_note(runs):
    """An exception raised inside an engine keeps its own type and gets a note naming engine and distribution."""
    err = runs["all"]["select"]["explodes"]
    assert err["type"] == "ExplodeError" and err["module"] == "fc_explodes"
    assert "ArithmeticError" in err["bases"] and "matrix went singular" in err["message"]
    assert any("'explodes'" in n and "fc-explodes 1.2.3" in n for n in err["notes"]), err["notes"]
    assert err["params"] == [1.0, 0.0]  # the user's parameters are restored


def test_listing_does_not_import_engines_or_their_dependencies(runs):
    """Listing and fitting with other engines never imports a lazily declared engine module."""
    run = runs["all"]
    assert run["heavy_imported"] is False
    assert "acme-heavy" in run["engines"]


def test_missing_requirement_is_reported_with_install_hint(runs):
    """An engine whose required module is absent is listed as unavailable; selecting it says how to install."""
    err = runs["all"]["select"]["acme-gpu"]
    assert err["type"] == "EngineUnavailableError"
    assert "acme_gpu_backend" in err["message"] and "pip install acme-fitting[gpu]" in err["message"]


def test_allow_list_loads_only_named_distributions(runs):
    """FITCORE_LOAD_PLUGINS loads only the listed distributions (names normalized); the rest are blocked."""
    run = runs["allow"]
    assert _plugin_warnings(run) == []
    assert run["engines"] == ["leastsq", "twin"]
    assert run["fits"]["twin"][0] == pytest.approx(2.5, rel=1e-6)
    assert run["f_test"].startswith("<probability function 'f_test' from distribution fitcore ")
    status = {r["distribution"]: r["status"] for r in run["plugins"]}
    assert status["fc-twin-a"] == "active" and status["fc-twin-b"] == "blocked" and status["fc-bad-import"] == "blocked"
    err = run["select"]["acme-nm"]
    assert err["type"] == "EngineNotFoundError" and any("acme-fitting, blocked" in n for n in err["notes"])


def test_disable_autoload_loads_nothing(runs):
    """FITCORE_DISABLE_PLUGIN_AUTOLOAD=1 imports no plugin; all are listed as blocked, nothing warns."""
    run = runs["disabled"]
    assert run["engines"] == [] and _plugin_warnings(run) == []
    assert {r["status"] for r in run["plugins"] if r["distribution"] != "fitcore"} == {"blocked"}
    assert run["f_test"].startswith("<probability function 'f_test' from distribution fitcore ")
    assert "FITCORE_DISABLE_PLUGIN_AUTOLOAD" in run["select"]["leastsq"]["message"]


def test_strict_mode_raises_on_first_broken_plugin(runs):
    """FITCORE_STRICT_PLUGINS=1 turns the first broken plugin into a PluginError naming it."""
    err = runs["strict"]["strict_error"]
    assert err["type"] == "PluginError"
    assert (err["plugin"], err["distribution"], err["stage"]) == ("future", "fc-bad-contract", "contract")
    assert runs["strict"]["strict_cli_status"] == 2  # `fitcore engines` exits 2 with the error


def test_strict_mode_is_silent_when_all_plugins_are_good(runs):
    """Strict mode with only good plugins loads and fits normally."""
    run = runs["strict_clean"]
    assert "strict_error" not in run and _plugin_warnings(run) == []
    assert run["fits"]["acme-nm"][2] is True
