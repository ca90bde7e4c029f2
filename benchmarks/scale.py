"""Scale-out throughput: many independent fits serially, on a process pool and on a dask LocalCluster.

Run from the repository root::

    .venv/bin/python benchmarks/scale.py            # 2000 fits, 3 interleaved rounds
    .venv/bin/python benchmarks/scale.py --nfits 500 --rounds 1

Part 1 times ``fitcore.fit_many`` on 2000 fits of a 4-parameter model (Gaussian
peak on a constant background) to 200 points each: serially, on a
``ProcessPoolExecutor`` with 2 workers, and on a dask ``LocalCluster`` with 2
single-threaded worker processes. Part 2 times a 30x30 ``conf_interval2d`` grid
serially and on the same two executors, when fitcore provides
``conf_interval2d(..., executor=...)``.

Pools and the cluster are started (and warmed up) once, before timing: their
start-up is reported separately. The three ways are timed in interleaved rounds
so that load from other processes hits them alike; the median round counts,
and the figures are ratios to serial. Parallel results are checked to equal the
serial ones exactly. A machine check before and after (the same pure-Python
work run one after another and on the pool) shows how much parallelism the
machine offered at the time. The 1-minute load average is printed, because on a shared
machine it bounds what two workers can gain; so is the CPU time each way spent
(this process plus its workers, from /proc): CPU/serial near 1 means the
parallel machinery costs little, whatever the contention does to wall time, and
"ceiling" (workers x serial CPU / parallel CPU) is the speed-up that CPU cost
allows on otherwise idle cores -- a bound computed from measured CPU times, not
a measured speed-up.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import inspect
import logging
import os
import statistics
import time
from typing import Any, Callable

import numpy as np

import fitcore

NPOINTS = 200
X = np.linspace(-10.0, 10.0, NPOINTS)


def gaussian(params: fitcore.Parameters, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Residual of a Gaussian peak on a constant background (4 parameters)."""
    v = params
    amp, cen, wid, bkg = v["amp"].value, v["cen"].value, v["wid"].value, v["bkg"].value
    return amp * np.exp(-((x - cen) ** 2) / (2.0 * wid * wid)) + bkg - y


def make_params() -> fitcore.Parameters:
    """Starting values shared by every fit."""
    p = fitcore.Parameters()
    p.add("amp", value=5.0, min=0)
    p.add("cen", value=0.0)
    p.add("wid", value=1.5, min=0.05)
    p.add("bkg", value=0.0)
    return p


