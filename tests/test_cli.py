"""The ``fitcore`` command: engines, plugins, check; tables and JSON; console script and python -m."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fitcore import EngineResult, EngineSpec, hookimpl, plugins
from fitcore.cli import main
from fitcore.errors import PluginWarning

pytestmark = pytest.mark.usefixtures("fresh_registry")


def run(*argv):
    """Run the command in-process; return (exit status, stdout)."""
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


def _anneal_like(problem, **_):
    return EngineResult(x=problem.x0.copy(), success=False, message="does nothing")


class GlobalPlugin:
    @hookimpl
    def fitcore_engines(self):
        yield EngineSpec("globe", _anneal_like, "a global search", bounds="required_finite", is_global=True,
                         stochastic=True, provides_covariance=True, aliases=("world",))


class Broken:
    @hookimpl
    def fitcore_engines(self):
        raise RuntimeError("boom at load")


def test_engines_table():
    """The table has the promised columns and a row for leastsq with its distribution and capabilities."""
    plugins.register(GlobalPlugin(), name="globe-plugin")
    status, out = run("engines")
    assert status == 0
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "DISTRIBUTION", "BOUNDS", "SCOPE", "STOCHASTIC", "COVARIANCE", "STATUS"]
    leastsq = next(r for r in rows if r.startswith("leastsq "))
    assert leastsq.split() == ["leastsq", "fitcore-engine-leastsq", "0.1.0", "transform", "local", "no", "no",
                               "available"]
    globe = next(r for r in rows if r.startswith("globe "))
    assert globe.split() == ["globe", "(world)", "(runtime)", "required_finite", "global", "yes", "yes", "available"]


def test_engines_json_and_where_filter():
    """--json gives every capability; --where filters like list_engines(**filters)."""
    plugins.register(GlobalPlugin(), name="globe-plugin")
    status, out = run("engines", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert status == 0
    assert rows["leastsq"]["options"]["xtol"] == 1e-7 and rows["leastsq"]["objective"] == "residuals"
    assert rows["globe"]["aliases"] == ["world"] and rows["globe"]["is_global"] is True
    status, out = run("engines", "--json", "--where", "is_global=true", "--where", "provides_covariance=yes")
    assert [r["name"] for r in json.loads(out)] == ["globe"]
    status, out = run("engines", "--where", "is_global=false", "--where", "bounds=transform")
    assert "leastsq" in out and "globe" not in out


def test_where_rejects_unknown_capability(capsys):
    """A misspelt capability exits with status 2 and says which key was wrong."""
    with pytest.raises(SystemExit) as info:
        main(["engines", "--where", "global=true"])
    assert info.value.code == 2
    assert "unknown capability 'global'" in capsys.readouterr().err


def test_plugins_table_shows_status_and_what_was_registered():
    """Active plugins show what they registered; a broken one shows stage and error."""
    with pytest.warns(PluginWarning):
        plugins.register(Broken(), name="loader")
    status, out = run("plugins")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["DISTRIBUTION", "VERSION", "PLUGIN", "REGISTERED", "STATUS"]
    core = next(ln for ln in lines if ln.startswith("fitcore ") and "builtin_stats" in ln)
    assert "builtin_stats" in core and "prob_func f_test, prob_func likelihood_ratio" in core and "active" in core
    assert "engine leastsq" in next(ln for ln in lines if ln.startswith("fitcore-engine-leastsq"))
    broken = next(ln for ln in lines if "loader" in ln)
    assert "broken (hook): fitcore_engines() raised RuntimeError: boom at load" in broken


def test_plugins_json():
    """--json lists each plugin with engines, prob_funcs, status, stage and error."""
    status, out = run("plugins", "--json")
    rows = {r["plugin"]: r for r in json.loads(out)}
    assert rows["leastsq"] == {"distribution": "fitcore-engine-leastsq", "version": "0.1.0", "plugin": "leastsq",
                               "engines": ["leastsq"], "prob_funcs": [], "models": [], "status": "active",
                               "stage": None, "error": None}
    assert rows["builtin_models"]["distribution"] == "fitcore" and "gaussian" in rows["builtin_models"]["models"]


def test_blocked_plugins_are_shown(monkeypatch):
    """With an allow-list, the other distributions appear as blocked, with the reason."""
    monkeypatch.setenv("FITCORE_LOAD_PLUGINS", "fitcore")
    _, out = run("plugins")
    line = next(ln for ln in out.splitlines() if ln.startswith("fitcore-engine-leastsq"))
    assert "blocked: fitcore-engine-leastsq is not in FITCORE_LOAD_PLUGINS=fitcore" in line
    _, out = run("engines")
    assert out.splitlines()[1:] == []


def test_check_subcommand_passes_shipped_prob_funcs():
    """`fitcore check f_test likelihood_ratio --prob-func` passes every check, exit 0."""
    status, out = run("check", "f_test", "likelihood_ratio", "--prob-func")
    assert "f_test: 4 of 4 checks passed" in out
    assert status == 0 and out.strip().endswith("likelihood_ratio: 4 of 4 checks passed")


def test_check_subcommand_fails_a_bad_engine():
    """A non-conforming engine makes `fitcore check` exit 1 and print each failure."""
    plugins.register(GlobalPlugin(), name="globe-plugin")
    status, out = run("check", "globe")
    assert status == 1
    assert "FAIL  recovers_linear:" in out and "of 13 checks passed" in out


def test_check_takes_a_qualified_name():
    """`fitcore check <distribution>:<name>` runs the kit on that distribution's engine."""
    status, out = run("check", "fitcore-engine-leastsq:leastsq")
    assert status == 0 and out.strip().endswith("fitcore-engine-leastsq:leastsq: 10 of 10 checks passed"), out


