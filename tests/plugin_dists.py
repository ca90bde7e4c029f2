"""Throw-away plugin distributions, built and installed with pip for the subprocess tests.

Every distribution here has its own pyproject.toml and ``fitcore`` entry point,
is built into a wheel by setuptools' PEP 517 backend and installed (offline,
``--no-index``) in one pip call into a private ``--target`` directory that only the
fresh interpreters started by :func:`run_python` see. Built once per test
session and shared by every test file that needs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ACME_PLUGIN = '''
"""acme-fitting: a stranger's fitcore plugin (Nelder-Mead, a lazily imported engine, a prob func)."""
from fitcore import EngineSpec, ProbFuncSpec, hookimpl


@hookimpl
def fitcore_engines():
    yield EngineSpec(name="acme-nm", engine="acme_fitting.engine:nelder_mead",
                     summary="Nelder-Mead simplex on chi-square (scipy.optimize.minimize)",
                     objective="scalar", options={"xatol": 1e-10, "fatol": 1e-12})
    yield EngineSpec(name="acme-heavy", engine="acme_fitting.heavy:run", summary="needs a heavy library",
                     requires=("acme_fitting.heavy",))
    yield EngineSpec(name="acme-gpu", engine="acme_gpu_backend:run", summary="needs a missing library",
                     requires=("acme_gpu_backend",), install_hint="pip install acme-fitting[gpu]")


@hookimpl
def fitcore_prob_funcs():
    yield ProbFuncSpec("acme_chi2", "acme_fitting.engine:chi2_prob", "chi-square CDF of the raw increase")
'''

ACME_ENGINE = '''
import numpy as np
from scipy import optimize, stats

from fitcore import EngineResult


def nelder_mead(problem, xatol=1e-10, fatol=1e-12):
    res = optimize.minimize(problem.scalar, problem.x0.copy(), method="Nelder-Mead",
                            options={"xatol": xatol, "fatol": fatol, "maxiter": 20000, "maxfev": 20000})
    return EngineResult(x=np.asarray(res.x, dtype=float), success=bool(res.success), message=str(res.message),
                        status=int(res.status), nit=int(res.nit))


def chi2_prob(best, new):
    return float(stats.chi2.cdf(max(new.chisqr - best.chisqr, 0.0), best.nvarys - new.nvarys))
'''

ACME_HEAVY = '''
import sys
sys.stderr.write("acme_fitting.heavy imported\\n")
def run(problem):
    raise RuntimeError("never selected in the tests")
'''

_GOOD_ENGINE = '''
import numpy as np
from fitcore import EngineResult, EngineSpec, hookimpl
from scipy.optimize import least_squares


def run(problem):
    res = least_squares(problem.residual, problem.x0)
    return EngineResult(x=res.x, success=bool(res.success), message=res.message, status=int(res.status))


@hookimpl
def fitcore_engines():
    yield EngineSpec(name="{name}", engine=run, summary="{summary}")
'''

_TWIN_PROB = '''

from fitcore import ProbFuncSpec


@hookimpl
def fitcore_prob_funcs():
    yield ProbFuncSpec("twin_prob", lambda best, new: {value}, "a constant, claimed twice")