def make_datasets(n: int, seed: int = 2026) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` noisy spectra with different true peaks."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        amp, cen, wid, bkg = rng.uniform(3, 8), rng.uniform(-2, 2), rng.uniform(0.8, 2.5), rng.uniform(-0.5, 0.5)
        y = amp * np.exp(-((X - cen) ** 2) / (2 * wid * wid)) + bkg + rng.normal(scale=0.1, size=NPOINTS)
        out.append((X, y))
    return out


def same(a: list[Any], b: list[Any]) -> bool:
    """Exact agreement of two batches (values, stderr, chi-square, success)."""
    return all(x.values == y.values and x.stderr == y.stderr and x.chisqr == y.chisqr and x.success == y.success
               for x, y in zip(a, b)) and len(a) == len(b)


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) used so far by this process and the given worker processes (Linux /proc)."""
    total = time.process_time()
    for pid in pids:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


Way = tuple[Callable[[], Any], list[int]]


def interleave(ways: dict[str, Way], rounds: int) -> tuple[dict[str, list[tuple[float, float]]], dict[str, Any]]:
    """Run each way once per round, in turn; return every (wall, cpu) time and the last result of each."""
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in ways}
    results: dict[str, Any] = {}
    for _ in range(rounds):
        for name, (fn, pids) in ways.items():
            c0, t0 = cpu_seconds(pids), time.perf_counter()
            results[name] = fn()
            wall = time.perf_counter() - t0
            times[name].append((wall, cpu_seconds(pids) - c0))
    return times, results


def report(title: str, times: dict[str, list[tuple[float, float]]], count: int, unit: str,
           agree: dict[str, bool], workers: int) -> None:
    """Print median wall times, throughput and ratios to serial, and the CPU time the work took."""
    base = statistics.median(t for t, _ in times["serial"])
    base_cpu = statistics.median(c for _, c in times["serial"])
    print(f"\n{title}")
    print(f"  {'way':<22}{'median s':>9}  {'all rounds (s)':<20}{unit + '/s':>9}{'x serial':>9}"
          f"{'CPU s':>8}{'CPU/serial':>11}{'ceiling':>9}  equals serial")
    for name, ts in times.items():
        med = statistics.median(t for t, _ in ts)
        cpu = statistics.median(c for _, c in ts)
        rounds = " ".join(f"{t:.2f}" for t, _ in ts)
        eq = "-" if name == "serial" else ("yes" if agree[name] else "NO")
        ceiling = "-" if name == "serial" else f"{workers * base_cpu / cpu:.2f}"
        print(f"  {name:<22}{med:>9.2f}  {rounds:<20}{count / med:>9.0f}{base / med:>9.2f}"
              f"{cpu:>8.2f}{cpu / base_cpu:>11.2f}{ceiling:>9}  {eq}")


def spin(n: int) -> int:
    """Pure-Python arithmetic: a unit of work that parallel processes cannot slow each other down on."""
    total = 0
    for i in range(n):
        total += i * i
    return total


def calibrate(pool: cf.ProcessPoolExecutor, workers: int, n: int = 2_000_000, rounds: int = 3) -> float:
    """Median speed-up of ``workers`` units of spin() on the pool over running them one after another.

    Tells what parallelism the machine gives right now, whatever fitcore does: about ``workers`` on
    idle cores, about 1 when other jobs hold the CPU.
    """
    ratios = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(workers):
            spin(n)
        serial = time.perf_counter() - t0
        t0 = time.perf_counter()
        list(pool.map(spin, [n] * workers))
        ratios.append(serial / (time.perf_counter() - t0))
    return statistics.median(ratios)


def conf2d_available() -> bool:
    """True when fitcore has conf_interval2d taking executor=."""
    func = getattr(fitcore, "conf_interval2d", None)
    return func is not None and "executor" in inspect.signature(func).parameters


def main() -> None:
    """Run both parts and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nfits", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--grid", type=int, default=30, help="conf_interval2d grid size (grid x grid)")
    opts = parser.parse_args()

    import distributed

    print(f"fitcore {fitcore.__version__}, {os.cpu_count()} CPUs, {opts.workers} workers; "
          f"load average before: {os.getloadavg()[0]:.2f}")
    params, data = make_params(), make_datasets(opts.nfits)
    t0 = time.perf_counter()
    pool = cf.ProcessPoolExecutor(max_workers=opts.workers)
    fitcore.fit_many(gaussian, params, data[:40], executor=pool)  # start the workers, import fitcore there
    t_pool = time.perf_counter() - t0
    t0 = time.perf_counter()
    cluster = distributed.LocalCluster(n_workers=opts.workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR)
    client = distributed.Client(cluster)
    dask_ex = client.get_executor()
    fitcore.fit_many(gaussian, params, data[:40], executor=dask_ex)
    t_dask = time.perf_counter() - t0
    print(f"start-up incl. warm-up fits (not in the timings): process pool {t_pool:.2f} s, "
          f"dask LocalCluster {t_dask:.2f} s")
    print(f"machine check: {opts.workers} units of pure-Python work ran {calibrate(pool, opts.workers):.2f}x "
          "faster on the pool than one after another (ideal on idle cores: the number of workers)")
    try:
        pool_pids = list(pool._processes)  # type: ignore[attr-defined]  # a benchmark may peek
        dask_pids = list(client.run(os.getpid).values())
        ways: dict[str, Way] = {
            "serial": (lambda: fitcore.fit_many(gaussian, params, data), []),
            "ProcessPoolExecutor": (lambda: fitcore.fit_many(gaussian, params, data, executor=pool), pool_pids),
            "dask LocalCluster": (lambda: fitcore.fit_many(gaussian, params, data, executor=dask_ex), dask_pids),
        }
        times, results = interleave(ways, opts.rounds)
        nok = sum(s.success for s in results["serial"])
        agree = {k: same(results["serial"], v) for k, v in results.items()}
        report(f"fit_many: {opts.nfits} fits of 4 parameters on {NPOINTS} points ({nok} succeeded), "
               f"{opts.rounds} interleaved rounds", times, opts.nfits, "fits", agree, opts.workers)

        if conf2d_available():
            p = make_params()
            fit = fitcore.minimize(gaussian, p, args=data[0])
            n = opts.grid

            def grid(executor: cf.Executor | None, pids: list[int]) -> Way:
                return (lambda: fitcore.conf_interval2d(fit, "amp", "wid", n, n, executor=executor)), pids

            times, results = interleave({"serial": grid(None, []), "ProcessPoolExecutor": grid(pool, pool_pids),
                                         "dask LocalCluster": grid(dask_ex, dask_pids)}, opts.rounds)
            ref = results["serial"]
            agree = {k: all(np.array_equal(a, b, equal_nan=True) for a, b in zip(ref, v)) for k, v in results.items()}
            report(f"conf_interval2d: {n}x{n} grid ('amp' x 'wid'), {opts.rounds} interleaved rounds",
                   times, n * n, "points", agree, opts.workers)
        else:
            print("\nconf_interval2d(..., executor=...) is not in this fitcore yet: grid part not run")
        print(f"\nmachine check again: {calibrate(pool, opts.workers):.2f}x")
    finally:
        client.close()
        cluster.close()
        pool.shutdown()
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
