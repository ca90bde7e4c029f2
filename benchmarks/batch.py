"""Vectorized fit_many against a plain loop of scipy.optimize.leastsq, on the three workloads of issue 18.

Run from the repository root::

    .venv/bin/python benchmarks/batch.py              # the full run (about 2-3 minutes)
    .venv/bin/python benchmarks/batch.py --scale 0.2  # fewer fits, for a quick look

Workloads (noisy data from ``numpy.random.default_rng(2026)``; every fit starts from one set of values):

* **gauss**: Gaussian + constant background, 64 points, 4 parameters, 20,000 spectra;
* **spot**: 2-D Gaussian spot on 9x9 pixels (flattened to 81 values), 5 parameters, 50,000 spots;
* **cosine**: damped cosine, 500 points, 4 parameters, 2,000 curves.

For each, in one run: the scipy loop (``leastsq`` per dataset, forward differences, then with the
analytic Jacobian ``Dfun``), fitcore's per-fit ``fit_many`` (on a subset: it is the slow baseline),
and ``fit_many(vectorized=True)`` (forward differences, then the batched analytic Jacobian), serially
and on a ``ProcessPoolExecutor`` with 2 workers. The slow baselines run on the first ``--ref``
datasets of each workload and are reported as fits per second; every ratio is to the scipy loop with
the same kind of Jacobian. The ways run in ``--rounds`` interleaved rounds; the best round counts.
All fits use MINPACK's default tolerances (``ftol = xtol = 1.49012e-8``).

Agreement with per-fit leastsq on the datasets both fitted: converged fraction (scipy ``ier`` in
1-4; fitcore ``success``), the largest relative difference of chi-square and of the standard errors
(scipy: ``sqrt(diag(cov_x) * chisqr / nfree)``) where both converged, whether the pool's results
equal the serial ones exactly, and how far each fitter's error bars from forward differences are from
its own error bars from the analytic Jacobian (MINPACK's forward-difference Jacobian is the less
accurate where a parameter's value is small against its scale, e.g. the cosine's phase).

Rates are given per CPU second of this process (robust on a shared machine: other processes do not
slow it down) and per second of wall time. The pool (a fresh one per round, started before the clock
runs) is given in wall time and in CPU time of this process plus its workers: the ratio of the
latter to the serial CPU time says how much work the pool adds, whatever the other processes on the
machine leave of its cores.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import leastsq

import fitcore

TOL = 1.49012e-8  # MINPACK's default ftol and xtol, for every fitter here


# -- models: one residual each, written with numpy broadcasting, plus the analytic Jacobian -----------------
def gauss(p: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gaussian plus background minus data."""
    amp, cen, wid, bkg = p["amp"].value, p["cen"].value, p["wid"].value, p["bkg"].value
    return amp * np.exp(-((x - cen) ** 2) / (2.0 * wid * wid)) + bkg - y


def gauss_jac(p: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d gauss / d (amp, cen, wid, bkg), points along axis -2."""
    amp, cen, wid = p["amp"].value, p["cen"].value, p["wid"].value
    d = x - cen
    g = np.exp(-(d * d) / (2.0 * wid * wid))
    ag = amp * g
    out = np.empty((4,) + g.shape)  # one contiguous block per parameter; the last axis indexes them
    out[0] = g
    np.multiply(ag, d / (wid * wid), out=out[1])
    np.multiply(out[1], d / wid, out=out[2])
    out[3] = 1.0
    return np.moveaxis(out, 0, -1)


def spot(p: Any, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Round 2-D Gaussian spot plus background minus data (pixels flattened)."""
    amp, x0, y0, s, bkg = p["amp"].value, p["x0"].value, p["y0"].value, p["s"].value, p["bkg"].value
    return amp * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2.0 * s * s)) + bkg - z


