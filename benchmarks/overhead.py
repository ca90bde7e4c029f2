"""Overhead of fitcore's leastsq engine over raw scipy.optimize.leastsq, with lmfit 1.3 alongside.

The manual's damped sine ``amp*sin(x*omega+shift)*exp(-x*x*decay)`` on 1000 points,
fitted with the same MINPACK settings (xtol, ftol, gtol, maxfev) by

* raw ``scipy.optimize.leastsq(full_output=True)`` on the equivalent plain function (the floor),
* ``fitcore.minimize(..., engine='leastsq')`` (includes its error bars, stderr and correl),
* ``lmfit.minimize(..., method='leastsq')`` (lmfit 1.3, the ``bench`` extra; only imported here).

Case A: four free parameters. Case B: two bounded parameters (amp >= 0, -pi/2 <= shift <= pi/2),
one free (omega) and one expression parameter (decay = omega**2/900); the plain function computes
decay itself and has no bounds.

The three are timed in one run, interleaved (every repetition runs each once, in rotating order),
and the medians are compared as ratios. Parameters objects are built outside the timed region
(like scipy's start vector). Garbage collection stays on, as in real use; a ``gc.collect()`` runs
between repetitions, outside the timing, after ``gc.freeze()`` has moved everything alive before the
timing (numpy, scipy, lmfit, the data) to the permanent generation: the collection then gathers
what the timed calls left, as it should, without walking the whole interpreter's heap, which
would evict the CPU caches and start every timed call cold (a penalty that grows with the amount of
Python code the call runs, and that a fitting loop in real use does not pay before every fit).

Run: ``make bench`` or ``.venv/bin/python benchmarks/overhead.py [repetitions]``.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
import warnings

import numpy as np
from scipy.optimize import leastsq

import fitcore

try:
    import lmfit
except ImportError:  # the bench extra is not installed
    lmfit = None

XTOL = FTOL = 1.0e-7
GTOL = 0.0
TRUTH = {"amp": 14.0, "shift": 0.21, "omega": 3.0, "decay": 0.01}
X = np.linspace(0.0, 15.0, 1000)
DATA = (TRUTH["amp"] * np.sin(TRUTH["omega"] * X + TRUTH["shift"]) * np.exp(-X * X * TRUTH["decay"])
        + np.random.default_rng(7).normal(scale=0.3, size=X.size))
START = {"amp": 10.0, "decay": 0.02, "shift": 0.0, "omega": 3.05}


# -- residuals: the same arithmetic for all three --------------------------------------------------
def residual(params, x, data):
    """fitcore / lmfit residual (both spell it the manual's way)."""
    amp = params["amp"].value
    shift = params["shift"].value
    omega = params["omega"].value
    decay = params["decay"].value
    return data - amp * np.sin(x * omega + shift) * np.exp(-x * x * decay)


def plain_a(b, x, data):
    """Case A as a plain function of (amp, decay, shift, omega)."""
    amp, decay, shift, omega = b
    return data - amp * np.sin(x * omega + shift) * np.exp(-x * x * decay)


def plain_b(b, x, data):
    """Case B as a plain function of (amp, shift, omega); decay = omega**2/900."""
    amp, shift, omega = b
    decay = omega**2 / 900.0
    return data - amp * np.sin(x * omega + shift) * np.exp(-x * x * decay)


def params_a(mod):
    p = mod.Parameters()
    for name in ("amp", "decay", "shift", "omega"):
        p.add(name, value=START[name])
    return p


def params_b(mod):
    p = mod.Parameters()
    p.add("amp", value=START["amp"], min=0.0)
    p.add("shift", value=START["shift"], min=-np.pi / 2, max=np.pi / 2)
    p.add("omega", value=START["omega"])
    p.add("decay", expr="omega**2/900")
    return p


CASES = {
    "A": (params_a, plain_a, np.array([START["amp"], START["decay"], START["shift"], START["omega"]]), 4),
    "B": (params_b, plain_b, np.array([START["amp"], START["shift"], START["omega"]]), 3),
}


def runners(case: str):
    """Return {name: (prepare, run)}; ``prepare()`` builds inputs outside the timing."""
    make, plain, x0, nvar = CASES[case]
    maxfev = 1000 * (nvar + 1)

    def scipy_run(_):
        return leastsq(plain, x0, args=(X, DATA), full_output=True, xtol=XTOL, ftol=FTOL, gtol=GTOL, maxfev=maxfev)

    def fitcore_run(p):
        return fitcore.minimize(residual, p, args=(X, DATA), engine="leastsq", xtol=XTOL, ftol=FTOL, gtol=GTOL,
                                maxfev=maxfev)

    out = {"scipy": (lambda: None, scipy_run), "fitcore": (lambda: make(fitcore), fitcore_run)}
    if lmfit is not None:
        def lmfit_run(p):
            # lmfit 1.3 spells the evaluation limit max_nfev (it ignores maxfev, with a warning)
            return lmfit.minimize(residual, p, args=(X, DATA), method="leastsq", xtol=XTOL, ftol=FTOL, gtol=GTOL,
                                  max_nfev=maxfev)

        out["lmfit"] = (lambda: make(lmfit), lmfit_run)
    return out


def check(case: str) -> dict[str, float]:
    """Fit once with each and confirm they agree (so the timings compare the same work)."""
    make, plain, x0, nvar = CASES[case]
    r = runners(case)
    best = r["scipy"][1](None)[0]
    p = make(fitcore)
    fit = r["fitcore"][1](p)
    names = ["amp", "decay", "shift", "omega"] if case == "A" else ["amp", "shift", "omega"]
    got = np.array([p[n].value for n in names])
    assert fit.success and fit.errorbars, fit.message
    assert np.allclose(got, best, rtol=1e-5, atol=1e-8), (case, got, best)
    return {"fitcore_nfev": fit.nfev, "fitcore_errorbar_nfev": fit.nfev_errorbars,
            "scipy_nfev": r["scipy"][1](None)[2]["nfev"]}


def measure(case: str, reps: int) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall and CPU time (seconds) of each runner over ``reps`` interleaved repetitions."""
    r = runners(case)
    names = list(r)
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(5):  # warm up caches and lazy imports
        for n in names:
            r[n][1](r[n][0]())
    gc.collect()
    gc.freeze()
    for i in range(reps):
        order = names[i % len(names):] + names[:i % len(names)]
        for n in order:
            arg = r[n][0]()
            c0 = time.process_time()
            t0 = time.perf_counter()
            r[n][1](arg)
            t1 = time.perf_counter()
            cpu[n].append(time.process_time() - c0)
            wall[n].append(t1 - t0)
        gc.collect()
    gc.unfreeze()
    return ({n: statistics.median(v) for n, v in wall.items()}, {n: statistics.median(v) for n, v in cpu.items()})


def _cell(times: dict[str, float], cpu: dict[str, float], name: str) -> str:
    return f"{times.get(name, float('nan')) * 1e3:.3f} [{cpu.get(name, float('nan')) * 1e3:.3f}]"


def _added(times: dict[str, float]) -> float:
    """fitcore's time over scipy's as a fraction of lmfit's time over scipy's (the budget: <= 0.5)."""
    floor = times["scipy"]
    return (times["fitcore"] - floor) / (times.get("lmfit", float("nan")) - floor)


def main(argv: list[str]) -> None:
    reps = int(argv[1]) if len(argv) > 1 else 300
    warnings.simplefilter("ignore")
    print(f"damped sine, {X.size} points, {reps} interleaved repetitions, medians "
          f"(wall clock; CPU time of this process in brackets)\n")
    print("| case | scipy ms | fitcore ms | lmfit ms | fitcore/scipy | lmfit/scipy | fitcore added / lmfit added "
          "| nfev: scipy; fitcore fit + error bars |")
    print("|---|---|---|---|---|---|---|---|")
    for case in CASES:
        info = check(case)
        wall, cpu = measure(case, reps)
        ratios = [f"{wall.get(n, float('nan')) / wall['scipy']:.2f} [{cpu.get(n, float('nan')) / cpu['scipy']:.2f}]"
                  for n in ("fitcore", "lmfit")]
        print(f"| {case} | {_cell(wall, cpu, 'scipy')} | {_cell(wall, cpu, 'fitcore')} | {_cell(wall, cpu, 'lmfit')} "
              f"| {ratios[0]} | {ratios[1]} | **{_added(wall):.2f}** [{_added(cpu):.2f}] "
              f"| {info['scipy_nfev']}; {info['fitcore_nfev']} + {info['fitcore_errorbar_nfev']} |")


if __name__ == "__main__":
    main(sys.argv)
