"""Every engine on the same three problems: chi-square reached, evaluations, wall time, stderr vs leastsq.

Run: ``.venv/bin/python benchmarks/engines.py [--repeat N] [--only NAME ...]``. Engines are run
interleaved (one round over every engine, repeated), and the median wall time
is reported. ``stderr vs leastsq`` is the largest ``|stderr / stderr_leastsq - 1|``
over the parameters, where leastsq's reference fit is started close to the
global minimum (on the multimodal problem leastsq from the common start lands
in a local minimum, shown as its own row). For ``emcee`` the values are the
posterior medians and the error bars half the 1-sigma quantile widths.

``--nist`` instead fits the 27 NIST StRD problems from both starts with every
local minimizer installed (defaults, no bounds) and tabulates digits reached
and false successes (success reported while a value is more than 1% off).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import fitcore

NIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nist_strd"

ENGINES = [
    ("leastsq", {}),
    ("lbfgsb", {}),
    ("anneal", {"seed": 1}),
    ("nlopt", {"algorithm": "LN_BOBYQA"}),
    ("nlopt", {"algorithm": "LN_SBPLX"}),
    ("nlopt", {"algorithm": "LD_LBFGS"}),
    ("nlopt", {"algorithm": "GN_DIRECT_L"}),
    ("nlopt", {"algorithm": "GN_CRS2_LM", "seed": 1}),
    ("nlopt", {"algorithm": "G_MLSL_LDS", "seed": 1}),
    ("nlopt", {"algorithm": "AUGLAG"}),
    ("least_squares", {}),
    ("least_squares", {"method": "dogbox"}),
    ("nelder", {}),
    ("powell", {}),
    ("cg", {}),
    ("bfgs", {}),
    ("tnc", {}),
    ("slsqp", {}),
    ("trust-constr", {}),
    ("differential_evolution", {"seed": 1}),
    ("basinhopping", {"seed": 1}),
    ("shgo", {}),
    ("brute", {}),
    ("emcee", {"seed": 1}),
]


def damped_sine():
    """The manual's damped sine, 301 points, 4 bounded parameters."""
    x = np.linspace(0.0, 15.0, 301)
    data = 14.0 * np.sin(3.0 * x + 0.21) * np.exp(-x * x * 0.01) + np.random.default_rng(12345).normal(0, 0.2, x.size)

    def residual(p):
        v = {k: p[k].value for k in p}
        return v["amp"] * np.sin(x * v["omega"] + v["shift"]) * np.exp(-x * x * v["decay"]) - data

    def params(start):
        p = fitcore.Parameters()
        for name, v0, vt, lo, hi in (("amp", 13.0, 14.0, 5, 20), ("shift", 0.0, 0.2, -1, 1),
                                     ("omega", 2.9, 3.0, 2.5, 3.5), ("decay", 0.02, 0.01, 0.001, 0.1)):
            p.add(name, value=v0 if start else vt, min=lo, max=hi)
        return p

    return residual, params


def misra1a():
    """NIST StRD Misra1a (14 points, 2 parameters), bounded, from NIST's start 1."""
    lines = (NIST / "Misra1a.dat").read_text().splitlines()
    y, x = np.loadtxt(lines[60:74], unpack=True)

    def residual(p):
        return p["b1"].value * (1.0 - np.exp(-p["b2"].value * x)) - y

    def params(start):
        p = fitcore.Parameters()
        p.add("b1", value=500.0 if start else 240.0, min=100.0, max=1000.0)
        p.add("b2", value=1e-4 if start else 5.5e-4, min=1e-5, max=1e-2)
        return p

    return residual, params


def multimodal():
    """A sine whose frequency has many local minima in [0.5, 5]; the common start omega=1 is in the wrong basin."""
    x = np.linspace(0.0, 10.0, 201)
    data = 1.5 * np.sin(2.7 * x) + np.random.default_rng(0).normal(scale=0.1, size=x.size)

    def residual(p):
        return data - p["amp"].value * np.sin(p["omega"].value * x)

    def params(start):
        p = fitcore.Parameters()
        p.add("amp", value=1.0 if start else 1.5, min=0.1, max=5.0)
        p.add("omega", value=1.0 if start else 2.7, min=0.5, max=5.0)
        return p

    return residual, params


