"""Profile refits: the fixed-parameter fits behind conf_interval and conf_interval2d.

A :class:`FitDef` is a picklable snapshot of a finished fit (function, data,
best-fit Parameters, engine and options, covariance). A :class:`Refitter`
holds what every refit of one profile shares: a copy of those Parameters with
the profiled parameter(s) fixed and a private Minimizer that refits them with
the engine and options of the original fit, skipping the covariance step.
Nothing here touches the user's Parameters.

:class:`SideTask` finds the limits of one parameter on one side of the best
fit; :class:`RowTask` computes one row of a 2-d grid. Each is a
self-contained unit (it depends on nothing computed by another unit), so
serial and parallel runs give identical results.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from .fitting import PreparedFit
from .minimizer import Minimizer
from .parameters import Parameters
from .result import FitResult
from .stats import FitStats

__all__ = ["FitDef", "Note", "Point", "Refitter", "RowResult", "RowTask", "SideResult", "SideTask"]

Array = NDArray[np.float64]

#: a limit is accepted when the next interpolation step would move it by less than this fraction of its
#: half-width (the accepted value's own error is far smaller: the steps converge superlinearly), or when a
#: bracket around it is this narrow
RTOL = 1e-3
#: largest growth of the search distance per refit while no point beyond the level is known
MAX_GROWTH = 4.0
#: relative step used to find limits when the fit has no error bars
HEURISTIC_STEP = 0.05


class SubJacobian:
    """The user's ``Dfun`` restricted to the columns of the parameters a refit varies (picklable)."""

    def __init__(self, dfun: Callable[..., Any], cols: list[int], col_deriv: bool) -> None:
        self.dfun, self.cols, self.col_deriv = dfun, cols, col_deriv

    def __call__(self, params: Parameters, *args: Any, **kws: Any) -> Array:
        jac = np.asarray(self.dfun(params, *args, **kws), dtype=float)
        return jac[self.cols] if self.col_deriv else jac[:, self.cols]


@dataclass
class FitDef:
    """Picklable snapshot of a finished fit: everything a refit needs."""

    function: Callable[..., Any]
    params: Parameters
    args: tuple[Any, ...]
    kws: dict[str, Any]
    nan_policy: str
    max_nfev: int | None
    engine: str
    engine_options: dict[str, Any]
    core_options: dict[str, Any]
    var_names: list[str]
    best: FitStats
    covar: Array | None
    symbols: dict[str, Any] = field(default_factory=dict)  # user additions to ``Minimizer.asteval.symtable``

    @classmethod
    def of(cls, fit: Minimizer, result: FitResult) -> FitDef:
        """Snapshot ``result``, a fit made by ``fit`` (its Parameters are copied, never referenced)."""
        core = {k: v for k, v in result.core_options.items() if k != "iter_cb"}
        core.setdefault("scale_covar", fit.scale_covar)
        best = FitStats(result.ndata, result.nvarys, result.nfree, result.chisqr, result.redchi, result.objective,
                        result.errordef)
        assert result.engine is not None
        return cls(fit.userfcn, result.params.copy(), fit.userargs, dict(fit.userkws), fit.nan_policy, fit.max_nfev,
                   result.engine, dict(result.engine_options), core, list(result.var_names), best,
                   None if result.covar is None else np.array(result.covar, dtype=float), fit.user_symbols())

    def value(self, name: str) -> float:
        """Best-fit value of ``name``."""
        val = self.params[name].value
        assert val is not None
        return float(val)

    def slopes(self, fixed: Sequence[str], free: Sequence[str]) -> Array:
        """Regression of the free parameters on the fixed ones from the covariance (zeros without one)."""
        if self.covar is None:
            return np.zeros((len(free), len(fixed)))
        fi = [self.var_names.index(n) for n in fixed]
        ri = [self.var_names.index(n) for n in free]
        cff = self.covar[np.ix_(fi, fi)]
        crf = self.covar[np.ix_(ri, fi)]
        try:
            return np.asarray(np.linalg.solve(cff, crf.T).T, dtype=float)
        except np.linalg.LinAlgError:
            return np.zeros((len(free), len(fixed)))


