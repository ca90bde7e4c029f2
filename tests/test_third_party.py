"""Proof by a stranger's package: a distribution built in a temp dir is discovered, listed, used and conforms.

``acme-fitting`` (see ``plugin_dists``) has its own pyproject.toml and ``fitcore``
entry point, lives in no part of this repository, and is pip-installed into a
private directory that only the fresh interpreters started here can see.
"""

from __future__ import annotations

import json

import plugin_dists as pd
import pytest

pytestmark = pytest.mark.slow  # builds, pip-installs and runs fresh interpreters

SCRIPT = r"""
import json, sys, warnings
import numpy as np
warnings.simplefilter("error", UserWarning)  # fitcore warnings, PluginWarning included
import fitcore
from fitcore.testing import check_prob_func

rec = next(r for r in fitcore.list_plugins() if r.distribution == "acme-fitting")
x = np.linspace(0, 15, 301)
data = 14.0 * np.sin(3.0 * x + 0.21) * np.exp(-x * x * 0.01)
def residual(p):
    return p["amp"].value * np.sin(p["omega"].value * x + p["shift"].value) * np.exp(-x * x * p["decay"].value) - data
p = fitcore.Parameters()
p.add("amp", value=10); p.add("decay", value=0.02); p.add("shift", value=0.0); p.add("omega", value=3.05)
fit = fitcore.minimize(residual, p, engine="acme-nm")
print(json.dumps({
    "record": [rec.plugin, rec.version, rec.status, rec.engines, rec.prob_funcs],
    "engine_dist": fitcore.plugins.get_engine("acme-nm").distribution,
    "values": {k: p[k].value for k in p}, "success": fit.success, "engine": fit.engine,
    "stderr": p["omega"].stderr,
    "prob_kit": [r.status for r in check_prob_func("acme_chi2")],
    "heavy_imported": "acme_fitting.heavy" in sys.modules,
}))
"""


CLI = r"""
import runpy, sys
from fitcore.cli import main
main(["engines", "--json"])
print("=" * 20)
sys.argv = ["fitcore", "plugins"]
runpy.run_module("fitcore", run_name="__main__")
"""


@pytest.fixture(scope="module")
def acme(tmp_path_factory):
    """Run the script, `fitcore engines --json` + `python -m fitcore plugins`, and `fitcore check` side by side."""
    site = pd.installed(tmp_path_factory, only=("acme-fitting",))
    procs = {
        "script": pd.start_python(SCRIPT, site),
        "cli": pd.start_python(CLI, site),
        "check": pd.start_python("import sys; from fitcore.cli import main; sys.exit(main(['check', 'acme-nm']))",
                                 site),
    }
    out = {k: pd.finish(p) for k, p in procs.items()}
    cli_out, cli_err = out.pop("cli")
    engines, plugins = cli_out.split("=" * 20 + "\n")
    return {**out, "engines": (engines, cli_err), "plugins": (plugins, cli_err)}


def test_discovered_through_its_entry_point(acme):
    """fitcore finds the distribution, its version, and everything it registered."""
    out = json.loads(acme["script"][0])
    assert out["record"] == ["acme", "1.2.3", "active", ["acme-nm", "acme-heavy", "acme-gpu"], ["acme_chi2"]]
    assert out["engine_dist"] == "acme-fitting"


def test_fits_with_it_by_name(acme):
    """minimize(engine='acme-nm') recovers the damped sine's true values, with error bars."""
    out = json.loads(acme["script"][0])
    assert out["engine"] == "acme-nm" and out["success"] is True
    truth = {"amp": 14.0, "decay": 0.01, "shift": 0.21, "omega": 3.0}
    for name, value in truth.items():
        assert out["values"][name] == pytest.approx(value, rel=1e-5), name
    assert out["stderr"] is not None and out["stderr"] < 1e-6


def test_passes_the_kit(acme):
    """The stranger's engine and probability function pass the conformance kit, in-process and via the CLI."""
    assert json.loads(acme["script"][0])["prob_kit"] == ["pass"] * 4
    stdout, _ = acme["check"]
    assert stdout.strip().endswith("acme-nm: 10 of 10 checks passed"), stdout
    assert "FAIL" not in stdout and stdout.count("PASS") == 10


def test_listed_by_the_cli(acme):
    """`fitcore engines --json` lists its engines with distribution, version and availability."""
    rows = {r["name"]: r for r in json.loads(acme["engines"][0])}
    assert rows["acme-nm"]["distribution"] == "acme-fitting" and rows["acme-nm"]["version"] == "1.2.3"
    assert rows["acme-nm"]["objective"] == "scalar" and rows["acme-nm"]["status"] == "available"
    assert rows["acme-gpu"]["status"].startswith("unavailable: requires acme_gpu_backend")
    assert "leastsq" in rows


def test_listed_by_python_m_fitcore_plugins(acme):
    """`python -m fitcore plugins` shows the distribution as active with what it registered."""
    line = next(ln for ln in acme["plugins"][0].splitlines() if ln.startswith("acme-fitting"))
    assert "1.2.3" in line and "engine acme-nm" in line and "prob_func acme_chi2" in line and "active" in line


def test_lazy_engine_module_never_imported(acme):
    """Neither fitting with other engines nor running the kit imports an engine declared as 'module:attr'."""
    assert json.loads(acme["script"][0])["heavy_imported"] is False
    assert all("acme_fitting.heavy imported" not in err for _, err in acme.values())