'''

#: distribution name -> (module name, entry-point name, module source)
DISTRIBUTIONS: dict[str, tuple[str, str, dict[str, str]]] = {
    "acme-fitting": ("acme_fitting", "acme", {
        "__init__.py": "", "plugin.py": ACME_PLUGIN, "engine.py": ACME_ENGINE, "heavy.py": ACME_HEAVY}),
    "fc-bad-import": ("fc_bad_import", "badimport", {
        "__init__.py": "import fc_no_such_module  # the plugin's own dependency is missing\n"}),
    "fc-bad-signature": ("fc_bad_signature", "badsig", {"__init__.py": textwrap.dedent('''
        from fitcore import EngineSpec, hookimpl

        @hookimpl
        def fitcore_engines(config):
            yield EngineSpec(name="badsig", engine="x:y", summary="wrong signature")
        ''')}),
    "fc-bad-raises": ("fc_bad_raises", "badraise", {"__init__.py": textwrap.dedent('''
        from fitcore import hookimpl

        @hookimpl
        def fitcore_engines():
            raise RuntimeError("license server unreachable")
        ''')}),
    "fc-bad-type": ("fc_bad_type", "badtype", {"__init__.py": textwrap.dedent('''
        from fitcore import hookimpl

        @hookimpl
        def fitcore_engines():
            yield {"name": "badtype", "engine": "fc_bad_type:run"}
        ''')}),
    "fc-twin-a": ("fc_twin_a", "twin", {"__init__.py": _GOOD_ENGINE.format(name="twin", summary="twin from a")
                                        + _TWIN_PROB.format(value=0.25)}),
    "fc-twin-b": ("fc_twin_b", "twin", {"__init__.py": _GOOD_ENGINE.format(name="twin", summary="twin from b")
                                        + _TWIN_PROB.format(value=0.75)}),
    "fc-explodes": ("fc_explodes", "explodes", {"__init__.py": textwrap.dedent('''
        from fitcore import EngineSpec, hookimpl

        class ExplodeError(ArithmeticError):
            """An engine-specific failure."""

        def run(problem):
            problem.residual(problem.x0 + 0.5)
            raise ExplodeError("matrix went singular at iteration 3")

        @hookimpl
        def fitcore_engines():
            yield EngineSpec(name="explodes", engine=run, summary="raises after one evaluation")
        ''')}),
    "fc-impostor": ("fc_impostor", "impostor", {"__init__.py": textwrap.dedent('''
        from fitcore import EngineSpec, ProbFuncSpec, hookimpl
        from fitcore.stats import f_test
        from scipy.optimize import least_squares
        from fitcore import EngineResult


        def run(problem):
            res = least_squares(problem.residual, problem.x0)
            return EngineResult(x=res.x, success=bool(res.success), message="impostor: " + res.message,
                                status=int(res.status))


        @hookimpl
        def fitcore_engines():
            yield EngineSpec(name="leastsq", engine=run, summary="another engine called leastsq")


        @hookimpl
        def fitcore_prob_funcs():
            yield ProbFuncSpec("f_test", f_test, "another f_test")
        ''')}),
    "fc-shadow": ("fc_shadow", "shadow", {"__init__.py": _GOOD_ENGINE.format(name="umbra", summary="umbra").replace(
        'summary="umbra")', 'summary="umbra", aliases=("leastsq", "shade"))')}),
    "fc-bad-contract": ("fc_bad_contract", "future", {"__init__.py": "fitcore_contract = '>=2.0'\n" + \
                        _GOOD_ENGINE.format(name="future", summary="written for contract 2")}),
    "fc-bare-exc": ("fc_bare_exc", "bare", {"__init__.py": "# a plugin failing with a bare exception\n"
                                                            "raise Exception()\n"}),
}
#: what each broken distribution does wrong: distribution -> (plugin, stage)
BROKEN = {
    "fc-bad-contract": ("future", "contract"),
    "fc-bare-exc": ("bare", "import"),
    "fc-bad-import": ("badimport", "import"),
    "fc-bad-signature": ("badsig", "validate"),
    "fc-bad-raises": ("badraise", "hook"),
    "fc-bad-type": ("badtype", "spec"),
}

_CACHE: dict[str, Path] = {}


def write_project(root: Path, dist: str, module: str, entry: str, files: dict[str, str]) -> Path:
    """Write a minimal setuptools project with one ``fitcore`` entry point; return its directory."""
    proj = root / dist
    (proj / module).mkdir(parents=True)
    target = f"{module}.plugin" if "plugin.py" in files else module
    (proj / "pyproject.toml").write_text(textwrap.dedent(f'''
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{dist}"
        version = "1.2.3"
        dependencies = ["fitcore"]

        [project.entry-points.fitcore]
        {entry} = "{target}"

        [tool.setuptools]
        packages = ["{module}"]
        '''))
    for name, src in files.items():
        (proj / module / name).write_text(src)
    return proj


_BUILD = r"""
import contextlib, io, os, sys
import setuptools.build_meta as backend
out = os.path.abspath(sys.argv[1])
for project in sys.argv[2:]:
    os.chdir(project)
    with contextlib.redirect_stdout(io.StringIO()):
        backend.build_wheel(out)
"""


def build_wheels(projects: list[Path], wheels: Path) -> list[Path]:
    """Build wheels of local projects with setuptools' PEP 517 backend, as ``pip install`` would.

    All in one interpreter rather than two per project, which keeps this fast.
    """
    build = subprocess.run([sys.executable, "-c", _BUILD, str(wheels), *map(str, projects)],
                           capture_output=True, text=True, timeout=300)
    if build.returncode != 0:
        raise RuntimeError(f"building wheels failed:\n{build.stderr}")
    return sorted(wheels.glob("*.whl"))


def pip_install(wheels: list[Path], target: Path) -> None:
    """Install wheels into ``target`` with one offline pip call."""
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
           "--disable-pip-version-check", "--target", str(target), *map(str, wheels)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"pip install failed:\n{proc.stdout}\n{proc.stderr}")


def _wheels(tmp_path_factory: Any) -> dict[str, Path]:
    if "wheels" not in _CACHE:
        root = tmp_path_factory.mktemp("plugin_dists")
        projects = [write_project(root / "src", d, m, e, f) for d, (m, e, f) in DISTRIBUTIONS.items()]
        _CACHE["wheels"] = root / "wheels"
        _CACHE["root"] = root
        build_wheels(projects, root / "wheels")
    by_dist = {}
    for whl in _CACHE["wheels"].glob("*.whl"):
        by_dist[whl.name.split("-")[0].replace("_", "-")] = whl
    return by_dist


def installed(tmp_path_factory: Any, only: tuple[str, ...] | None = None, exclude: tuple[str, ...] = ()) -> Path:
    """Install (once) the distributions of :data:`DISTRIBUTIONS`, or ``only`` these, into a private site."""
    wheels = _wheels(tmp_path_factory)
    chosen = sorted(d for d in wheels if (only is None or d in only) and d not in exclude)
    key = "site-" + ",".join(chosen)
    if key not in _CACHE:
        site = _CACHE["root"] / f"site{len(_CACHE)}"
        pip_install([wheels[d] for d in chosen], site)
        _CACHE[key] = site
    return _CACHE[key]


def sites(*paths: Path) -> str:
    """Several sites as one PYTHONPATH entry list."""
    return os.pathsep.join(map(str, paths))


def python_env(site: Path | str | None, **env: str) -> dict[str, str]:
    """An environment whose interpreter also sees ``site``, with fitcore's switches cleared then set."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("FITCORE_")}
    if site is not None:
        out["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])
    out.update(env)
    return out


def start_python(code: str, site: Path | str | None, cwd: Path | None = None, **env: str) -> subprocess.Popen[str]:
    """Start a fresh interpreter running ``code`` (collect it with :func:`finish`)."""
    return subprocess.Popen([sys.executable, "-c", code], env=python_env(site, **env), cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Wait for a process from :func:`start_python`; fail with its stderr if it failed."""
    out, err = proc.communicate(timeout=300)
    if proc.returncode != 0:
        raise AssertionError(f"subprocess failed ({proc.returncode}):\n{err}\n{out}")
    return out, err


#: run in a fresh interpreter: load plugins, fit with every usable engine, report as JSON
PROBE = r'''
import json, os, sys, warnings
import numpy as np
warnings.simplefilter("always")
out = {"warnings": [], "select": {}, "fits": {}}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import fitcore
    from fitcore.cli import plugin_rows
    try:
        infos = fitcore.list_engines()
        engines = [e.name for e in infos]
        out["qualified"] = [e.qualified_name for e in infos]
    except fitcore.PluginError as exc:
        out["strict_error"] = {"type": type(exc).__name__, "plugin": exc.plugin,
                               "distribution": exc.distribution, "stage": exc.stage, "message": str(exc)}
        engines = None
        import io
        from fitcore.cli import main
        out["strict_cli_status"] = main(["engines"], out=io.StringIO())
