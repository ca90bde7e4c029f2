"""Many small fits: serial ``fitcore.fit_many`` against a plain ``scipy.optimize.leastsq`` loop.

300 Gaussians ``amp * exp(-(x - cen)**2 / (2 sig**2)) + bkg`` on 64 points with noise
(4 free parameters, random truths, one start for all), fitted

* by a loop of ``scipy.optimize.leastsq(full_output=True)`` over the plain function (the floor),
* by ``fitcore.fit_many(residual, params, datasets)`` in this process, with error bars
  (stderr, correl, covariance, success verdict, one FitSnapshot per dataset).

Both loops run in every round, in alternating order; the medians over the rounds are compared.
The evaluations per fit (the engine's, and the error bars' and Gauss-Newton polish's at the
answer) come from one extra pass of ``Minimizer.leastsq`` over the same datasets, outside the
timing, which also checks that fitcore and scipy reach the same minima.

Run: ``.venv/bin/python benchmarks/many_fits.py [rounds]`` (default 7).
"""

from __future__ import annotations

import gc
import statistics
import sys
import time

import numpy as np
from scipy.optimize import leastsq

import fitcore

N_FITS = 300
X = np.linspace(-5.0, 5.0, 64)
START = {"amp": 7.0, "cen": 0.0, "sig": 1.0, "bkg": 1.0}


def datasets() -> list[tuple[np.ndarray, np.ndarray]]:
    """The 300 (x, y) datasets, reproducible."""
    rng = np.random.default_rng(0)
    truth = np.column_stack([rng.uniform(5, 10, N_FITS), rng.uniform(-1, 1, N_FITS), rng.uniform(0.5, 1.5, N_FITS),
                             rng.uniform(0, 2, N_FITS)])
    return [(X, a * np.exp(-(X - c) ** 2 / (2 * s * s)) + b + rng.normal(0, 0.2, X.size)) for a, c, s, b in truth]


def residual(p, x, y):
    """fitcore residual, the manual's way."""
    return p["amp"].value * np.exp(-(x - p["cen"].value) ** 2 / (2 * p["sig"].value ** 2)) + p["bkg"].value - y


def plain(b, x, y):
    """The same arithmetic as a function of the vector (amp, cen, sig, bkg)."""
    return b[0] * np.exp(-(x - b[1]) ** 2 / (2 * b[2] ** 2)) + b[3] - y


def params() -> fitcore.Parameters:
    p = fitcore.Parameters()
    for name, value in START.items():
        p.add(name, value=value)
    return p


def scipy_loop(data: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    """Wall and CPU seconds of the scipy loop."""
    x0 = np.array(list(START.values()))
    c0, t0 = time.process_time(), time.perf_counter()
    for x, y in data:
        leastsq(plain, x0, args=(x, y), full_output=True)
    return time.perf_counter() - t0, time.process_time() - c0


def fitcore_batch(data: list[tuple[np.ndarray, np.ndarray]], p: fitcore.Parameters) -> tuple[float, float]:
    """Wall and CPU seconds of fit_many."""
    c0, t0 = time.process_time(), time.perf_counter()
    fitcore.fit_many(residual, p, data)
    return time.perf_counter() - t0, time.process_time() - c0


def evaluations(data: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float, float, float]:
    """Mean engine evaluations, error-bar evaluations and Gauss-Newton steps per fit, and scipy's nfev."""
    fit_nfev, eb_nfev, steps, scipy_nfev = [], [], [], []
    x0 = np.array(list(START.values()))
    for x, y in data:
        fit = fitcore.Minimizer(residual, params(), fcn_args=(x, y))
        result = fit.leastsq()
        best, _, info, _, _ = leastsq(plain, x0, args=(x, y), full_output=True)
        assert result.success and result.errorbars, result.message
        assert np.allclose(list(result.values.values()), best, rtol=1e-5, atol=1e-6)
        fit_nfev.append(result.nfev)
        eb_nfev.append(result.nfev_errorbars)
        steps.append(result.polished)
        scipy_nfev.append(info["nfev"])
    return (statistics.mean(fit_nfev), statistics.mean(eb_nfev), statistics.mean(steps),
            statistics.mean(scipy_nfev))


def main(argv: list[str]) -> None:
    rounds = int(argv[1]) if len(argv) > 1 else 7
    data = datasets()
    p = params()
    fit_nfev, eb_nfev, steps, scipy_nfev = evaluations(data)
    scipy_loop(data)  # warm up
    fitcore_batch(data, p)
    t_scipy: list[tuple[float, float]] = []
    t_fit: list[tuple[float, float]] = []
    for i in range(rounds):
        gc.collect()
        if i % 2:
            t_fit.append(fitcore_batch(data, p))
            t_scipy.append(scipy_loop(data))
        else:
            t_scipy.append(scipy_loop(data))
            t_fit.append(fitcore_batch(data, p))
    s, f = statistics.median(t[0] for t in t_scipy), statistics.median(t[0] for t in t_fit)
    sc, fc = statistics.median(t[1] for t in t_scipy), statistics.median(t[1] for t in t_fit)
    print(f"{N_FITS} Gaussians, 64 points, 4 parameters; {rounds} rounds, medians (wall clock; CPU time in brackets)")
    print("| | fits/s | us per fit | evaluations per fit |")
    print("|---|---:|---:|---|")
    print(f"| scipy.optimize.leastsq loop | {N_FITS / s:,.0f} [{N_FITS / sc:,.0f}] | {s / N_FITS * 1e6:.0f} "
          f"[{sc / N_FITS * 1e6:.0f}] | {scipy_nfev:.1f} |")
    print(f"| fitcore.fit_many (serial) | {N_FITS / f:,.0f} [{N_FITS / fc:,.0f}] | {f / N_FITS * 1e6:.0f} "
          f"[{fc / N_FITS * 1e6:.0f}] | {fit_nfev:.1f} fit + {eb_nfev:.1f} error bars "
          f"({steps:.2f} Gauss-Newton steps) |")
    print(f"\nthroughput ratio fit_many / scipy loop: {s / f:.3f} [{sc / fc:.3f}]")


if __name__ == "__main__":
    main(sys.argv)
