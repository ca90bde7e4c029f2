#!/usr/bin/env bash
# Install fitcore as a user does, from the files this repository builds.
#
# 1. Build the sdist of every distribution in the repository (the core and every plugins/*), then
#    the wheel from each unpacked sdist (so a file missing from an sdist fails here).
# 2. In a clean virtual environment (no editable installs): the third-party requirements come from
#    the package index; our own distributions only from the built files (--no-index --find-links).
# 3. `pip install fitcore` alone: the default engine works, and an engine shipped separately is
#    refused naming the distribution to install.
# 4. `pip install fitcore[all]`: every distribution under plugins/ is installed, and one fit with
#    each installed engine recovers a straight line.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
BUILD_PY=${BUILD_PY:-$ROOT/.venv/bin/python}   # Python 3.11+ (tomllib) with setuptools>=61
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/sdist" "$WORK/dist" "$WORK/src"

projects=("$ROOT")
for p in "$ROOT"/plugins/*/pyproject.toml; do projects+=("$(dirname "$p")"); done

echo "== building ${#projects[@]} distributions"
"$BUILD_PY" - "$WORK" "${projects[@]}" <<'EOF'
import contextlib, io, os, shutil, sys, tarfile
import setuptools.build_meta as backend

work, projects = sys.argv[1], sys.argv[2:]
for project in projects:
    os.chdir(project)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        sdist = backend.build_sdist(os.path.join(work, "sdist"))
    with tarfile.open(os.path.join(work, "sdist", sdist)) as tar:
        tar.extractall(os.path.join(work, "src"), filter="data")
    unpacked = os.path.join(work, "src", sdist[: -len(".tar.gz")])
    os.chdir(unpacked)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        wheel = backend.build_wheel(os.path.join(work, "dist"))
    shutil.copy(os.path.join(work, "sdist", sdist), os.path.join(work, "dist"))
    print(f"   {sdist}  ->  {wheel}")
EOF

echo "== clean environment"
"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install --quiet --upgrade pip
# third-party requirements of every distribution, from the package index
"$BUILD_PY" - "${projects[@]}" > "$WORK/requirements.txt" <<'EOF'
import sys, tomllib
ours, reqs = set(), []
for project in sys.argv[1:]:
    meta = tomllib.load(open(f"{project}/pyproject.toml", "rb"))["project"]
    ours.add(meta["name"])
    reqs += meta.get("dependencies", [])
import re
print("\n".join(sorted({r for r in reqs if re.split(r"[<>=!~\[ ;]", r)[0] not in ours})))
EOF
"$VPY" -m pip install --quiet -r "$WORK/requirements.txt"

echo "== pip install fitcore"
"$VPY" -m pip install --quiet --no-index --find-links "$WORK/dist" fitcore
"$VPY" -m pip list 2>/dev/null | grep -i '^fitcore' | sed 's/^/   /'
cd "$WORK"   # away from the source tree, so only the installed packages are importable
"$VPY" - <<'EOF'
import numpy as np
import fitcore

x = np.linspace(0, 10, 21)
p = fitcore.Parameters(); p.add("a", value=1.0); p.add("b", value=0.0)
fit = fitcore.minimize(lambda p: p["a"].value * x + p["b"].value - (2.5 * x - 1.3), p)
assert fit.success and abs(p["a"].value - 2.5) < 1e-8, fit.message
engines = [e.name for e in fitcore.list_engines()]
assert engines == ["leastsq"], engines
try:
    fitcore.minimize(lambda p: p["a"].value * x - x, p, engine="lbfgsb")
except fitcore.EngineNotFoundError as exc:
    assert "pip install fitcore-engine-lbfgsb" in str(exc), exc
else:
    raise AssertionError("lbfgsb is not installed, yet selecting it did not fail")
print("   default engine fits; a missing engine names its distribution")
EOF

echo "== pip install fitcore[all]"
"$VPY" -m pip install --quiet --no-index --find-links "$WORK/dist" "fitcore[all]"
"$BUILD_PY" - "$ROOT" > "$WORK/expected.txt" <<'EOF'
import glob, sys, tomllib
for path in sorted(glob.glob(f"{sys.argv[1]}/plugins/*/pyproject.toml")):
    print(tomllib.load(open(path, "rb"))["project"]["name"])
EOF
"$VPY" - "$WORK/expected.txt" <<'EOF'
import importlib.metadata as md
import sys

import numpy as np
import fitcore

expected = open(sys.argv[1]).read().split()
missing = [d for d in expected if not any(True for _ in md.distributions(name=d))]
assert not missing, f"fitcore[all] did not install {missing}"
x = np.linspace(0, 10, 21)


def line(p, x, y):
    return p["a"].value * x + p["b"].value - y


for info in fitcore.list_engines():
    p = fitcore.Parameters()
    p.add("a", value=1.0, min=-10, max=10)
    p.add("b", value=0.0, min=-10, max=10)
    kws = {"seed": 1} if info.spec.stochastic else {}
    if info.spec.batched:  # many fits at once: two lines through fit_many
        fits = fitcore.fit_many(line, p, [(x, 2.5 * x - 1.3), (x, -0.5 * x + 2.0)], vectorized=True,
                                engine=info.qualified_name)
        a, b = fits.values("a"), fits.values("b")
        print(f"   {info.qualified_name:40s} a={a.tolist()} b={b.tolist()} success={fits.success.tolist()}")
        assert np.allclose(a, [2.5, -0.5], atol=1e-4) and np.allclose(b, [-1.3, 2.0], atol=1e-4), info.name
        continue
    if info.name == "emcee":  # a sampler starts from a previous fit, as its docs say
        fitcore.minimize(line, p, args=(x, 2.5 * x - 1.3))
        kws.update(steps=300)
    fit = fitcore.minimize(line, p, args=(x, 2.5 * x - 1.3), engine=info.qualified_name, **kws)
    ok = abs(p["a"].value - 2.5) < 1e-4 and abs(p["b"].value + 1.3) < 1e-4
    print(f"   {info.qualified_name:40s} a={p['a'].value:.6f} b={p['b'].value:.6f} success={fit.success}")
    assert ok, f"{info.qualified_name} did not recover the line"
EOF
"$WORK/venv/bin/fitcore" engines | sed 's/^/   /'
echo "== wheels and sdists install and fit"