out["warnings"] = [{"category": w.category.__name__, "message": str(w.message)} for w in caught]
if engines is not None:
    out["engines"] = engines
    out["plugins"] = plugin_rows()
    from fitcore.cli import engine_rows
    out["engine_rows"] = engine_rows()
    import io
    from fitcore.cli import main
    table = io.StringIO()
    main(["engines"], out=table)
    out["engines_table"] = table.getvalue()
    out["f_test"] = repr(fitcore.plugins.get_prob_func("f_test"))
    for name in os.environ.get("PROBE_PROB", "").split(","):
        if name:
            try:
                out.setdefault("prob", {})[name] = repr(fitcore.plugins.get_prob_func(name))
            except Exception as exc:
                out.setdefault("prob", {})[name] = f"{type(exc).__name__}: {exc}"
    x = np.linspace(0, 10, 21)
    data = 2.5 * x - 1.3
    for name in os.environ.get("PROBE_FIT", "leastsq,acme-nm").split(","):
        if name not in engines and name not in out["qualified"]:
            continue
        p = fitcore.Parameters(); p.add("a", value=1.0); p.add("b", value=0.0)
        fit = fitcore.minimize(lambda p: p["a"].value * x + p["b"].value - data, p, engine=name)
        out["fits"][name] = [p["a"].value, p["b"].value, bool(fit.success), fit.lmdif_message]
    for name in os.environ.get("PROBE_SELECT", "").split(","):
        if not name:
            continue
        try:
            p = fitcore.Parameters(); p.add("a", value=1.0); p.add("b", value=0.0)
            fitcore.minimize(lambda p: p["a"].value * x + p["b"].value - data, p, engine=name)
            out["select"][name] = {"type": None}
        except Exception as exc:
            out["select"][name] = {"type": type(exc).__name__, "module": type(exc).__module__,
                                   "bases": [b.__name__ for b in type(exc).__mro__],
                                   "message": str(exc), "notes": getattr(exc, "__notes__", []),
                                   "params": [p["a"].value, p["b"].value]}
    out["heavy_imported"] = "acme_fitting.heavy" in sys.modules
print(json.dumps(out))
'''


def probe(site: Path | str | None, **env: str) -> subprocess.Popen[str]:
    """Start :data:`PROBE` in a fresh interpreter."""
    return start_python(PROBE, site, **env)


def probe_result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """The JSON report of a :func:`probe` process."""
    out, _ = finish(proc)
    return json.loads(out.strip().splitlines()[-1])