def test_check_needs_names_or_all(capsys):
    """`fitcore check` with neither names nor --all (or both) is a usage error."""
    assert main(["check"]) == 2 and main(["check", "--all", "leastsq"]) == 2
    assert "give engine names, or --all" in capsys.readouterr().err


def test_check_unknown_engine_is_a_clear_error(capsys):
    """An unknown name exits 2 with the installed list."""
    assert main(["check", "nope"]) == 2
    assert "Installed engines: " in capsys.readouterr().err


def test_console_script_and_python_m():
    """The installed `fitcore` script and `python -m fitcore` both run."""
    script = Path(sys.executable).with_name("fitcore")
    assert script.exists(), "run `make setup` to install the console script"
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for cmd in ([str(script), "--version"], [sys.executable, "-m", "fitcore", "engines"])]
    (v_out, _), (e_out, e_err) = (p.communicate(timeout=120) for p in procs)
    assert all(p.returncode == 0 for p in procs), e_err
    assert v_out.strip().startswith("fitcore ") and "leastsq" in e_out
    assert np.all([col in e_out for col in ("NAME", "DISTRIBUTION", "STATUS")])


def test_prob_funcs_table_and_json():
    """`fitcore prob-funcs` lists the core's functions with their distribution; --json gives qualified names."""
    status, out = run("prob-funcs")
    header, *rows = out.splitlines()
    assert status == 0 and header.split() == ["NAME", "DISTRIBUTION", "SUMMARY"]
    assert rows[0].split()[:3] == ["f_test", "fitcore", "0.1.0"] and rows[1].startswith("likelihood_ratio ")
    _, out = run("prob-funcs", "--json")
    assert [(r["qualified_name"], r["selected_by_name"], r["conflicts"]) for r in json.loads(out)] == [
        ("fitcore:f_test", True, []), ("fitcore:likelihood_ratio", True, [])]


def test_engines_json_lists_qualified_names_and_aliases():
    """Each engine row carries the qualified name that always selects it and the aliases it declares."""
    _, out = run("engines", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["lbfgsb"]["qualified_name"] == "fitcore-engine-lbfgsb:lbfgsb"
    assert rows["lbfgsb"]["aliases"] == ["l-bfgs-b"] and rows["lbfgsb"]["shadowed_aliases"] == []
    assert rows["leastsq"]["selected_by_name"] is True and rows["leastsq"]["conflicts"] == []


def test_import_and_listing_stay_light():
    """``import fitcore`` and listing the engines import no part of scipy; the first fit imports what it needs."""
    code = (
        "import sys, fitcore\n"
        "scipy = lambda: sorted(m for m in sys.modules if m.startswith('scipy'))\n"
        "assert not scipy(), scipy()[:5]\n"
        "names = [e.name for e in fitcore.list_engines()]\n"
        "assert 'leastsq' in names and 'lbfgsb' in names, names\n"
        "assert not scipy(), scipy()[:5]\n"
        "p = fitcore.Parameters(); p.add('a', value=1.0)\n"
        "fit = fitcore.minimize(lambda q: [q['a'].value - 2.0, q['a'].value - 2.2], p)\n"
        "assert fit.success and abs(p['a'].value - 2.1) < 1e-9 and 'scipy.optimize' in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