PROBLEMS = {"damped sine (4 par)": damped_sine, "NIST Misra1a (2 par)": misra1a, "multimodal sine (2 par)": multimodal}


def label(engine, kws):
    """Row label for an engine configuration."""
    shown = [str(v) for k, v in kws.items() if k != "seed"]
    return " ".join([engine, *shown])


def nist() -> None:
    """Fit every NIST StRD problem from both starts with every local minimizer; print the totals."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import nist_strd

    if not nist_strd.available():
        sys.exit(f"NIST data missing: {nist_strd.SOURCE}")
    engines = [e for e in fitcore.list_engines() if not e.spec.is_global and e.spec.bounds != "required_finite"
               and e.status == "available" and e.name != "emcee"]  # emcee samples, it does not minimize
    print("| engine | values >= 5 digits | values and stderr >= 5 | success reported | false successes | "
          "raised | time (s) |")
    print("|---|---|---|---|---|---|---|")
    for info in engines:
        nv = nb = ns = nraised = 0
        false = []
        t0 = time.perf_counter()
        for name in nist_strd.MODELS:
            prob = nist_strd.load(name)
            for start in (1, 2):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = nist_strd.run(prob, start, engine=info.name)
                nv += out.lre_values >= 5
                nb += out.lre_values >= 5 and out.lre_stderr >= 5
                ns += out.success
                nraised += out.error is not None
                if out.success and out.max_rel_error > 0.01:
                    false.append(f"{name}-{start}")
        print(f"| {info.name} | {nv}/54 | {nb}/54 | {ns}/54 | {len(false)} {' '.join(false)} | {nraised} "
              f"| {time.perf_counter() - t0:.1f} |", flush=True)


def main() -> None:
    """Run every engine on every problem and print one table per problem."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", nargs="*", default=None, help="engine names to run (default: every one listed)")
    ap.add_argument("--nist", action="store_true", help="NIST StRD totals for every local minimizer instead")
    args = ap.parse_args()
    if args.nist:
        nist()
        return
    installed = {e.name for e in fitcore.list_engines() if e.status == "available"}
    configs = [(e, k) for e, k in ENGINES if e in installed and (not args.only or e in args.only)]
    for title, make in PROBLEMS.items():
        residual, params = make()
        ref = params(False)
        reffit = fitcore.minimize(residual, ref, engine="leastsq")
        times: dict[str, list[float]] = {label(e, k): [] for e, k in configs}
        last = {}
        for _ in range(args.repeat):
            for engine, kws in configs:
                p = params(True)
                t0 = time.perf_counter()
                fit = fitcore.minimize(residual, p, engine=engine, **kws)
                times[label(engine, kws)].append(time.perf_counter() - t0)
                last[label(engine, kws)] = (fit, p)
        print(f"\n### {title}: leastsq from near the minimum reaches chi-square {reffit.chisqr:.10g}\n")
        print("| engine | chi-square | nfev | nfev (error bars) | wall time (ms) | success | stderr vs leastsq |")
        print("|---|---|---|---|---|---|---|")
        for name, (fit, p) in last.items():
            if fit.errorbars:
                dev = max(abs(p[n].stderr / ref[n].stderr - 1.0) for n in ref)
                agree = f"{dev:.1e}"
            else:
                agree = f"n/a ({fit.errorbars_reason})"
            if fit.chisqr > reffit.chisqr * (1 + 1e-6):
                agree += " (other minimum)"
            ms = 1000 * statistics.median(times[name])
            print(f"| {name} | {fit.chisqr:.10g} | {fit.nfev} | {fit.nfev_errorbars} | {ms:.1f} | {fit.success} "
                  f"| {agree} |")


if __name__ == "__main__":
    main()
