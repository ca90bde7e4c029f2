"""The NIST StRD non-linear regression problems: reader, models and a runner.

Used by ``tests/test_nist.py`` and ``benchmarks/nist.py``. The data is the
public-domain NIST Statistical Reference Datasets (https://www.itl.nist.gov/div898/strd/nls/nls_main.shtml),
kept outside the project in ``../shared/data/nist_strd``; it is never copied in.
Each ``.dat`` header says on which lines the starts, certified values and data
are; the model formula is in the header too and is written out below as Python.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

NIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nist_strd"
SOURCE = ("NIST StRD non-linear regression datasets (https://www.itl.nist.gov/div898/strd/nls/nls_main.shtml), "
          f"expected at {NIST_DIR} (the shared data folder next to the project; never copied into it)")

_exp, _cos, _sin, _arctan = np.exp, np.cos, np.sin, np.arctan


def _gauss(b, x):
    return b[0] * _exp(-b[1] * x) + b[2] * _exp(-((x - b[3]) ** 2) / b[4] ** 2) \
        + b[5] * _exp(-((x - b[6]) ** 2) / b[7] ** 2)


def _lanczos(b, x):
    return b[0] * _exp(-b[1] * x) + b[2] * _exp(-b[3] * x) + b[4] * _exp(-b[5] * x)


def _rat7(b, x):  # Hahn1, Thurber
    return (b[0] + b[1] * x + b[2] * x**2 + b[3] * x**3) / (1 + b[4] * x + b[5] * x**2 + b[6] * x**3)


def _enso(b, x):
    w = 2 * np.pi * x
    return (b[0] + b[1] * _cos(w / 12) + b[2] * _sin(w / 12) + b[4] * _cos(w / b[3]) + b[5] * _sin(w / b[3])
            + b[7] * _cos(w / b[6]) + b[8] * _sin(w / b[6]))


#: name -> (difficulty, model(b, x) with b a sequence of floats)
MODELS: dict[str, tuple[str, Callable]] = {
    "Misra1a": ("lower", lambda b, x: b[0] * (1 - _exp(-b[1] * x))),
    "Chwirut2": ("lower", lambda b, x: _exp(-b[0] * x) / (b[1] + b[2] * x)),
    "Chwirut1": ("lower", lambda b, x: _exp(-b[0] * x) / (b[1] + b[2] * x)),
    "Lanczos3": ("lower", _lanczos),
    "Gauss1": ("lower", _gauss),
    "Gauss2": ("lower", _gauss),
    "DanWood": ("lower", lambda b, x: b[0] * x ** b[1]),
    "Misra1b": ("lower", lambda b, x: b[0] * (1 - (1 + b[1] * x / 2) ** (-2))),
    "Kirby2": ("average", lambda b, x: (b[0] + b[1] * x + b[2] * x**2) / (1 + b[3] * x + b[4] * x**2)),
    "Hahn1": ("average", _rat7),
    "Nelson": ("average", lambda b, x: b[0] - b[1] * x[0] * _exp(-b[2] * x[1])),
    "MGH17": ("average", lambda b, x: b[0] + b[1] * _exp(-x * b[3]) + b[2] * _exp(-x * b[4])),
    "Lanczos1": ("average", _lanczos),
    "Lanczos2": ("average", _lanczos),
    "Gauss3": ("average", _gauss),
    "Misra1c": ("average", lambda b, x: b[0] * (1 - (1 + 2 * b[1] * x) ** (-0.5))),
    "Misra1d": ("average", lambda b, x: b[0] * b[1] * x * ((1 + b[1] * x) ** (-1))),
    "Roszman1": ("average", lambda b, x: b[0] - b[1] * x - _arctan(b[2] / (x - b[3])) / np.pi),
    "ENSO": ("average", _enso),
    "MGH09": ("higher", lambda b, x: b[0] * (x**2 + x * b[1]) / (x**2 + x * b[2] + b[3])),
    "Thurber": ("higher", _rat7),
    "BoxBOD": ("higher", lambda b, x: b[0] * (1 - _exp(-b[1] * x))),
    "Rat42": ("higher", lambda b, x: b[0] / (1 + _exp(b[1] - b[2] * x))),
    "MGH10": ("higher", lambda b, x: b[0] * _exp(b[1] / (x + b[2]))),
    "Eckerle4": ("higher", lambda b, x: (b[0] / b[1]) * _exp(-0.5 * ((x - b[2]) / b[1]) ** 2)),
    "Rat43": ("higher", lambda b, x: b[0] / ((1 + _exp(b[1] - b[2] * x)) ** (1 / b[3]))),
    "Bennett5": ("higher", lambda b, x: b[0] * (b[1] + x) ** (-1 / b[2])),
}


@dataclass
class NistProblem:
    """One NIST problem as read from its ``.dat`` file."""

    name: str
    difficulty: str
    names: list[str]
    starts: tuple[list[float], list[float]]
    certified: np.ndarray
    certified_stderr: np.ndarray
    certified_rss: float
    x: np.ndarray  # (n,) or (2, n) for Nelson
    y: np.ndarray  # log(y) for Nelson
    model: Callable

    def residual(self, params) -> np.ndarray:
        """``y - model`` with the values of ``params`` (a fitcore or lmfit Parameters)."""
        return self.y - self.model([params[n].value for n in self.names], self.x)

    def plain_residual(self, b) -> np.ndarray:
        """``y - model`` for a plain parameter vector."""
        return self.y - self.model(b, self.x)


def _lines(header: str, what: str) -> tuple[int, int]:
    m = re.search(rf"{what}\s*\(lines\s+(\d+)\s+to\s+(\d+)\)", header)
    if m is None:
        raise ValueError(f"no '{what}' line range in header")
    return int(m.group(1)), int(m.group(2))


def load(name: str, folder: Path = NIST_DIR) -> NistProblem:
    """Read ``folder/name.dat``."""
    text = (folder / f"{name}.dat").read_text().splitlines()
    header = "\n".join(text[:20])
    s0, s1 = _lines(header, "Starting Values")
    d0, d1 = _lines(header, "Data")
    names, st1, st2, cert, cerr = [], [], [], [], []
    for line in text[s0 - 1:s1]:
        left, right = line.split("=")
        f = right.split()
        names.append(left.strip())
        st1.append(float(f[0]))
        st2.append(float(f[1]))
        cert.append(float(f[2]))
        cerr.append(float(f[3]))
    rss = next(float(line.split(":")[1]) for line in text if line.startswith("Residual Sum of Squares"))
    data = np.array([[float(v) for v in line.split()] for line in text[d0 - 1:d1] if line.strip()])
    y = data[:, 0]
    x = data[:, 1:].T if data.shape[1] > 2 else data[:, 1]
    difficulty, model = MODELS[name]
    if name == "Nelson":
        y = np.log(y)
    return NistProblem(name, difficulty, names, (st1, st2), np.array(cert), np.array(cerr), rss, x, y, model)


def available() -> bool:
    """Whether the data folder holds every problem."""
    return all((NIST_DIR / f"{n}.dat").is_file() for n in MODELS)


def lre(value: np.ndarray, certified: np.ndarray) -> float:
    """Log relative error (digits of agreement), minimum over the parameters, capped at 11."""
    value = np.asarray(value, dtype=float)
    if value.shape != certified.shape or not np.all(np.isfinite(value)):
        return 0.0
    rel = np.abs(value - certified) / np.abs(certified)
    worst = float(np.max(rel))
    return 11.0 if worst == 0.0 else max(0.0, min(11.0, -math.log10(worst)))


@dataclass
class Outcome:
    """One fit's result against the certified answer."""

    problem: str
    difficulty: str
    start: int
    lre_values: float
    lre_stderr: float
    max_rel_error: float
    nfev: int
    success: bool
    message: str
    error: str | None = None
    nfev_errorbars: int = 0


def run(problem: NistProblem, start: int, engine: str = "leastsq", **kws) -> Outcome:
    """Fit ``problem`` from start 1 or 2 with fitcore's defaults; never raises for a failed fit."""
    import fitcore

    params = fitcore.Parameters()
    for n, v in zip(problem.names, problem.starts[start - 1]):
        params.add(n, value=v)
    try:
        fit = fitcore.minimize(problem.residual, params, engine=engine, **kws)
    except Exception as exc:  # a fit that raises is a failure, with its reason
        return Outcome(problem.name, problem.difficulty, start, 0.0, 0.0, math.inf, 0, False, "",
                       f"{type(exc).__name__}: {exc}")
    vals = np.array([params[n].value for n in problem.names])
    errs = np.array([np.nan if params[n].stderr is None else params[n].stderr for n in problem.names])
    rel = float(np.max(np.abs(vals - problem.certified) / np.abs(problem.certified)))
    return Outcome(problem.name, problem.difficulty, start, lre(vals, problem.certified),
                   lre(errs, problem.certified_stderr), rel, fit.nfev, bool(fit.success), fit.message,
                   nfev_errorbars=fit.nfev_errorbars)
