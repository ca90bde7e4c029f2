"""Fit plus 1- and 2-sigma confidence intervals: fitcore vs lmfit 1.3 vs iminuit, side by side.

The manual's two-exponential problem (section 4.3): x = linspace(0.3, 10, 100),
y = 3 exp(-x/2) - 5 exp(-x/10) + 0.2 * noise (numpy default_rng(0)), start
a1=4, t1=3, a2=-4, t2=8. Each round times, interleaved,

* fitcore: ``minimize`` (leastsq) + ``conf_interval(sigmas=(1, 2))`` (F-test),
* lmfit 1.3: ``minimize`` (leastsq) + ``conf_interval(sigmas=[1, 2])`` (F-test),
* iminuit: MIGRAD + HESSE + MINOS at cl=1 and cl=2 (chi-square of the
  residuals divided by the noise sigma 0.2, errordef 1),

and reports the median time of each, fitcore's ratio to each peer, and how far
fitcore's F-test limits are from lmfit's (in units of each limit's half-width).
fitcore's likelihood-ratio limits are compared with MINOS at matched error
scale (MINOS rerun with ``errordef = reduced chi-square`` on the same chi-square).

Run: ``.venv/bin/pip install -e '.[bench]' && .venv/bin/python benchmarks/confidence.py [rounds]``
"""

from __future__ import annotations

import functools
import statistics
import sys
import time
import warnings

import numpy as np

import fitcore

try:
    import lmfit
    from iminuit import Minuit
except ImportError:  # pragma: no cover
    sys.exit("benchmarks/confidence.py needs the bench extra: .venv/bin/pip install -e '.[bench]'")

X = np.linspace(0.3, 10, 100)
Y = 3 * np.exp(-X / 2) - 5 * np.exp(-X / 10) + 0.2 * np.random.default_rng(0).normal(size=X.size)
START = {"a1": 4.0, "t1": 3.0, "a2": -4.0, "t2": 8.0}
NAMES = list(START)
SIGMA = 0.2


def residual_fitcore(p):
    """Residual of the two-exponential model for fitcore."""
    return p["a1"].value * np.exp(-X / p["t1"].value) + p["a2"].value * np.exp(-X / p["t2"].value) - Y


def residual_lmfit(p):
    """The same residual for lmfit."""
    v = p.valuesdict()
    return v["a1"] * np.exp(-X / v["t1"]) + v["a2"] * np.exp(-X / v["t2"]) - Y


def chi2(a1, t1, a2, t2):
    """Chi-square for iminuit (residuals in units of the noise)."""
    r = (a1 * np.exp(-X / t1) + a2 * np.exp(-X / t2) - Y) / SIGMA
    return float(r @ r)


def run_fitcore(prob_func=None):
    """Fit and intervals with fitcore; returns {name: [lo2, lo1, best, hi1, hi2]}."""
    p = fitcore.Parameters()
    for k, v in START.items():
        p.add(k, value=v)
    fit = fitcore.minimize(residual_fitcore, p)
    ci = fitcore.conf_interval(fit, sigmas=(1, 2), prob_func=prob_func)
    return {k: [v for _, v in ci[k]] for k in NAMES}


def run_lmfit():
    """Fit and intervals with lmfit 1.3."""
    p = lmfit.Parameters()
    for k, v in START.items():
        p.add(k, value=v)
    mini = lmfit.Minimizer(residual_lmfit, p)
    result = mini.minimize()
    ci = lmfit.conf_interval(mini, result, sigmas=[1, 2])
    return {k: [v for _, v in ci[k]] for k in NAMES}


def run_iminuit(errordef=1.0):
    """MIGRAD + HESSE + MINOS at cl=1 and cl=2."""
    m = Minuit(chi2, **START)
    m.errordef = errordef
    m.migrad()
    m.hesse()
    out = {}
    m.minos(cl=1)
    one = {k: (m.merrors[k].lower, m.merrors[k].upper) for k in NAMES}
    m.minos(cl=2)
    for k in NAMES:
        b = m.values[k]
        out[k] = [b + m.merrors[k].lower, b + one[k][0], b, b + one[k][1], b + m.merrors[k].upper]
    return out


def evaluations():
    """Model evaluations each tool spends (counted in a separate, untimed run)."""
    counts = {}
    originals = (residual_fitcore, residual_lmfit, chi2)
    g = globals()
    for key, fname in (("fitcore", "residual_fitcore"), ("lmfit", "residual_lmfit"), ("iminuit", "chi2")):
        calls = [0]
        inner = g[fname]

        @functools.wraps(inner)
        def counted(*args, inner=inner, calls=calls, **kws):
            calls[0] += 1
            return inner(*args, **kws)

        g[fname] = counted
        try:
            {"fitcore": run_fitcore, "lmfit": run_lmfit, "iminuit": run_iminuit}[key]()
        finally:
            g[fname] = inner
        counts[key] = calls[0]
    assert (residual_fitcore, residual_lmfit, chi2) == originals
    return counts


def agreement(ours, ref):
    """Largest |difference| of the limits in units of the reference half-width."""
    worst = 0.0
    for k in NAMES:
        best = ref[k][2]
        for a, b in zip(ours[k], ref[k]):
            if b != best:
                worst = max(worst, abs(a - b) / abs(b - best))
    return worst


def main(rounds: int = 15) -> None:
    """Time the three side by side and print a table."""
    runners = {"fitcore": run_fitcore, "lmfit": run_lmfit, "iminuit": run_iminuit}
    times = {k: [] for k in runners}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # iminuit explores overflowing exponentials
        for f in runners.values():
            f()
        for _ in range(rounds):
            for name, f in runners.items():
                t = time.perf_counter()
                f()
                times[name].append(time.perf_counter() - t)
        ours, ref = run_fitcore(), run_lmfit()
        # matched error scale: Delta chi2 = reduced chi-square of the best fit (in sigma units)
        p = fitcore.Parameters()
        for k, v in START.items():
            p.add(k, value=v)
        fit = fitcore.minimize(residual_fitcore, p)
        lr = run_fitcore("likelihood_ratio")
        minos = run_iminuit(errordef=fit.redchi / SIGMA**2)
        counts = evaluations()
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    print(f"two-exponential fit + 1 and 2 sigma intervals for 4 parameters, median of {rounds} interleaved rounds")
    for k in runners:
        print(f"  {k:8s} {med[k]:8.2f} ms   {counts[k]:5d} model evaluations")
    print(f"  fitcore / iminuit = {med['fitcore'] / med['iminuit']:.2f}   (target <= 2)")
    print(f"  fitcore / lmfit   = {med['fitcore'] / med['lmfit']:.3f}")
    print(f"  F-test limits vs lmfit: max |diff| = {agreement(ours, ref):.2e} of the half-width (target <= 5e-3)")
    print(f"  likelihood_ratio limits vs MINOS (errordef = redchi): max |diff| = {agreement(lr, minos):.2e} "
          "of the half-width (target <= 1e-2)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