class Refitter:
    """Refits of one fit with the parameters ``fixed`` held at given values.

    Parameters
    ----------
    fitdef : FitDef
        The fit being profiled.
    fixed : sequence of str
        Names of the varied parameters to fix.
    """

    def __init__(self, fitdef: FitDef, fixed: Sequence[str]) -> None:
        self.fitdef = fitdef
        self.params = fitdef.params.copy()
        for n in fixed:
            self.params[n].vary = False
        self.fixed = [self.params[n] for n in fixed]
        self.free_names = [n for n in fitdef.var_names if n not in fixed]
        self.free = [self.params[n] for n in self.free_names]
        self.lower = np.array([p.min for p in self.free], dtype=float)
        self.upper = np.array([p.max for p in self.free], dtype=float)
        self.best_free = np.array([fitdef.value(n) for n in self.free_names], dtype=float)
        self.slopes = fitdef.slopes(fixed, self.free_names)
        self.nfix = len(self.fixed)
        self.nfev = 0
        core = dict(fitdef.core_options)
        if core.get("Dfun") is not None:
            cols = [fitdef.var_names.index(n) for n in self.free_names]
            core["Dfun"] = SubJacobian(core["Dfun"], cols, bool(core.get("col_deriv", False)))
        self.options = {**fitdef.engine_options, **core}
        self.minimizer = Minimizer(fitdef.function, self.params, fcn_args=fitdef.args, fcn_kws=fitdef.kws,
                                   nan_policy=fitdef.nan_policy, max_nfev=fitdef.max_nfev, calc_covar=False)
        if fitdef.symbols:
            self.minimizer.add_symbols(fitdef.symbols)
        self._fit: PreparedFit | None = None  # set up at the first refit, reused by the others

    def predict(self, fixed_values: Sequence[float]) -> Array:
        """Linear prediction of the free parameters' values from the covariance."""
        d = np.array([v - self.fitdef.value(str(p.name)) for v, p in zip(fixed_values, self.fixed)])
        return self.best_free + self.slopes @ d

    def refit(self, fixed_values: Sequence[float], start: Array) -> tuple[float, Array]:
        """Chi-square and free values of the fit with the fixed parameters at ``fixed_values``.

        The free parameters start at ``start`` (clipped into their bounds).
        """
        for par, val in zip(self.fixed, fixed_values):
            par.value = float(val)
        if not self.free:
            return self._evaluate(), np.empty(0)
        for par, val in zip(self.free, np.clip(start, self.lower, self.upper).tolist()):
            par.value = val
        if self._fit is None:
            self._fit = self.minimizer.prepared(self.fitdef.engine, **self.options)
        found = self._fit.minimum()
        self.nfev += found.nfev
        if found.aborted:  # its chi-square is not the profile's: do not use it
            raise RuntimeError(f"the refit did not finish: {found.stop_reason}")
        return found.value, np.array([p.value for p in self.free], dtype=float)

    def _evaluate(self) -> float:
        """Chi-square with every parameter fixed: no fit, one evaluation."""
        from .constraints import Constraints

        m = self.minimizer
        if any(p.expr is not None for p in self.params.values()):
            Constraints(self.params, m.asteval.symtable).evaluate()
        r = np.asarray(m.userfcn(self.params, *m.userargs, **m.userkws), dtype=float).ravel()
        self.nfev += 1
        if self.fitdef.nan_policy == "omit":
            r = r[np.isfinite(r)]
        return float(r @ r)


@dataclass
class Note:
    """Why a limit was not found: ``kind`` is 'bound', 'maxiter', 'error' or 'lower' (a lower chi-square)."""

    kind: str
    value: float  # parameter value where it happened
    chisqr: float  # chi-square there
    text: str = ""


@dataclass
class SideResult:
    """Limits of one parameter on one side of the best fit, and the profile points seen."""

    name: str
    sign: int
    limits: list[float]  # one per level: the value, +/-inf beyond a bound, nan when not found
    notes: list[Note]
    points: list[Point]
    free_names: list[str]
    nrefit: int
    nfev: int


class Point(NamedTuple):
    """A solved point of a profile."""

    distance: float  # from the best fit, along the profiled parameter
    u: float  # sqrt(chisqr - chisqr_best)
    value: float  # of the profiled parameter
    chisqr: float
    free: Array  # values of the parameters refitted there


