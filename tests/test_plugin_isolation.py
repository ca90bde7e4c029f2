"""Broken plugins, installed as real distributions, are isolated; the environment switches work.

Each scenario runs in a fresh interpreter that sees the throw-away distributions
of ``plugin_dists`` (built and pip-installed once per session) next to the
editable fitcore and fitcore-engine-leastsq.
"""

from __future__ import annotations

import pytest

import plugin_dists as pd

CORE = "fitcore,fitcore-engine-leastsq,acme-fitting"
SCENARIOS = {
    "all": {"PROBE_SELECT": "twin,badimport,explodes,acme-gpu"},
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
    return [w["message"] for w in run["warnings"] if w["category"] == "PluginWarning"]


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
    """With four broken plugins and a name conflict installed, only five warnings; the good engines fit."""
    run = runs["all"]
    assert len(_plugin_warnings(run)) == 5, run["warnings"]
    assert not [w for w in run["warnings"] if w["category"] != "PluginWarning" and "fitcore" in w["message"]]
    assert {"leastsq", "acme-nm", "acme-heavy", "acme-gpu", "explodes"} <= set(run["engines"])
    for name in ("leastsq", "acme-nm"):
        a, b, success = run["fits"][name]
        assert success and a == pytest.approx(2.5, rel=1e-6) and b == pytest.approx(-1.3, rel=1e-6), name


def test_conflicting_name_is_one_warning_and_an_error_naming_both(runs):
    """Two distributions claiming 'twin': one warning, and selecting 'twin' names both distributions."""
    run = runs["all"]
    mine = [m for m in _plugin_warnings(run) if "'twin'" in m and "conflict" in m]
    assert len(mine) == 1 and "fc-twin-a" in mine[0] and "fc-twin-b" in mine[0]
    assert "twin" not in run["engines"]
    err = run["select"]["twin"]
    assert err["type"] == "EngineUnavailableError"
    assert "fc-twin-a" in err["message"] and "fc-twin-b" in err["message"]
    row = next(r for r in run["engine_rows"] if r["name"] == "twin")
    assert row["status"].startswith("conflict: claimed by fc-twin-a") and "fc-twin-b" in row["status"]


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
    status = {r["distribution"]: r["status"] for r in run["plugins"]}
    assert status["fc-twin-a"] == "active" and status["fc-twin-b"] == "blocked" and status["fc-bad-import"] == "blocked"
    err = run["select"]["acme-nm"]
    assert err["type"] == "EngineNotFoundError" and any("acme-fitting, blocked" in n for n in err["notes"])


def test_disable_autoload_loads_nothing(runs):
    """FITCORE_DISABLE_PLUGIN_AUTOLOAD=1 imports no plugin; all are listed as blocked, nothing warns."""
    run = runs["disabled"]
    assert run["engines"] == [] and _plugin_warnings(run) == []
    assert {r["status"] for r in run["plugins"]} == {"blocked"}
    assert "FITCORE_DISABLE_PLUGIN_AUTOLOAD" in run["select"]["leastsq"]["message"]


def test_strict_mode_raises_on_first_broken_plugin(runs):
    """FITCORE_STRICT_PLUGINS=1 turns the first broken plugin into a PluginError naming it."""
    err = runs["strict"]["strict_error"]
    assert err["type"] == "PluginError"
    assert (err["plugin"], err["distribution"], err["stage"]) == ("badimport", "fc-bad-import", "import")
    assert runs["strict"]["strict_cli_status"] == 2  # `fitcore engines` exits 2 with the error


def test_strict_mode_is_silent_when_all_plugins_are_good(runs):
    """Strict mode with only good plugins loads and fits normally."""
    run = runs["strict_clean"]
    assert "strict_error" not in run and _plugin_warnings(run) == []
    assert run["fits"]["acme-nm"][2] is True