def spot_jac(p: Any, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """d spot / d (amp, x0, y0, s, bkg)."""
    amp, x0, y0, s = p["amp"].value, p["x0"].value, p["y0"].value, p["s"].value
    dx, dy = x - x0, y - y0
    r2 = dx * dx + dy * dy
    g = np.exp(-r2 / (2.0 * s * s))
    ag = amp * g / (s * s)
    out = np.empty((5,) + g.shape)
    out[0] = g
    np.multiply(ag, dx, out=out[1])
    np.multiply(ag, dy, out=out[2])
    np.multiply(ag, r2 / s, out=out[3])
    out[4] = 1.0
    return np.moveaxis(out, 0, -1)


def cosine(p: Any, t: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Damped cosine minus data."""
    amp, decay, omega, phase = p["amp"].value, p["decay"].value, p["omega"].value, p["phase"].value
    return amp * np.exp(-t / decay) * np.cos(omega * t + phase) - y


def cosine_jac(p: Any, t: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d cosine / d (amp, decay, omega, phase)."""
    amp, decay, omega, phase = p["amp"].value, p["decay"].value, p["omega"].value, p["phase"].value
    e = np.exp(-t / decay)
    arg = omega * t + phase
    ec, aes = e * np.cos(arg), -amp * e * np.sin(arg)
    out = np.empty((4,) + ec.shape)
    out[0] = ec
    np.multiply(amp * ec, t / (decay * decay), out=out[1])
    np.multiply(aes, t, out=out[2])
    out[3] = aes
    return np.moveaxis(out, 0, -1)


@dataclass
class Workload:
    """One workload: its model, data and starting values."""

    name: str
    label: str
    residual: Callable[..., np.ndarray]
    jacobian: Callable[..., np.ndarray]
    start: dict[str, float]
    datasets: list[tuple[np.ndarray, ...]]

    def params(self) -> fitcore.Parameters:
        """Starting Parameters (unbounded, as scipy's leastsq)."""
        p = fitcore.Parameters()
        for k, v in self.start.items():
            p.add(k, value=v)
        return p


def make_workloads(scale: float) -> list[Workload]:
    """The three workloads of the issue, ``scale`` times their number of fits."""
    rng = np.random.default_rng(2026)
    out = []
    n = max(20, int(20000 * scale))
    x = np.linspace(-5.0, 5.0, 64)
    amp, cen, wid, bkg = rng.uniform(5, 15, n), rng.uniform(-1, 1, n), rng.uniform(0.6, 1.5, n), rng.uniform(0, 2, n)
    data: list[tuple[np.ndarray, ...]]
    data = [(x, amp[i] * np.exp(-((x - cen[i]) ** 2) / (2 * wid[i] ** 2)) + bkg[i] + rng.normal(0, 0.3, x.size))
            for i in range(n)]
    out.append(Workload("gauss", "Gaussian + background, 64 points, 4 params", gauss, gauss_jac,
                        {"amp": 10.0, "cen": 0.0, "wid": 1.0, "bkg": 1.0}, data))
    n = max(20, int(50000 * scale))
    gy, gx = np.mgrid[0:9, 0:9].astype(float)
    xs, ys = gx.ravel(), gy.ravel()
    amp, x0, y0 = rng.uniform(50, 200, n), rng.uniform(3, 5, n), rng.uniform(3, 5, n)
    s, bkg = rng.uniform(0.9, 1.6, n), rng.uniform(5, 15, n)
    data = []
    for i in range(n):
        model = amp[i] * np.exp(-((xs - x0[i]) ** 2 + (ys - y0[i]) ** 2) / (2 * s[i] ** 2)) + bkg[i]
        data.append((xs, ys, model + rng.normal(0, np.sqrt(model))))
    out.append(Workload("spot", "2-D Gaussian spot, 9x9 pixels, 5 params", spot, spot_jac,
                        {"amp": 100.0, "x0": 4.0, "y0": 4.0, "s": 1.2, "bkg": 10.0}, data))
    n = max(20, int(2000 * scale))
    t = np.linspace(0.0, 10.0, 500)
    amp, decay, omega, phase = rng.uniform(2, 8, n), rng.uniform(2, 6, n), rng.uniform(1.8, 2.2, n), rng.uniform(
        -0.3, 0.3, n)
    data = [(t, amp[i] * np.exp(-t / decay[i]) * np.cos(omega[i] * t + phase[i]) + rng.normal(0, 0.1, t.size))
            for i in range(n)]
    out.append(Workload("cosine", "damped cosine, 500 points, 4 params", cosine, cosine_jac,
                        {"amp": 5.0, "decay": 4.0, "omega": 2.0, "phase": 0.0}, data))
    return out


class _Plain(dict):
    """What scipy's callback hands the model: ``p[name].value`` on plain floats."""


class _Value:
    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = value


def scipy_loop(w: Workload, datasets: list[tuple[np.ndarray, ...]], analytic: bool) -> dict[str, np.ndarray]:
    """Per-fit ``scipy.optimize.leastsq``: values, chi-square, stderr, ier."""
    names = list(w.start)
    x0 = np.array(list(w.start.values()))
    n = len(datasets)
    chi, ier, err = np.empty(n), np.empty(n, dtype=int), np.full((n, len(names)), np.nan)

    def wrap(v: np.ndarray) -> _Plain:
        return _Plain({k: _Value(float(x)) for k, x in zip(names, v)})

    for i, data in enumerate(datasets):
        def f(v: np.ndarray, data: tuple[np.ndarray, ...] = data) -> np.ndarray:
            return w.residual(wrap(v), *data)

        def jac(v: np.ndarray, data: tuple[np.ndarray, ...] = data) -> np.ndarray:
            return w.jacobian(wrap(v), *data)

        sol, cov, info, _, code = leastsq(f, x0, Dfun=jac if analytic else None, full_output=True, ftol=TOL, xtol=TOL)
        r = info["fvec"]
        chi[i], ier[i] = r @ r, code
        if cov is not None:
            err[i] = np.sqrt(np.diag(cov) * chi[i] / (r.size - len(names)))
    return {"chisqr": chi, "ok": np.isin(ier, (1, 2, 3, 4)), "stderr": err}


def fitcore_result(fits: Any, names: list[str], n: int) -> dict[str, np.ndarray]:
    """The same quantities from a fitcore batch, for its first ``n`` fits."""
    chi = np.array([fits[i].chisqr for i in range(n)]) if isinstance(fits, list) else fits.chisqr[:n]
    ok = fits.success[:n]
    err = np.column_stack([fits.stderrs(k)[:n] for k in names])
    return {"chisqr": chi, "ok": ok, "stderr": err}


def agreement(ref: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> tuple[float, float, float, float]:
    """(converged fraction ref, got, max rel chi-square diff, max rel stderr diff) where both converged."""
    both = ref["ok"] & got["ok"]
    dchi = np.max(np.abs(got["chisqr"][both] / ref["chisqr"][both] - 1), initial=0.0)
    se = both & np.isfinite(ref["stderr"]).all(axis=1) & np.isfinite(got["stderr"]).all(axis=1)
    dse = np.max(np.abs(got["stderr"][se] / ref["stderr"][se] - 1), initial=0.0)
    return float(ref["ok"].mean()), float(got["ok"].mean()), float(dchi), float(dse)


def timed(func: Callable[[], Any]) -> tuple[Any, float, float]:
    """Result, CPU time of this process and wall time of ``func()``."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = func()
    return out, time.process_time() - c0, time.perf_counter() - t0


def pooled(func: Callable[[cf.Executor], Any], warm: Callable[[cf.Executor], Any],
           workers: int = 2) -> tuple[Any, float, float]:
    """Result, CPU time of this process plus the pool's workers, and wall time of ``func(pool)``.

    A fresh pool, started and warmed by ``warm(pool)`` before the clock runs
    and shut down after it stops (the workers' CPU time is known once they
    have exited).
    """
    pool = cf.ProcessPoolExecutor(workers)
    warm(pool)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out, cpu, wall = timed(lambda: func(pool))
    pool.shutdown()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return out, cpu + (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), wall


def run(w: Workload, ref: int, rounds: int) -> dict[str, Any]:
    """Every way on one workload: rates (CPU and wall), agreement, pool == serial."""
    names = list(w.start)
    n = len(w.datasets)
    ref_n = min(ref, n)
    sub = w.datasets[:ref_n]
    pf_n = min(ref_n, 300)
    params = w.params()
    kws: dict[str, Any] = {"ftol": TOL, "xtol": TOL}
    fitcore.fit_many(w.residual, params, w.datasets[:4], vectorized=True, **kws)  # warm the imports and caches
    ways: dict[str, tuple[Callable[[], Any], int]] = {
        "scipy fd": (lambda: scipy_loop(w, sub, analytic=False), ref_n),
        "scipy an": (lambda: scipy_loop(w, sub, analytic=True), ref_n),
        "fit_many per-fit": (lambda: fitcore.fit_many(w.residual, params, w.datasets[:pf_n], **kws), pf_n),
        "vector fd": (lambda: fitcore.fit_many(w.residual, params, w.datasets, vectorized=True, **kws), n),
        "vector an": (lambda: fitcore.fit_many(w.residual, params, w.datasets, vectorized=True, Dfun=w.jacobian,
                                               **kws), n),
    }
    def warm(pool: cf.Executor) -> None:  # each worker fits a chunk of two before the clock runs
        fitcore.fit_many(w.residual, params, w.datasets[:2 * 2], vectorized=True, executor=pool, chunksize=2, **kws)

    on_pool = {
        "vector fd pool2": lambda pool: fitcore.fit_many(w.residual, params, w.datasets, vectorized=True,
                                                         executor=pool, **kws),
    }
    out: dict[str, Any] = {"n": n, "ref_n": ref_n, "pf_n": pf_n, "cpu": {}, "wall": {}, "res": {}}
    for _ in range(rounds):  # interleaved, best round: a load spike on the shared machine hits one way once
        for key, (func, count) in ways.items():
            res, cpu, wall = timed(func)
            out["res"][key] = res
            out["cpu"][key] = max(out["cpu"].get(key, 0.0), count / cpu)
            out["wall"][key] = max(out["wall"].get(key, 0.0), count / wall)
        for key, pool_func in on_pool.items():
            res, cpu, wall = pooled(pool_func, warm)
            out["res"][key] = res
            out["cpu"][key] = max(out["cpu"].get(key, 0.0), n / cpu)
            out["wall"][key] = max(out["wall"].get(key, 0.0), n / wall)
    res = out["res"]
    out["same"] = (np.array_equal(res["vector fd pool2"].arrays.values, res["vector fd"].arrays.values, equal_nan=True)
                   and np.array_equal(res["vector fd pool2"].arrays.stderr, res["vector fd"].arrays.stderr,
                                      equal_nan=True))
    out["agree fd"] = agreement(res["scipy fd"], fitcore_result(res["vector fd"], names, ref_n))
    out["agree an"] = agreement(res["scipy an"], fitcore_result(res["vector an"], names, ref_n))
    ours_fd, ours_an = fitcore_result(res["vector fd"], names, n), fitcore_result(res["vector an"], names, n)
    out["fd error"] = (float(np.nanmax(np.abs(ours_fd["stderr"] / ours_an["stderr"] - 1))),
                       float(np.nanmax(np.abs(res["scipy fd"]["stderr"] / res["scipy an"]["stderr"] - 1))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the issue's number of fits")
    parser.add_argument("--ref", type=int, default=1000, help="datasets fitted by the slow per-fit baselines")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (the best counts)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; tolerances ftol = xtol = {TOL}")
    rows = []
    for w in make_workloads(args.scale):
        r = run(w, args.ref, args.rounds)
        rows.append((w, r))
        print(f"\n{w.label}: {r['n']} fits (scipy loops on {r['ref_n']}, per-fit fit_many on {r['pf_n']})")
        for k in r["cpu"]:
            print(f"  {k:18s} {r['cpu'][k]:10.0f} fits per CPU second {r['wall'][k]:10.0f} fits/s (wall)")
    for clock in ("cpu", "wall"):
        what = "fits per CPU second of this process" if clock == "cpu" else "fits per second of wall time"
        print(f"\n{what}:\n")
        print("| workload | scipy loop fd / an | fit_many per-fit | vectorized fd | vectorized an | "
              "fd / scipy fd | an / scipy an | fd / per-fit |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for w, r in rows:
            rate = r[clock]
            print(f"| {w.name} | {rate['scipy fd']:.0f} / {rate['scipy an']:.0f} | {rate['fit_many per-fit']:.0f} | "
                  f"{rate['vector fd']:.0f} | {rate['vector an']:.0f} | "
                  f"{rate['vector fd'] / rate['scipy fd']:.1f}x | {rate['vector an'] / rate['scipy an']:.1f}x | "
                  f"{rate['vector fd'] / rate['fit_many per-fit']:.1f}x |")
    print("\nprocess pool, 2 workers: wall time, and CPU time of this process plus the workers':\n")
    print("| workload | serial fd fits/s | pool fd fits/s | pool / serial (wall) | pool CPU / serial CPU | "
          "pool == serial |")
    print("|---|---:|---:|---:|---:|:-:|")
    for w, r in rows:
        wall, cpu = r["wall"], r["cpu"]
        print(f"| {w.name} | {wall['vector fd']:.0f} | {wall['vector fd pool2']:.0f} | "
              f"{wall['vector fd pool2'] / wall['vector fd']:.2f}x | {cpu['vector fd'] / cpu['vector fd pool2']:.2f} | "
              f"{'yes' if r['same'] else 'NO'} |")
    print("\n(pool CPU / serial CPU: the pool's total work over the serial run's; with two free cores the pool's "
          "wall-time speed-up is at most 2 / that)")
    print("\nagreement with per-fit scipy leastsq on the same datasets:\n")
    print("| workload | converged scipy fd / vector fd | scipy an / vector an | max rel d chi2 fd / an | "
          "max rel d stderr fd / an | stderr fd vs an: vector / scipy |")
    print("|---|---:|---:|---:|---:|---:|")
    for w, r in rows:
        a_fd, a_an, err = r["agree fd"], r["agree an"], r["fd error"]
        print(f"| {w.name} | {a_fd[0]:.4f} / {a_fd[1]:.4f} | {a_an[0]:.4f} / {a_an[1]:.4f} | "
              f"{a_fd[2]:.1e} / {a_an[2]:.1e} | {a_fd[3]:.1e} / {a_an[3]:.1e} | {err[0]:.1e} / {err[1]:.1e} |")
    print("\n(last column: how far each fitter's error bars without Dfun are from its own with Dfun: MINPACK's "
          "come from its last forward-difference Jacobian, the vectorized ones from central differences at "
          "the answers)")


if __name__ == "__main__":
    main()