class _Task:
    """A picklable unit of refits; its ``refitter`` (a per-process cache) never travels."""

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["refitter"] = None
        return state


@dataclass
class SideTask(_Task):
    """Find the limits of ``name`` on one side (``sign`` -1 or +1) for chi-square increases ``deltas``.

    The profile is searched in ``u = sqrt(chisqr - chisqr_best)``, which is
    nearly linear in the parameter's distance from the best fit, by inverse
    quadratic interpolation through the points seen, kept inside a bracket
    once one is known. Every refit starts from a linear extrapolation of the
    nearest solved points (the covariance prediction for the first).
    """

    fitdef: FitDef
    name: str
    sign: int
    deltas: list[float]  # ascending
    step: float  # expected distance per unit of u
    maxiter: int
    refitter: Refitter | None = field(default=None, repr=False)


    def __call__(self) -> SideResult:
        """Run the search."""
        fd = self.fitdef
        rf = self.refitter if self.refitter is not None else Refitter(fd, [self.name])
        par = fd.params[self.name]
        p0, s = fd.value(self.name), self.sign
        self._bound = (par.max - p0) if s > 0 else (p0 - par.min)  # distance to the bound, maybe inf
        self._bound_value = par.max if s > 0 else par.min
        self._rf, self._p0, self._chi0 = rf, p0, fd.best.chisqr
        self._pts: list[Point] = [Point(0.0, 0.0, p0, self._chi0, rf.best_free)]
        self._nrefit = 0
        nfev0 = rf.nfev
        self._lower: Note | None = None
        limits: list[float] = []
        notes: list[Note] = []
        failed: Note | None = None
        for delta in self.deltas:
            if failed is None:
                d, failed = self._find(math.sqrt(delta))
                if d is not None:
                    limits.append(p0 + s * d)
                    continue
            assert failed is not None
            limits.append(s * math.inf if failed.kind == "bound" else math.nan)
        if failed is not None:
            notes.append(failed)
        if self._lower is not None:
            notes.append(self._lower)
        points = self._pts[1:]
        del self._rf
        return SideResult(self.name, s, limits, notes, points, rf.free_names, self._nrefit, rf.nfev - nfev0)

    def _solve(self, d: float) -> None:
        value = self._bound_value if d == self._bound else self._p0 + self.sign * d
        rf = self._rf
        start = _extrapolate(self._pts, d, lambda: rf.predict([value]))
        chi, q = rf.refit([value], start)
        self._nrefit += 1
        if chi < self._chi0 * (1 - 1e-9) and self._lower is None:
            self._lower = Note("lower", value, chi)
        self._pts.append(Point(d, math.sqrt(max(chi - self._chi0, 0.0)), value, chi, q))
        self._pts.sort(key=lambda t: t.distance)

    def _find(self, target: float) -> tuple[float | None, Note | None]:
        """Distance where u reaches ``target``, or ``(None, why)``."""
        if target <= 0.0:  # a level so small that its chi-square increase rounds to zero: the best fit itself
            return 0.0, None
        last: float | None = None
        inside = 0
        bisected = False
        while True:
            pts = self._pts
            above = [p for p in pts if p.u >= target]
            hi = min(above, key=lambda p: p.distance) if above else None
            lo = max((p for p in pts if p.u < target and (hi is None or p.distance < hi.distance)),
                     key=lambda p: p.distance)
            if hi is not None and hi.u == target:
                return hi.distance, None
            bisected = False
            if hi is not None:
                if hi.distance - lo.distance <= RTOL * hi.distance:
                    return _secant(lo, hi, target), None
                inside += 1
                d = _inverse_interp([p for p in pts if p.distance <= hi.distance], target, [lo, hi])
                if not lo.distance < d < hi.distance:
                    d = _secant(lo, hi, target)
                if not lo.distance < d < hi.distance or inside > 6 and inside % 2:
                    d, bisected = 0.5 * (lo.distance + hi.distance), True
            else:
                if lo.distance >= self._bound:
                    return None, Note("bound", lo.value, lo.chisqr)
                if len(pts) == 1:
                    d = target * self.step
                else:
                    d = _inverse_interp(pts, target, [lo])
                    if not (lo.distance < d < math.inf):
                        d = _secant(pts[-2], pts[-1], target)
                    if not (lo.distance < d < math.inf):
                        d = lo.distance * MAX_GROWTH
                    d = min(d, lo.distance * MAX_GROWTH)
                d = min(d, self._bound)
            if last is not None and not bisected and abs(d - last) <= RTOL * d:
                return d, None
            if self._nrefit >= self.maxiter:
                return None, Note("maxiter", lo.value, lo.chisqr, f"maxiter={self.maxiter} refits spent")
            try:
                self._solve(d)
            except Exception as exc:  # noqa: BLE001 - a refit failed far from the best fit: the profile ends here
                value = self._p0 + self.sign * d
                return None, Note("error", value, math.nan, f"{type(exc).__name__}: {exc}")
            last = d


