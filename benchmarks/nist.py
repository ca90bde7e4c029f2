"""NIST StRD non-linear regression: every installed engine, 27 problems x 2 starts, default settings.

Prints, per engine, the table (problem, difficulty, start, LRE of values, LRE of
stderr, nfev, success) and the totals: fits with >= 5 digits on values, on
values and stderr, and false successes (reported success while more than 1%
off). LRE is ``-log10(|x - c| / |c|)``, minimum over the parameters, capped at
11. Engines that require finite bounds are skipped (NIST gives none).
``nfev`` counts the engine's evaluations; the error bars and the Gauss-Newton
polish at the solution are the extra column ``+eb``.

Run: ``.venv/bin/python benchmarks/nist.py [engine ...]``. Data: ../shared/data/nist_strd.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import fitcore  # noqa: E402
import nist_strd  # noqa: E402


def table(engine: str) -> tuple[int, int, list[str]]:
    """Run the 54 fits with ``engine``; return (values >= 5, both >= 5, false successes) and print rows."""
    print(f"\n## engine {engine!r}\n")
    print(f"| {'problem':9s} | {'difficulty':10s} | start | LRE values | LRE stderr "
          f"| {'nfev':>6s} | {'+eb':>5s} | success |")
    print("|-----------|------------|-------|------------|------------|--------|-------|---------|")
    nv = nb = 0
    false: list[str] = []
    t0 = time.perf_counter()
    for name in nist_strd.MODELS:
        prob = nist_strd.load(name)
        for start in (1, 2):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out, extra = run(prob, start, engine)
            nv += out.lre_values >= 5
            nb += out.lre_values >= 5 and out.lre_stderr >= 5
            flag = ""
            if out.success and out.max_rel_error > 0.01:
                false.append(f"{name}-{start}")
                flag = " FALSE"
            succ = "raised" if out.error else str(out.success)
            print(f"| {name:9s} | {prob.difficulty:10s} | {start:5d} | {out.lre_values:10.1f} | {out.lre_stderr:10.1f} "
                  f"| {out.nfev:6d} | {extra:5d} | {succ + flag:7s} |")
    print(f"\n{engine}: {nv}/54 fits with >= 5 digits on values, {nb}/54 on values and stderr, "
          f"{len(false)} false successes {false or ''} ({time.perf_counter() - t0:.1f} s)")
    return nv, nb, false


def run(prob: nist_strd.NistProblem, start: int, engine: str) -> tuple[nist_strd.Outcome, int]:
    """One fit; also return the evaluations spent at the solution (error bars + polish)."""
    out = nist_strd.run(prob, start, engine=engine)
    return out, out.nfev_errorbars


def main(argv: list[str]) -> None:
    if not nist_strd.available():
        sys.exit(f"NIST data missing: {nist_strd.SOURCE}")
    wanted = argv[1:]
    totals = []
    for info in fitcore.list_engines():
        if wanted and info.name not in wanted:
            continue
        if info.spec.bounds == "required_finite":
            print(f"\n(skipping engine {info.name!r}: it requires finite bounds, NIST problems have none)")
            continue
        if not info.status.startswith("available"):
            print(f"\n(skipping engine {info.name!r}: {info.status})")
            continue
        totals.append((info.name, *table(info.name)))
    print("\n## totals\n\n| engine | values >= 5 digits | values and stderr >= 5 | false successes |")
    print("|--------|--------------------|------------------------|-----------------|")
    for name, nv, nb, false in totals:
        print(f"| {name} | {nv}/54 | {nb}/54 | {len(false)} |")


if __name__ == "__main__":
    main(sys.argv)
