"""Vectorized fits: a chunk of datasets fitted as arrays by one batched engine.

``fit_many(function, params, datasets, vectorized=True)`` calls the user's
residual once per engine step for a whole chunk of fits. The function is the
one a single fit would call, written with numpy broadcasting: each varied or
constrained parameter's ``.value`` is an array of shape ``(n_fits, 1)``
(``(n_fits, 1, 1)`` for 2-D data: one trailing 1 per dimension of the
data), fixed parameters are plain floats, and each array argument of the
datasets is stacked along a new leading axis of length ``n_fits``. It
returns the residuals of all fits, one row (or block) per fit.

This module builds, for one chunk, the :class:`~fitcore.BatchProblem` a
batched engine solves: the stacked datasets, the MINUIT bound transform and
the constraint expressions evaluated on arrays, the evaluation count per fit,
and the failure of a single fit (non-finite residual, an exception raised for
its data) recorded without stopping the others. After the engine it computes
chi-square, the statistics and the covariance of the whole chunk from one
batched Jacobian at the answers, into a :class:`BatchArrays`. The datasets'
layout and stacking are :mod:`fitcore.batch_data`'s, the result arrays
:mod:`fitcore.batch_arrays`'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .batch_arrays import BatchArrays
from .batch_data import DataLayout, split_dataset, take_fits
from .batch_problem import BatchEngineResult, BatchProblem
from .constraints import Constraints, base_symtable
from .errors import (
    ConstraintError,
    EngineCapabilityError,
    EngineError,
    EngineOptionError,
    NonFiniteResidualError,
    ResidualError,
)
from .parameters import Parameters
from .plugins import EngineInfo, get_engine, list_engines
from .specs import resolve

__all__ = [
    "ColumnParameter",
    "ColumnParameters",
    "BatchArrays",
    "DataLayout",
    "VectorizedTask",
    "prepare_vectorized",
    "check_broadcasting",
    "failed_chunk",
]

Array = NDArray[np.float64]
_SQRT_EPS = math.sqrt(float(np.finfo(float).eps))
_CBRT_EPS = float(np.finfo(float).eps) ** (1.0 / 3.0)
#: scaled Gram matrices with a larger condition number (1-norm) give no error bars (the covariance would be noise)
MAX_CONDITION = 1e14
#: core options a vectorized fit accepts
VECTOR_CORE_OPTIONS = ("max_nfev", "Dfun", "scale_covar", "nan_policy")
_REFUSED = {
    "iter_cb": "iter_cb is called once per iteration of one fit; a vectorized batch has no single iterate "
               "(use vectorized=False)",
    "col_deriv": "a vectorized Dfun returns shape (n_fits, n_points, n_vars); col_deriv does not apply",
    "seed": "batched engines are deterministic; seed does not apply",
}


class ColumnParameter:
    """One parameter as a vectorized residual sees it: ``value`` is an array with one row per fit.

    Attributes
    ----------
    name : str
    value : ndarray or float
        Shape ``(n_fits, 1, ...)`` for varied and constrained parameters, a
        float for fixed ones.
    min, max : float
    vary : bool
    expr : str or None
    """

    __slots__ = ("name", "value", "min", "max", "vary", "expr")

    def __init__(self, name: str, value: Any, min: float, max: float, vary: bool, expr: str | None) -> None:
        self.name, self.value, self.min, self.max, self.vary, self.expr = name, value, min, max, vary, expr

    def __float__(self) -> float:
        if isinstance(self.value, float):
            return self.value
        raise TypeError(f"float() of parameter {self.name!r}: in a vectorized fit its value is an array with one "
                        "row per fit; use params[name].value with numpy functions (np.exp, not math.exp)")

    def __repr__(self) -> str:
        shape = getattr(self.value, "shape", ())
        return f"<ColumnParameter {self.name!r} shape={shape}>"


class ColumnParameters(dict):
    """The parameters of a vectorized residual: a dict of :class:`ColumnParameter` by name."""

    def valuesdict(self) -> dict[str, Any]:
        """Return ``{name: value}`` (arrays for varied and constrained parameters)."""
        return {k: p.value for k, p in self.items()}


class _Transform:
    """The MINUIT bound transform of :class:`fitcore.bounds.BoundsTransform`, on arrays of shape (n, nvar)."""

    def __init__(self, lower: Sequence[float], upper: Sequence[float]) -> None:
        self.lo = np.asarray(lower, dtype=float)
        self.hi = np.asarray(upper, dtype=float)
        self.both = np.isfinite(self.lo) & np.isfinite(self.hi)
        self.low_only = np.isfinite(self.lo) & ~np.isfinite(self.hi)
        self.up_only = ~np.isfinite(self.lo) & np.isfinite(self.hi)
        self.identity = not (self.both.any() or self.low_only.any() or self.up_only.any())
        self.half = np.where(self.both, (self.hi - self.lo) / 2.0, 1.0)
        self.bound = np.where(self.low_only | self.both, self.lo, np.where(self.up_only, self.hi, 0.0))

    def to_external(self, u: Array) -> Array:
        if self.identity:
            return u
        t = np.abs(u)
        dist = t * (t / (np.hypot(t, 1.0) + 1.0))
        two = np.minimum(self.lo + (np.sin(u) + 1.0) * self.half, self.hi)
        one = np.where(self.low_only, self.bound + dist, self.bound - dist)
        return np.where(self.both, two, np.where(self.low_only | self.up_only, one, u))

    def derivative(self, u: Array) -> Array:
        if self.identity:
            return np.ones_like(u)
        one = u / np.hypot(u, 1.0)
        return np.where(self.both, np.cos(u) * self.half,
                        np.where(self.low_only, one, np.where(self.up_only, -one, 1.0)))

    def start(self, v: Array) -> Array:
        """Internal starting values (moved off a bound, where the transform's derivative vanishes)."""
        if self.identity:
            return v.copy()
        two = np.arcsin(np.clip((v - self.lo) / self.half - 1.0, -1.0, 1.0))
        w = np.maximum(np.where(self.low_only, v - self.lo, self.hi - v), 0.0)
        one = np.sqrt(w * (w + 2.0))
        u = np.where(self.both, two, np.where(self.low_only | self.up_only, one, v))
        stuck_two = self.both & (np.abs(np.cos(u)) < 1e-3)
        u = np.where(stuck_two, np.copysign(math.pi / 2 - 1e-2, u), u)
        stuck_one = (self.low_only | self.up_only) & (np.abs(u) < 1e-3)
        return np.where(stuck_one, 1e-2, u)


class _Expressions:
    """Constraint expressions evaluated on arrays, in dependency order, compiled by the expression sandbox."""

    def __init__(self, params: Parameters) -> None:
        self._params = params
        self.order = list(Constraints(params, base_symtable()).names())
        self.fixed = {k: float(p.value) for k, p in params.items()
                      if not p.vary and p.expr is None}
        self._plan: Constraints | None = None

    def evaluate(self, values: Mapping[str, Any], shape: tuple[int, ...]) -> dict[str, Any]:
        if not self.order:
            return {}
        if self._plan is None:
            self._plan = Constraints(self._params, base_symtable())
        namespace = dict(self._plan.namespace)
        namespace.update(self.fixed)
        namespace.update(values)
        out: dict[str, Any] = {}
        for c in self._plan.ordered:
            try:
                arr = np.broadcast_to(np.asarray(c.code.evaluate(namespace), dtype=float), shape)
            except Exception as exc:
                raise ConstraintError(f"parameter {c.name!r}: evaluating {c.expr!r} on the batch's arrays failed "
                                      f"with {type(exc).__name__}: {exc}", c.name, c.expr) from None
            namespace[c.name] = arr
            out[c.name] = arr
        return out


class _Model:
    """The user's residual (and Dfun) for a chunk: external values in, residual rows out."""

    def __init__(self, function: Callable[..., Any], params: Parameters, var_names: Sequence[str],
                 expressions: _Expressions, args: tuple[Any, ...], kws: dict[str, Any], ndim: int,
                 dfun: Callable[..., Any] | None) -> None:
        self.function, self.dfun = function, dfun
        self.var_names = list(var_names)
        self.expressions = expressions
        self.args, self.kws, self.ndim = args, kws, ndim
        self.n = _leading(args, kws)
        self.fixed = {k: float(p.value) for k, p in params.items()
                      if not p.vary and p.expr is None}
        self.meta = {k: (p.min, p.max, p.vary and p.expr is None, p.expr) for k, p in params.items()}
        self.order = list(params)
        self.ndata: int | None = None
        self._taken: tuple[NDArray[np.intp] | None, tuple[Any, ...], dict[str, Any]] = (None, args, kws)

    def columns(self, v: Array) -> ColumnParameters:
        """The parameters for rows ``v`` (shape (k, nvar)) of external values."""
        shape = (v.shape[0],) + (1,) * self.ndim
        values: dict[str, Any] = dict(self.fixed)
        for j, name in enumerate(self.var_names):
            values[name] = v[:, j].reshape(shape)
        values.update(self.expressions.evaluate(values, shape))
        out = ColumnParameters()
        for name in self.order:
            lo, hi, vary, expr = self.meta[name]
            out[name] = ColumnParameter(name, values[name], lo, hi, vary, expr)
        return out

    def data(self, fits: NDArray[np.intp] | None) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The stacked arguments of fits ``fits`` (all when None); the last selection is kept for the next call."""
        if fits is None or (fits.size == self.n and fits[0] == 0 and fits[-1] == self.n - 1):
            return self.args, self.kws
        last, args, kws = self._taken
        if last is not None and last.size == fits.size and np.array_equal(last, fits):
            return args, kws
        args = tuple(take_fits(a, fits) for a in self.args)
        kws = {k: take_fits(a, fits) for k, a in self.kws.items()}
        self._taken = (fits.copy(), args, kws)
        return args, kws

    def residual(self, v: Array, fits: NDArray[np.intp] | None = None, copy: bool = True) -> Array:
        args, kws = self.data(fits)
        out = self.function(self.columns(v), *args, **kws)
        return self._rows(out, v.shape[0], "residual function", copy)

    def jacobian(self, v: Array, fits: NDArray[np.intp] | None = None) -> Array:
        assert self.dfun is not None
        args, kws = self.data(fits)
        out = np.asarray(self.dfun(self.columns(v), *args, **kws), dtype=float)  # used at once, never written
        want = (v.shape[0], self.ndata, len(self.var_names))
        if out.shape != want:
            raise ResidualError(f"the vectorized Dfun returned shape {out.shape} for {v.shape[0]} fits; expected "
                                f"{want}: (n_fits, n_points, n_vars), derivatives by the varied parameters "
                                f"{', '.join(self.var_names)} in that order")
        return out

    def _rows(self, out: Any, k: int, what: str, copy: bool = True) -> Array:
        try:  # a copy for the engine: the function may refill and return one buffer, and the engine keeps it
            arr = np.array(out, dtype=float) if copy else np.asarray(out, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ResidualError(f"the {what} returned {type(out).__name__}, which is not an array of numbers: "
                                f"{exc}") from None
        if arr.ndim == 0 or arr.shape[0] != k:
            raise ResidualError(
                f"the vectorized {what} returned shape {arr.shape} for {k} fits; it must return one row per fit "
                f"(shape ({k}, ...)). Each parameter's value is an array of shape ({k}{', 1' * self.ndim}) and "
                "each data argument is stacked along a leading axis: write the residual with numpy broadcasting")
        rows = arr.reshape(k, -1)
        if self.ndata is None:
            self.ndata = rows.shape[1]
        elif rows.shape[1] != self.ndata:
            raise ResidualError(f"the vectorized {what} returned {rows.shape[1]} values per fit, before "
                                f"{self.ndata}; the residual's length must not change")
        return rows


def _leading(args: tuple[Any, ...], kws: dict[str, Any]) -> int:
    for a in [*args, *kws.values()]:
        if isinstance(a, np.ndarray) and a.ndim:
            return int(a.shape[0])
    return 0


@dataclass(frozen=True)
class _Setup:
    """What every chunk shares, validated once in the caller's process."""

    function: Callable[..., Any]
    params: Parameters
    engine: str
    options: dict[str, Any]
    max_nfev: int | None
    dfun: Callable[..., Any] | None
    scale_covar: bool
    layout: DataLayout
    #: every dataset was checked in the caller's process (a sized collection): chunks need not check again
    prechecked: bool = False
    #: ``check_item(index, dataset)`` raising TypeError for a malformed dataset (fit_many's own check)
    check_item: Callable[[int, Any], None] | None = None

    @property
    def free(self) -> tuple[str, ...]:
        """Names of the varied parameters."""
        return tuple(k for k, p in self.params.items() if p.vary and p.expr is None)

    @property
    def core_options(self) -> dict[str, Any]:
        """The core options given for these fits."""
        out: dict[str, Any] = {"scale_covar": self.scale_covar}
        if self.max_nfev is not None:
            out["max_nfev"] = self.max_nfev
        if self.dfun is not None:
            out["Dfun"] = self.dfun
        return out


def _batched_engine(name: str) -> EngineInfo:
    info = get_engine(name)
    if not info.spec.batched:
        batched = [e.name for e in list_engines(batched=True)]
        raise EngineCapabilityError(
            f"engine {name!r} fits one problem at a time; fit_many(vectorized=True) needs a batched engine: "
            f"{', '.join(batched) or 'none installed (pip install fitcore-engine-batch-lm)'}", name)
    return info


def prepare_vectorized(function: Callable[..., Any], params: Parameters, engine: str | None,
                       options: Mapping[str, Any], first: Any) -> _Setup:
    """Validate a vectorized fit_many before any work: engine, options, parameters, the first dataset's layout.

    Raises
    ------
    fitcore.FitcoreError, TypeError, ValueError
        Naming what is wrong and what would work.
    """
    name = "batch_lm" if engine is None else engine
    info = _batched_engine(name)
    spec = info.spec
    core = {k: options[k] for k in options if k in VECTOR_CORE_OPTIONS}
    engine_opts = {k: v for k, v in options.items() if k not in VECTOR_CORE_OPTIONS}
    for key in engine_opts:
        if key in _REFUSED:
            raise EngineOptionError(f"fit_many(vectorized=True): {key} is not supported: {_REFUSED[key]}", name, key)
        if key not in spec.options:
            raise EngineOptionError(
                f"engine {name!r} has no option {key!r}; its options are {', '.join(spec.options) or '(none)'}, "
                f"and the core's for vectorized fits {', '.join(VECTOR_CORE_OPTIONS)}", name, key)
    nan_policy = core.get("nan_policy", "raise")
    if nan_policy != "raise":
        raise EngineOptionError(f"fit_many(vectorized=True): nan_policy={nan_policy!r} is not supported: a fit whose "
                                "residual is not finite fails alone (nan_policy='raise'); use vectorized=False for "
                                "'omit' or 'propagate'", name, "nan_policy")
    max_nfev = core.get("max_nfev")
    if max_nfev is not None and (isinstance(max_nfev, bool) or not isinstance(max_nfev, int) or max_nfev < 1):
        raise EngineOptionError(f"max_nfev={max_nfev!r}; expected a positive integer (evaluations per fit) or None",
                                name, "max_nfev")
    dfun = core.get("Dfun")
    if dfun is not None and not callable(dfun):
        raise TypeError(f"Dfun must be callable, got {type(dfun).__name__}")
    scale_covar = core.get("scale_covar", True)
    if not isinstance(scale_covar, (bool, np.bool_)):
        raise TypeError(f"scale_covar must be True or False, not {scale_covar!r}")
    if not isinstance(params, Parameters):
        raise TypeError(f"params must be a fitcore Parameters, not {type(params).__name__}")
    if not callable(function):
        raise TypeError(f"the residual function must be callable, got {type(function).__name__}")
    free = [k for k, p in params.items() if p.vary and p.expr is None]
    if not free:
        raise ValueError("no parameter is varied: set vary=True on at least one parameter")
    for k, p in params.items():
        if p.value is None and p.expr is None:
            raise ValueError(f"parameter {k!r} has no value; give a starting value")
    _Expressions(params)  # unknown names, cycles, unsafe syntax: refused now
    lower = [params[k].min for k in free]
    upper = [params[k].max for k in free]
    if spec.bounds == "required_finite":
        unbounded = [k for k, lo, hi in zip(free, lower, upper) if not (math.isfinite(lo) and math.isfinite(hi))]
        if unbounded:
            raise EngineCapabilityError(f"engine {name!r} needs two finite bounds on every varied parameter; "
                                        f"{', '.join(unbounded)} lack them", name)
    if spec.precheck is not None:
        resolve(spec.precheck)(dict(engine_opts), np.array(lower), np.array(upper), list(free))
    info.load()
    return _Setup(function, params.copy(), name, engine_opts, max_nfev, dfun, bool(scale_covar), DataLayout.of(first))


def _start_values(params: Parameters, names: Sequence[str]) -> Array:
    return np.array([float(params[k].value) for k in names])


def check_broadcasting(setup: _Setup, datasets: Sequence[Any]) -> int:
    """Check that the residual (and Dfun) broadcast: two datasets together give what each gives alone.

    The two fits get different parameter values (the start, and the start
    moved by about 0.1 %), so a function that mixes fits is caught too.
    Returns the number of residuals per fit.

    Raises
    ------
    fitcore.ResidualError
        Saying how the function fails to broadcast and how to write it.
    """
    params = setup.params
    free = [k for k, p in params.items() if p.vary and p.expr is None]
    v0 = _start_values(params, free)
    lo = np.array([params[k].min for k in free])
    hi = np.array([params[k].max for k in free])
    v1 = v0 * (1 + 1e-3) + 1e-3
    v1 = np.where(v1 < hi, v1, v0 * (1 - 1e-3) - 1e-3)
    v1 = np.where(v1 > lo, v1, v0)
    pick = list(datasets[:2])
    v = np.vstack([v0, v1])[: len(pick)]
    layout = setup.layout
    for i, d in enumerate(pick):
        layout.check(i, d)
    args, kws = layout.stack(pick)
    expressions = _Expressions(params)
    model = _Model(setup.function, params, free, expressions, args, kws, layout.ndim, setup.dfun)
    how = (f"fit_many(vectorized=True) calls the residual once for a chunk of fits, each parameter's value an "
           f"array of shape (n_fits{', 1' * layout.ndim}) and each data argument stacked along a leading axis; ")
    try:
        together = model.residual(v)
    except ResidualError as exc:
        raise ResidualError(f"{how}{exc}") from None
    except Exception as exc:
        raise ResidualError(
            f"{how}called that way for {len(pick)} datasets it raised {type(exc).__name__}: {exc}. Write it with "
            "numpy broadcasting (np.exp, not math.exp; no float() or if on parameter values), or use "
            "vectorized=False") from exc
    cols = model.columns(v)
    for i, dataset in enumerate(pick):
        single = params.copy()
        for name in single:
            val = cols[name].value
            single[name].value = float(val if isinstance(val, float) else np.ravel(val[i])[0])
        a, k = split_dataset(dataset)
        try:
            alone = np.asarray(setup.function(single, *a, **k), dtype=float).ravel()
        except Exception as exc:
            raise ResidualError(f"the residual raised {type(exc).__name__}: {exc} when called for dataset {i} alone "
                                "with plain Parameters; a vectorized residual must work both ways (it is the same "
                                "function a single fit calls)") from exc
        _compare(together[i], alone, i, "residual", how)
        if setup.dfun is not None:
            jac_together = model.jacobian(v)
            alone_j = np.asarray(setup.dfun(single, *a, **k), dtype=float)
            if alone_j.shape == (len(free), together.shape[1]):  # given one column per parameter
                alone_j = alone_j.T
            _compare(jac_together[i].ravel(), alone_j.ravel(), i, "Dfun", how)
    return int(together.shape[1])


def _compare(together: Array, alone: Array, i: int, what: str, how: str) -> None:
    if together.shape != alone.shape:
        raise ResidualError(f"{how}its {what} gave {together.size} values for dataset {i} evaluated with another "
                            f"dataset, but {alone.size} evaluated alone: it does not broadcast over the fits")
    scale = max(float(np.max(np.abs(alone[np.isfinite(alone)]), initial=0.0)), 1e-300)
    diff = np.abs(together - alone)
    same_nan = np.isnan(together) == np.isnan(alone)
    if not same_nan.all() or float(np.nanmax(diff, initial=0.0)) > 1e-9 * scale:
        raise ResidualError(
            f"{how}its {what} does not broadcast: for dataset {i}, evaluated together with another dataset at other "
            f"parameter values, it differs from evaluating dataset {i} alone (largest difference "
            f"{float(np.nanmax(diff, initial=0.0)):.3g}, scale {scale:.3g}). It probably mixes the fits (a sum, "
            "mean, reshape or index over the leading axis, or a parameter value used as a scalar); keep every "
            "reduction on the data axes (axis=-1), or use vectorized=False")


class VectorizedTask:
    """Fit one chunk of ``(index, dataset)`` items with the batched engine; the picklable unit of work."""

    def __init__(self, setup: _Setup) -> None:
        self.setup = setup

    def __getstate__(self) -> _Setup:
        return self.setup

    def __setstate__(self, state: _Setup) -> None:
        self.setup = state

    def __call__(self, chunk: Sequence[tuple[int, Any]]) -> BatchArrays:
        """Fit the chunk's datasets; a malformed one (from a generator) fails alone."""
        setup = self.setup
        params = setup.params
        names = tuple(params)
        free = tuple(k for k, p in params.items() if p.vary and p.expr is None)
        start = int(chunk[0][0])
        init = _start_values(params, free)
        errors: dict[int, BaseException] = {}
        good: list[int] = []
        for pos, (index, dataset) in enumerate(chunk):
            if setup.prechecked:
                good.append(pos)
                continue
            try:
                if setup.check_item is not None:
                    setup.check_item(index, dataset)
                setup.layout.check(index, dataset)
            except (TypeError, ValueError) as exc:
                errors[start + pos] = exc
                continue
            good.append(pos)
        expressions = _Expressions(params)
        init_all = _all_values(expressions, init[None, :], free, names)[0]
        if not good:
            return BatchArrays.all_failed(start, len(chunk), names, free, init, init_all, setup.engine, errors)
        args, kws = setup.layout.stack([chunk[p][1] for p in good])
        model = _Model(setup.function, params, free, expressions, args, kws, setup.layout.ndim, setup.dfun)
        fitted = _ChunkFit(setup, model, free, init, len(good)).run()
        return self._assemble(chunk, start, good, errors, fitted, names, free, init, init_all)

    def _assemble(self, chunk: Sequence[tuple[int, Any]], start: int, good: list[int],
                  errors: dict[int, BaseException], fitted: dict[str, Any], names: tuple[str, ...],
                  free: tuple[str, ...], init: Array, init_all: Array) -> BatchArrays:
        """The chunk's arrays: the fitted rows from ``fitted``, the malformed datasets failed."""
        out = BatchArrays.all_failed(start, len(chunk), names, free, init, init_all, self.setup.engine, errors)
        rows = np.asarray(good, dtype=np.intp)
        for key in ("values", "stderr", "covar", "chisqr", "redchi", "aic", "bic", "nfev", "nfev_errorbars",
                    "status", "success", "aborted", "errorbars", "failed"):
            getattr(out, key)[rows] = fitted[key]
        for k, pos in enumerate(good):
            out.message[pos] = fitted["message"][k]
            out.errorbars_reason[pos] = fitted["errorbars_reason"][k]
        for k, exc in fitted["errors"].items():
            out.errors[start + good[k]] = exc
        out.ndata = fitted["ndata"]
        out.nfree = fitted["ndata"] - len(free)
        return out


def _all_values(expressions: _Expressions, v: Array, free: Sequence[str], names: Sequence[str]) -> Array:
    """Values of every parameter, one row per fit: rows of ``v`` give the varied ones."""
    shape = (v.shape[0],)
    values: dict[str, Any] = {k: v[:, j] for j, k in enumerate(free)}
    values.update(expressions.evaluate(values, shape))
    return np.column_stack([np.broadcast_to(values.get(k, expressions.fixed.get(k, np.nan)), shape)
                            for k in names])


class _ChunkFit:
    """One engine run over the good fits of a chunk, then statistics and error bars as arrays."""

    def __init__(self, setup: _Setup, model: _Model, free: tuple[str, ...], init: Array, n: int) -> None:
        self.setup, self.model, self.free, self.n = setup, model, free, n
        params = setup.params
        self.transform = _Transform([params[k].min for k in free], [params[k].max for k in free])
        self.init = init
        self.nfev = np.zeros(n, dtype=np.int64)
        self.errors: dict[int, BaseException] = {}

    # -- what the engine calls -------------------------------------------------------------------
    def residual(self, x: Array, fits: NDArray[np.intp]) -> Array:
        fits = np.asarray(fits, dtype=np.intp)
        x = np.asarray(x, dtype=float)
        if x.shape != (fits.size, len(self.free)):
            raise EngineError(f"engine {self.setup.engine!r} asked for residuals at x of shape {x.shape} for "
                              f"{fits.size} fits; expected ({fits.size}, {len(self.free)})", self.setup.engine)
        self.nfev[fits] += 1
        return self._evaluate(self.transform.to_external(x), fits)

    def _probe(self, x: Array, fits: NDArray[np.intp]) -> Array:
        """Counted residual rows at ``x`` for a difference quotient (used at once: not copied)."""
        self.nfev[fits] += 1
        return self._evaluate(self.transform.to_external(x), fits, copy=False)

    def jacobian(self, x: Array, fits: NDArray[np.intp], r: Array | None = None) -> Array:
        fits = np.asarray(fits, dtype=np.intp)
        x = np.asarray(x, dtype=float)
        if self.model.dfun is not None:
            v = self.transform.to_external(x)
            try:
                jac = self.model.jacobian(v, fits)
            except Exception as exc:  # noqa: BLE001 - the fits of this call fail, the rest go on
                for k in fits.tolist():
                    self._fail(k, exc)
                return np.full((fits.size, self.model.ndata or 0, len(self.free)), np.nan)
            if self.transform.identity:
                return jac
            return jac * self.transform.derivative(x)[:, None, :]
        if r is None:
            r = self.residual(x, fits)
        nvar = x.shape[1]
        columns = np.empty((fits.size, nvar, r.shape[1]))  # column j of fit k is columns[k, j]: contiguous writes
        h = _SQRT_EPS * np.abs(x)
        h = np.where(h == 0, _SQRT_EPS, h)  # MINPACK's forward-difference step (epsfcn = machine epsilon)
        xj = x.copy()
        for j in range(nvar):
            xj[:, j] = x[:, j] + h[:, j]
            step = xj[:, j] - x[:, j]  # the step actually taken, after rounding
            column = columns[:, j, :]
            np.subtract(self._probe(xj, fits), r, out=column)
            column /= step[:, None]
            xj[:, j] = x[:, j]
        return columns.transpose(0, 2, 1)

    def _evaluate(self, v: Array, fits: NDArray[np.intp], copy: bool = True) -> Array:
        try:
            rows = self.model.residual(v, fits, copy)
        except Exception as exc:  # noqa: BLE001 - find the fits that raise, one at a time
            if fits.size == 1:
                self._fail(int(fits[0]), exc)
                return np.full((1, self.model.ndata or 1), np.nan)
            rows_list = [self._evaluate(v[k:k + 1], fits[k:k + 1]) for k in range(fits.size)]
            width = max(r.shape[1] for r in rows_list)
            return np.vstack([r if r.shape[1] == width else np.full((1, width), np.nan) for r in rows_list])
        bad = ~np.isfinite(np.einsum("ij->i", rows))  # a row sum is NaN or inf if any value is (one pass)
        if bad.any():
            bad[bad] = ~np.isfinite(rows[bad]).all(axis=1)  # not an overflow of the sum
        if bad.any():
            for k in np.flatnonzero(bad).tolist():
                fit = int(fits[k])
                self._fail(fit, NonFiniteResidualError(
                    f"the residual is not finite at {self._values(v[k])} (nan_policy='raise': a vectorized fit "
                    "whose residual turns NaN or inf fails alone)"))
        return rows

    def _values(self, v: Array) -> str:
        return ", ".join(f"{k}={x:.6g}" for k, x in zip(self.free, v.tolist()))

    def _fail(self, fit: int, exc: BaseException) -> None:
        self.errors.setdefault(fit, exc)

    # -- the run ------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        setup, n, nvar = self.setup, self.n, len(self.free)
        info = _batched_engine(setup.engine)
        x0 = np.tile(self.transform.start(self.init), (n, 1))
        inf = np.full((n, nvar), np.inf)
        problem = BatchProblem(x0=x0, lower=-inf, upper=inf.copy(), names=self.free, residual=self.residual,
                               jacobian=self.jacobian, ndata=0, has_analytic_jacobian=setup.dfun is not None,
                               max_nfev=setup.max_nfev, _counter=lambda: self.nfev)
        if self.model.ndata is None:  # the engine is told ndata: one evaluation at the start, counted
            self.model.residual(self.transform.to_external(x0[:1]), np.arange(1, dtype=np.intp))
        object.__setattr__(problem, "ndata", int(self.model.ndata or 0))
        result = info.load()(problem, **setup.options)
        self._verify(result, n, nvar)
        return self._finish(result)

    def _verify(self, result: Any, n: int, nvar: int) -> None:
        name = self.setup.engine
        if not isinstance(result, BatchEngineResult):
            raise EngineError(f"batched engine {name!r} returned {type(result).__name__}, not a "
                              "fitcore.BatchEngineResult", name)
        shapes = {"x": (n, nvar), "success": (n,), "status": (n,), "nfev": (n,)}
        for key, shape in shapes.items():
            got = np.shape(getattr(result, key))
            if got != shape:
                raise EngineError(f"batched engine {name!r} returned {key} of shape {got}; expected {shape}", name)
        if len(result.message) != n:
            raise EngineError(f"batched engine {name!r} returned {len(result.message)} messages for {n} fits", name)
        if result.aborted is not None and np.shape(result.aborted) != (n,):
            raise EngineError(f"batched engine {name!r} returned aborted of shape {np.shape(result.aborted)}", name)
        reported = np.asarray(result.nfev, dtype=np.int64)
        if not np.array_equal(reported, self.nfev):
            k = int(np.flatnonzero(reported != self.nfev)[0])
            raise EngineError(f"batched engine {name!r} reported nfev={int(reported[k])} for fit {k}, but it "
                              f"evaluated that fit {int(self.nfev[k])} times", name)
        if self.setup.max_nfev is not None and (self.nfev > self.setup.max_nfev).any():
            k = int(np.flatnonzero(self.nfev > self.setup.max_nfev)[0])
            raise EngineError(f"batched engine {name!r} evaluated fit {k} {int(self.nfev[k])} times, beyond "
                              f"max_nfev={self.setup.max_nfev}", name)

    def _finish(self, result: BatchEngineResult) -> dict[str, Any]:
        n, nvar, model = self.n, len(self.free), self.model
        params = self.setup.params
        names = tuple(params)
        x = np.asarray(result.x, dtype=float)
        finite_x = np.isfinite(x).all(axis=1)
        for k in np.flatnonzero(~finite_x).tolist():
            self._fail(k, EngineError(f"batched engine {self.setup.engine!r} returned a non-finite answer",
                                      self.setup.engine))
        x = np.where(finite_x[:, None], x, 0.0)
        v = self.transform.to_external(x)
        everyone = np.arange(n, dtype=np.intp)
        r = self._evaluate(v, everyone)
        ndata = r.shape[1]
        jac, extra = self._external_jacobian(v, r, everyone)
        failed = np.array([k in self.errors for k in range(n)], dtype=bool)
        chisqr = np.einsum("ij,ij->i", r, r)
        nfree = ndata - nvar
        redchi = chisqr / nfree if nfree > 0 else np.full(n, np.nan)
        chi = np.maximum(chisqr, 1e-300)
        aic = ndata * np.log(chi / ndata) + 2 * nvar
        bic = ndata * np.log(chi / ndata) + math.log(ndata) * nvar
        covar, errorbars, reasons = self._covariance(jac, redchi, failed)
        all_values = _all_values(model.expressions, v, self.free, names)
        stderr = np.full((n, len(names)), np.nan)
        var_std = np.sqrt(np.einsum("kii->ki", covar))
        for j, name in enumerate(self.free):
            stderr[:, names.index(name)] = var_std[:, j]
        for name in model.expressions.fixed:  # as a single fit reports a fixed parameter: exactly known
            stderr[:, names.index(name)] = np.where(errorbars, 0.0, np.nan)
        self._propagate(v, covar, stderr, names)
        success = np.asarray(result.success, dtype=bool) & ~failed
        aborted = (np.zeros(n, dtype=bool) if result.aborted is None
                   else np.asarray(result.aborted, dtype=bool)) & ~failed
        messages = []
        for k in range(n):
            if failed[k]:
                exc = self.errors[k]
                messages.append(f"fit failed: {type(exc).__name__}: {exc}")
            else:
                messages.append(str(result.message[k]))
        nan = np.nan
        return {
            "values": all_values, "stderr": np.where(failed[:, None], nan, stderr),
            "covar": np.where(failed[:, None, None], nan, covar),
            "chisqr": np.where(failed, nan, chisqr), "redchi": np.where(failed, nan, redchi),
            "aic": np.where(failed, nan, aic), "bic": np.where(failed, nan, bic),
            "nfev": self.nfev.copy(), "nfev_errorbars": np.where(failed, 0, extra + 1),
            "status": np.asarray(result.status, dtype=np.int64), "success": success, "aborted": aborted,
            "errorbars": errorbars & ~failed, "failed": failed, "message": messages,
            "errorbars_reason": [("the fit failed" if failed[k] else reasons[k]) for k in range(n)],
            "errors": dict(self.errors), "ndata": ndata,
        }

    def _external_jacobian(self, v: Array, r: Array, fits: NDArray[np.intp]) -> tuple[Array, int]:
        """The Jacobian by the external values at the answers: the user's Dfun, or central differences.

        Central differences (step ``eps**(1/3) * |v|``, error about ``1e-10``
        relative) where both sides are inside the bounds; next to a bound,
        forward differences stepping inwards. Each fit's step depends on its
        own values only, so any chunking gives the same error bars. Returns
        the Jacobian and the evaluations it took per fit.
        """
        nvar = v.shape[1]
        if self.model.dfun is not None:
            try:
                return self.model.jacobian(v, fits), 0
            except Exception:  # noqa: BLE001 - no error bars, the fits keep their answers
                return np.full((fits.size, r.shape[1], nvar), np.nan), 0
        lo, hi = self.transform.lo, self.transform.hi
        scale = np.where(v == 0, 1.0, np.abs(v))
        h = _CBRT_EPS * scale
        central = (v - h >= lo) & (v + h <= hi)
        fwd = _SQRT_EPS * scale
        fwd = np.where(v + fwd <= hi, fwd, np.where(v - fwd >= lo, -fwd, np.where(hi - v >= v - lo, hi - v, lo - v)))
        columns = np.empty((fits.size, nvar, r.shape[1]))
        for j in range(nvar):
            step = np.where(central[:, j], h[:, j], fwd[:, j])
            up = v.copy()
            up[:, j] += step
            down = v.copy()
            down[:, j] -= np.where(central[:, j], step, 0.0)
            r_up = self._rows_at(up, fits, r.shape[1])
            # r_up is a copy, so r_down may be the function's own buffer: it is used at once
            r_down = self._rows_at(down, fits, r.shape[1], copy=False) if central[:, j].any() else r
            if not central[:, j].all():
                r_down = np.where(central[:, j][:, None], r_down, r)
            np.subtract(r_up, r_down, out=columns[:, j, :])
            columns[:, j, :] /= (up[:, j] - down[:, j])[:, None]
        return columns.transpose(0, 2, 1), 2 * nvar

    def _rows_at(self, v: Array, fits: NDArray[np.intp], width: int, copy: bool = True) -> Array:
        try:
            return self.model.residual(v, fits, copy)
        except Exception:  # noqa: BLE001 - one at a time, so one bad fit only loses its own error bars
            return np.vstack([self._safe_row(v[k:k + 1], fits[k:k + 1], width) for k in range(fits.size)])

    def _safe_row(self, v: Array, fits: NDArray[np.intp], width: int) -> Array:
        try:
            return self.model.residual(v, fits)
        except Exception:  # noqa: BLE001
            return np.full((1, width), np.nan)

    def _covariance(self, jac: Array, redchi: Array, failed: NDArray[np.bool_]) -> tuple[Array, NDArray[np.bool_],
                                                                                          list[str | None]]:
        n = jac.shape[0]
        usable = np.isfinite(jac).all(axis=(1, 2)) & ~failed
        j = np.where(usable[:, None, None], jac, 0.0)
        gram = np.matmul(np.swapaxes(j, 1, 2), j)
        scale = np.sqrt(np.einsum("kii->ki", gram))
        safe = np.where(scale > 0, scale, 1.0)
        scaled = gram / (safe[:, :, None] * safe[:, None, :])
        candidates = usable & (scale > 0).all(axis=1)
        scaled = np.where(candidates[:, None, None], scaled, np.eye(scaled.shape[-1]))
        inv, condition = _inverse(scaled)
        regular = candidates & (condition < MAX_CONDITION)
        cov = inv / (safe[:, :, None] * safe[:, None, :])
        if self.setup.scale_covar:
            cov = cov * np.where(np.isfinite(redchi), redchi, np.nan)[:, None, None]
        cov = np.where(regular[:, None, None], cov, np.nan)
        reasons: list[str | None] = []
        for k in range(n):
            if regular[k]:
                reasons.append(None)
            elif not usable[k]:
                reasons.append("the Jacobian at the answer is not finite")
            else:
                flat = [self.free[i] for i in np.flatnonzero(scale[k] == 0).tolist()]
                reasons.append(f"the residual does not depend on {', '.join(flat)} at the answer" if flat else
                               "the Jacobian at the answer is singular (parameters not determined by the data)")
        return cov, regular, reasons

    def _propagate(self, v: Array, covar: Array, stderr: Array, names: tuple[str, ...]) -> None:
        """Standard errors of the constrained parameters, from the gradients of their expressions."""
        exprs = self.model.expressions
        if not exprs.order:
            return
        base = _all_values(exprs, v, self.free, names)
        cols = [names.index(k) for k in exprs.order]
        grads = np.empty((v.shape[0], len(cols), v.shape[1]))
        for j in range(v.shape[1]):
            h = _SQRT_EPS * np.where(v[:, j] == 0, 1.0, np.abs(v[:, j]))
            vj = v.copy()
            vj[:, j] += h
            grads[:, :, j] = (_all_values(exprs, vj, self.free, names)[:, cols] - base[:, cols]) / h[:, None]
        var = np.einsum("kei,kij,kej->ke", grads, covar, grads)
        stderr[:, cols] = np.sqrt(np.maximum(var, 0.0))


def _inverse(s: Array) -> tuple[Array, Array]:
    """Inverses of a stack of symmetric matrices and their 1-norm condition numbers (inf if not positive definite).

    A Cholesky factorization tells the positive definite matrices apart (one
    call for the whole stack; matrix by matrix only when some are not).
    """
    k = s.shape[0]
    try:
        np.linalg.cholesky(s)
        definite = np.ones(k, dtype=bool)
    except np.linalg.LinAlgError:
        definite = np.zeros(k, dtype=bool)
        for i in range(k):
            try:
                np.linalg.cholesky(s[i])
                definite[i] = True
            except np.linalg.LinAlgError:
                pass
    s = np.where(definite[:, None, None], s, np.eye(s.shape[-1]))
    inv = np.asarray(np.linalg.inv(s), dtype=np.float64)
    inv = 0.5 * (inv + np.swapaxes(inv, 1, 2))  # exactly symmetric, as a covariance
    norm1 = np.abs(s).sum(axis=1).max(axis=1) * np.abs(inv).sum(axis=1).max(axis=1)
    condition: Array = np.where(definite, norm1, np.inf)
    return inv, condition


def failed_chunk(setup: _Setup, start: int, n: int, errors: Mapping[int, BaseException]) -> BatchArrays:
    """The arrays of ``n`` fits from ``start`` that all failed with ``errors`` (by fit index)."""
    params = setup.params
    names = tuple(params)
    free = tuple(k for k, p in params.items() if p.vary and p.expr is None)
    init = _start_values(params, free)
    init_all = _all_values(_Expressions(params), init[None, :], free, names)[0]
    return BatchArrays.all_failed(start, n, names, free, init, init_all, setup.engine, errors)