def _secant(a: Point, b: Point, target: float) -> float:
    if b.u == a.u:
        return math.inf
    return a.distance + (b.distance - a.distance) * (target - a.u) / (b.u - a.u)


def _extrapolate(pts: list[Point], d: float, predict: Callable[[], Array]) -> Array:
    """Warm start at distance ``d``: linear through the two nearest solved points, else the covariance."""
    if len(pts) < 2:
        return predict()
    p1, p2 = sorted(pts, key=lambda p: abs(p.distance - d))[:2]
    d1, q1, d2, q2 = p1.distance, p1.free, p2.distance, p2.free
    if d1 == d2:
        return q1
    return q1 + (q2 - q1) * (d - d1) / (d2 - d1)


def _inverse_interp(pts: list[Point], target: float, first: list[Point]) -> float:
    """Distance at which u reaches ``target``: quadratic in u through ``first`` and the points nearest it."""
    chosen: list[tuple[float, float]] = []
    for p in first + sorted(pts, key=lambda p: abs(p.u - target)):
        if all(abs(p.u - c[1]) > 1e-12 * target for c in chosen):
            chosen.append((p.distance, p.u))
        if len(chosen) == 3:
            break
    if len(chosen) == 1:
        d0, u0 = chosen[0]
        return d0 * target / u0 if u0 > 0 else math.inf
    total = 0.0
    for i, (di, ui) in enumerate(chosen):
        w = di
        for k, (_, uk) in enumerate(chosen):
            if k != i:
                w *= (target - uk) / (ui - uk)
        total += w
    return total


@dataclass
class RowResult:
    """One row (fixed y) of a 2-d grid: chi-square per column."""

    index: int
    chisqr: Array
    errors: list[str]
    nfev: int


@dataclass
class RowTask(_Task):
    """Refit every point of row ``index`` of a 2-d grid (``y`` fixed, ``x`` along ``xs``).

    The row starts at the column nearest the best fit (covariance prediction)
    and walks outwards both ways, each refit warm-started by linear
    extrapolation from the two previous points.
    """

    fitdef: FitDef
    names: tuple[str, str]
    index: int
    y: float
    xs: Array
    refitter: Refitter | None = field(default=None, repr=False)


    def __call__(self) -> RowResult:
        """Refit the row."""
        rf = self.refitter if self.refitter is not None else Refitter(self.fitdef, list(self.names))
        xs = self.xs
        nx = xs.size
        nfev0 = rf.nfev
        chi = np.full(nx, np.nan)
        errors: list[str] = []
        i0 = int(np.argmin(np.abs(xs - self.fitdef.value(self.names[0]))))
        first: list[Array] = []
        for order in (range(i0, nx), range(i0 - 1, -1, -1)):
            prev: list[Array] = list(first)
            for i in order:
                if len(prev) >= 2:
                    start = 2 * prev[-1] - prev[-2]
                elif prev:
                    start = prev[-1]
                else:
                    start = rf.predict([xs[i], self.y])
                try:
                    c, q = rf.refit([xs[i], self.y], start)
                except Exception as exc:  # noqa: BLE001 - the point becomes nan, reported with a warning
                    errors.append(f"{self.names[0]}={xs[i]:.7g}, {self.names[1]}={self.y:.7g}: "
                                  f"{type(exc).__name__}: {exc}")
                    prev = []
                    continue
                chi[i] = c
                if i == i0:
                    first = [q]
                prev = (prev + [q])[-2:]
        return RowResult(self.index, chi, errors, rf.nfev - nfev0)
