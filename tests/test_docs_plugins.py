"""docs/plugins.md cannot rot: every code block in it is built, installed or run here.

``# file: PATH`` blocks are written into a fresh project directory; the project
is installed with ``pip install .`` (offline, into a private ``--target``);
every ``$ command`` of the console blocks is run in it; every other Python
block runs, in order, in one fresh interpreter that sees the installed package.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import plugin_dists as pd
import pytest

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```\s*$", re.M | re.S)


def blocks() -> list[tuple[str, str]]:
    """(language, source) of every fenced block of the guide, in order."""
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(GUIDE.read_text())]


def _file_of(src: str) -> str | None:
    first = src.splitlines()[0] if src.strip() else ""
    m = re.match(r"#\s*file:\s*(\S+)", first)
    return m.group(1) if m else None


def _command(line: str, site: Path) -> list[str]:
    args = line.split()
    if args[:2] == ["pip", "install"]:
        return [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
                "--disable-pip-version-check", "--target", str(site), *args[2:]]
    if args[0] == "fitcore":
        script = Path(sys.executable).with_name("fitcore")
        return [str(script) if script.exists() else sys.executable, *([] if script.exists() else ["-m", "fitcore"]),
                *args[1:]]
    if args[:3] == ["python", "-m", "pytest"]:
        return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args[3:]]
    raise AssertionError(f"the guide runs a command this test does not know how to run: {line!r}")


@pytest.fixture(scope="module")
def guide(tmp_path_factory):
    """Write the guide's files, install the project, run its commands and its Python blocks."""
    root = tmp_path_factory.mktemp("guide")
    project, site = root / "fitcore-trf", root / "site"
    snippets, commands = [], []
    for lang, src in blocks():
        path = _file_of(src)
        if path is not None:
            (project / path).parent.mkdir(parents=True, exist_ok=True)
            (project / path).write_text(src)
        elif lang == "python":
            snippets.append(src)
        elif lang == "console":
            commands += [ln[2:] for ln in src.splitlines() if ln.startswith("$ ")]
        else:
            raise AssertionError(f"a {lang} block without '# file:' that this test cannot run:\n{src}")
    install, rest = commands[0], commands[1:]
    assert install == "pip install ."
    done = subprocess.run(_command(install, site), cwd=project, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    env = pd.python_env(site)
    procs = [(c, subprocess.Popen(_command(c, site), cwd=project, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)) for c in rest]
    script = "\n\n".join(snippets)
    elsewhere = root / "elsewhere"  # not the project dir, so fitcore_trf is imported from the installed site
    elsewhere.mkdir()
    snippet_proc = pd.start_python(script, site, cwd=elsewhere)
    results = {c: (p.wait(timeout=300), *p.communicate()) for c, p in procs}
    results["python blocks"] = (snippet_proc.wait(timeout=300), *snippet_proc.communicate())
    return {"project": project, "site": site, "results": results, "snippets": snippets, "commands": commands}


def test_guide_has_every_promised_part():
    """The guide has an engine module, a pyproject with the entry point, a prob func, the kit, console commands."""
    files = {_file_of(src): src for _, src in blocks() if _file_of(src)}
    assert set(files) == {"fitcore_trf/__init__.py", "pyproject.toml", "tests/test_conformance.py",
                          "fitcore_trf/stats.py", "fitcore_trf/robust.py"}
    assert '[project.entry-points.fitcore]' in files["pyproject.toml"]
    assert "fitcore_prob_funcs" in files["fitcore_trf/stats.py"]
    assert "least_squares=plain_sum_of_squares" in files["fitcore_trf/robust.py"]


def _reference_table(heading: str) -> set[str]:
    """The backquoted names in the first column of the reference table under ``heading``."""
    text = GUIDE.read_text()
    section = text[text.index(heading):]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("### ") or line.startswith("## "):
            break
        if line.startswith("| `"):
            rows.append(line.split("|")[1])
    return set(re.findall(r"`(\w+)`", " ".join(rows)))


@pytest.mark.parametrize(("heading", "cls", "extra"), [
    ("### `Problem`", "Problem", {"nvar", "nfev"}),
    ("### `EngineResult`", "EngineResult", set()),
    ("### `EngineSpec`", "EngineSpec", set()),
    ("### `ProbFuncSpec`", "ProbFuncSpec", set()),
])
def test_reference_documents_every_field(heading, cls, extra):
    """Every public field of Problem, EngineResult, EngineSpec and ProbFuncSpec has a row in the reference."""
    import dataclasses

    import fitcore

    fields = {f.name for f in dataclasses.fields(getattr(fitcore, cls)) if not f.name.startswith("_")} | extra
    assert fields == _reference_table(heading)


def test_reference_lists_the_reserved_option_names():
    """The reserved-options paragraph names exactly fitcore.specs.CORE_OPTIONS."""
    from fitcore.specs import CORE_OPTIONS

    text = GUIDE.read_text()
    paragraph = text[text.index("### Reserved option names"):text.index("### `ProbFuncSpec`")]
    assert set(re.findall(r"`(\w+)`", paragraph)) - {"CORE_OPTIONS"} == set(CORE_OPTIONS)


def test_engine_plugin_is_under_50_lines():
    """The complete engine plugin of section 2 is shorter than 50 lines."""
    src = next(s for _, s in blocks() if _file_of(s) == "fitcore_trf/__init__.py")
    assert len(src.splitlines()) < 50


@pytest.mark.slow
def test_pyproject_builds_and_installs_a_distribution(guide):
    """`pip install .` of the guide's project installs fitcore-trf 0.1.0 with both entry points."""
    dist = next(guide["site"].glob("fitcore_trf-0.1.0.dist-info"))
    eps = (dist / "entry_points.txt").read_text()
    assert "[fitcore]" in eps and "trf = fitcore_trf" in eps and "trf_stats = fitcore_trf.stats" in eps
    assert "trf_robust = fitcore_trf.robust" in eps


@pytest.mark.slow
@pytest.mark.parametrize("command", ["fitcore engines", "fitcore plugins", "fitcore engines --where bounds=native "
                                     "--json", "python -m pytest -q tests/test_conformance.py", "fitcore check trf"])
def test_every_console_command_succeeds(guide, command):
    """Each command of the guide exits 0 and its output mentions the new plugin."""
    assert command in guide["commands"]
    code, out, err = guide["results"][command]
    assert code == 0, f"{command}:\n{out}\n{err}"
    if command.startswith("fitcore"):
        assert "trf" in out
    if command.endswith("--json"):
        import json

        rows = json.loads(out)
        assert [r["name"] for r in rows if r["distribution"] == "fitcore-trf"] == ["trf", "trf-robust"]
        assert all(r["bounds"] == "native" for r in rows)


@pytest.mark.slow
def test_pytest_ran_one_test_per_check(guide):
    """The guide's parametrize_with_checks test runs every applicable check and they all pass."""
    code, out, _ = guide["results"]["python -m pytest -q tests/test_conformance.py"]
    assert code == 0 and re.search(r"\b15 passed\b", out), out


@pytest.mark.slow
def test_every_python_block_runs(guide):
    """The guide's Python blocks (fit by name, run the kit, prob func, run-time registration) run without error."""
    code, out, err = guide["results"]["python blocks"]
    assert code == 0, err
    assert "tau:" in out and "spec_valid" in out and "engine objective" in out
