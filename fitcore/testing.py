"""Conformance kit for engine and probability-function plugins.

In the spirit of scikit-learn's ``check_estimator``: run every check that
applies to what a plugin declares, and say exactly what failed::

    from fitcore.testing import check_engine, check_prob_func
    check_engine("myengine")          # raises ConformanceError listing every failure
    check_prob_func("my_prob")

or, one pytest test per check::

    from fitcore.testing import parametrize_with_checks

    @parametrize_with_checks(["myengine"], prob_funcs=["my_prob"])
    def test_fitcore_conformance(name, check):
        check(name)

From the shell: ``fitcore check myengine``.

Engine checks (those marked * apply only when the spec declares the capability):
spec valid; recovers known parameters of a linear and of a non-linear problem;
does not mutate its inputs; returns a complete :class:`~fitcore.EngineResult`;
lets ``nan_policy='raise'`` errors through and is not corrupted by non-finite
residuals under ``'propagate'`` (an engine that raises on them gets a warning);
stays within native bounds*; refuses infinite bounds when it requires finite
ones*; honours ``max_nfev``; stops when ``iter_cb`` asks; reproducible with a
seed* (or deterministic); covariance matches the reference*.

Probability-function checks: spec valid; value in [0, 1]; zero at the best
fit; monotone in the chi-square increase.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import EngineCapabilityError, EngineError, FitcoreWarning, NonFiniteResidualError, PluginWarning
from .minimizer import Minimizer
from .parameters import Parameters
from .plugins import ProbFuncInfo, describe, get_engine, get_prob_func_info
from .problem import EngineResult, Problem
from .specs import EngineSpec, ProbFuncSpec, resolve
from .stats import FitStats

__all__ = [
    "CheckResult",
    "ConformanceError",
    "ConformanceWarning",
    "check_engine",
    "check_prob_func",
    "check_model",
    "engine_checks",
    "prob_func_checks",
    "parametrize_with_checks",
]

#: a fit "recovers" a problem when its chi-square is within this fraction of the reference optimum
CHISQR_RTOL = 1e-2
#: ... and every parameter within this fraction of the reference value
PARAM_RTOL = 1e-2
#: relative tolerance of an engine's covariance against the linear-problem reference
COVAR_RTOL = 5e-2


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``status`` is ``'pass'``, ``'warn'`` (passed, with a reservation) or ``'fail'``."""

    check: str
    status: str
    message: str = ""


class ConformanceWarning(UserWarning):
    """A check passed with a reservation worth telling the plugin's users (e.g. no NaN tolerance)."""


class ConformanceError(AssertionError):
    """A plugin failed one or more conformance checks; ``results`` holds every outcome."""

    def __init__(self, name: str, results: Sequence[CheckResult]) -> None:
        failed = [r for r in results if r.status == "fail"]
        lines = "\n".join(f"  - {r.check}: {r.message}" for r in failed)
        super().__init__(f"{name!r} failed {len(failed)} of {len(results)} conformance checks:\n{lines}")
        self.name = name
        self.results = list(results)


# -- test problems ------------------------------------------------------------------------------
class _Problem:
    """A problem with known answer: data, a residual, starting values and bounds."""

    def __init__(self, kind: str) -> None:
        rng = np.random.default_rng(20240611)
        if kind == "linear":
            self.x = np.linspace(0.0, 10.0, 41)
            self.names: tuple[str, ...] = ("slope", "offset")
            self.truth = np.array([2.5, -1.3])
            self.start = np.array([1.0, 0.0])
            self.bounds: tuple[tuple[float, float], ...] = ((-10.0, 10.0), (-10.0, 10.0))
            self.data = self.model(self.truth) + rng.normal(scale=0.05, size=self.x.size)
            design = np.column_stack([self.x, np.ones_like(self.x)])
            self.reference = np.linalg.lstsq(design, self.data, rcond=None)[0]
            self.jac = -design
        else:
            self.x = np.linspace(0.0, 10.0, 60)
            self.names = ("amp", "rate", "base")
            self.truth = np.array([4.0, 0.4, 0.5])
            self.start = np.array([2.0, 1.0, 0.0])
            self.bounds = ((0.1, 10.0), (0.01, 5.0), (-2.0, 2.0))
            self.data = self.model(self.truth) + rng.normal(scale=0.02, size=self.x.size)
            from scipy.optimize import least_squares

            ref = least_squares(lambda v: self.data - self.model(v), self.truth, xtol=1e-14, ftol=1e-14, gtol=1e-14)
            self.reference = ref.x
        r = self.data - self.model(self.reference)
        self.ref_chisqr = float(r @ r)
        self.calls: list[np.ndarray] = []

    def model(self, v: np.ndarray) -> np.ndarray:
        if len(v) == 2:
            return v[0] * self.x + v[1]
        return v[0] * np.exp(-v[1] * self.x) + v[2]

    def residual(self, params: Parameters) -> np.ndarray:
        v = np.array([params[n].value for n in self.names])
        self.calls.append(v)
        return self.data - self.model(v)

    def params(self, bounded: bool, **override: tuple[float, float]) -> Parameters:
        p = Parameters()
        for name, start, (lo, hi) in zip(self.names, self.start, self.bounds):
            lo, hi = override.get(name, (lo, hi) if bounded else (-np.inf, np.inf))
            p.add(name, value=float(start), min=lo, max=hi)
        return p


def _require(condition: Any, message: Callable[[], str] | str) -> None:
    """Fail a check with ``message`` (or ``message()``): an explicit raise, which ``python -O`` cannot skip."""
    if not condition:
        raise AssertionError(message if isinstance(message, str) else message())


def _spec(name: str) -> EngineSpec:
    return get_engine(name).spec


def _fit(name: str, prob: _Problem, params: Parameters | None = None, **kws: Any) -> Minimizer:
    spec = _spec(name)
    if params is None:
        params = prob.params(bounded=spec.bounds == "required_finite")
    if spec.stochastic:
        kws.setdefault("seed", 12345)
    fitter = Minimizer(prob.residual, params)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FitcoreWarning)
        warnings.filterwarnings("error", category=PluginWarning)
        fitter.minimize(engine=name, **kws)
    return fitter


def _values(fit: Minimizer, prob: _Problem) -> np.ndarray:
    return np.array([fit.params[n].value for n in prob.names])


def _fmt(v: Iterable[float]) -> str:
    return "[" + ", ".join(f"{x:.6g}" for x in v) + "]"


def plain(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into Python numbers and lists, for messages."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def _named(names: Sequence[str], values: Iterable[Any]) -> dict[str, Any]:
    return {str(n): plain(v) for n, v in zip(names, values)}


def _raised_in(exc: BaseException, func: Callable[..., Any]) -> bool:
    """Whether ``exc`` propagated through a call of ``func`` (its frame is in the traceback)."""
    target = getattr(func, "__code__", None) or getattr(type(func).__call__, "__code__", None)
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is target:
            return True
        tb = tb.tb_next
    return target is None  # a callable without Python code (a C function): assume it raised


# -- engine checks ------------------------------------------------------------------------------
def check_spec_valid(name: str) -> None:
    """Check that the spec is a valid EngineSpec, its callables import, and the engine takes (problem, **options)."""
    info = get_engine(name)
    spec = info.spec
    _require(isinstance(spec, EngineSpec), lambda: f"the spec is a {type(spec).__name__}, not fitcore.EngineSpec")
    dataclasses.replace(spec)  # re-runs the validation
    _require(info.status == "available", lambda: f"engine is {info.status}")
    call = info.load()
    try:
        inspect.signature(call).bind(object(), **dict(spec.options))
    except TypeError as exc:
        raise AssertionError(f"engine callable cannot be called as engine(problem, **options) with its declared "
                             f"options {sorted(spec.options)}: {exc}") from None
    for label in ("precheck", "details"):
        target = getattr(spec, label)
        if target is not None:
            _require(callable(resolve(target)), f"{label} {target!r} does not resolve to a callable")
    if spec.details is not None:
        _require(isinstance(info.details(), Mapping), lambda: "details() must return a mapping")


def _recovers(name: str, kind: str) -> None:
    prob = _Problem(kind)
    fit = _fit(name, prob)
    got = _values(fit, prob)
    errs = []
    if not fit.chisqr <= prob.ref_chisqr * (1 + CHISQR_RTOL):
        errs.append(f"chi-square {fit.chisqr:.6g} exceeds the optimum {prob.ref_chisqr:.6g} by more than "
                    f"{CHISQR_RTOL:.0%}")
    if not np.allclose(got, prob.reference, rtol=PARAM_RTOL, atol=1e-8):
        errs.append(f"parameters {_named(prob.names, got.round(6))} differ from the reference "
                    f"{_named(prob.names, prob.reference.round(6))} by more than {PARAM_RTOL:.0%}")
    if not fit.success:
        errs.append(f"success is False ({fit.message})")
    _require(not errs, lambda: f"{kind} problem from {_fmt(prob.start)}: " + "; ".join(errs))


def check_recovers_linear(name: str) -> None:
    """Fits a straight line to the least-squares answer (chi-square and parameters within 1%)."""
    _recovers(name, "linear")


def check_recovers_nonlinear(name: str) -> None:
    """Fits an exponential decay with offset to the least-squares answer."""
    _recovers(name, "nonlinear")


def _direct(name: str) -> tuple[EngineSpec, EngineResult, _Problem, dict[str, Any]]:
    """Call the engine itself on a hand-made Problem for the linear fit, keeping copies of its inputs."""
    info = get_engine(name)
    spec, call = info.spec, info.load()
    prob = _Problem("linear")
    native = spec.bounds != "transform"
    lower = np.array([b[0] for b in prob.bounds]) if native else np.full(2, -np.inf)
    upper = np.array([b[1] for b in prob.bounds]) if native else np.full(2, np.inf)
    design = -prob.jac
    calls = [0]

    def residual(x: np.ndarray) -> np.ndarray:
        calls[0] += 1
        return prob.data - design @ np.asarray(x, dtype=float)

    def scalar(x: np.ndarray) -> float:
        r = residual(x)
        return float(r @ r)

    problem = Problem(
        x0=prob.start.copy(), lower=lower, upper=upper, names=prob.names, residual=residual, scalar=scalar,
        jacobian=lambda x: prob.jac.copy(), gradient=lambda x: 2.0 * prob.jac.T @ residual(x),
        ndata=prob.x.size, has_analytic_jacobian=True, max_nfev=None,
        seed=12345 if spec.stochastic else None, _counter=lambda: calls[0],
    )
    inputs = {"x0": problem.x0.copy(), "lower": lower.copy(), "upper": upper.copy(), "problem": problem}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FitcoreWarning)
        result = call(problem, **dict(spec.options))
    return spec, result, prob, inputs


def check_does_not_mutate_inputs(name: str) -> None:
    """Leaves problem.x0, problem.lower and problem.upper unchanged."""
    _, _, _, inputs = _direct(name)
    problem = inputs["problem"]
    for attr in ("x0", "lower", "upper"):
        _require(np.array_equal(getattr(problem, attr), inputs[attr]),
                 f"the engine modified problem.{attr} in place: {_fmt(inputs[attr])} became "
                 f"{_fmt(getattr(problem, attr))}; copy it first (x = problem.x0.copy())")


def check_result_fields_complete(name: str) -> None:
    """Check that the engine returns an EngineResult: x (nvar, finite), bool success, str message, int status."""
    spec, res, prob, _ = _direct(name)
    _require(isinstance(res, EngineResult), lambda: f"engine returned {type(res).__name__}, not fitcore.EngineResult")
    x = np.asarray(res.x, dtype=float)
    _require(x.shape == (2,), lambda: f"EngineResult.x has shape {x.shape}; expected (nvar,) = (2,)")
    _require(np.all(np.isfinite(x)), lambda: f"EngineResult.x is not finite: {x}")
    _require(np.allclose(x, prob.reference, rtol=PARAM_RTOL, atol=1e-6),
             lambda: f"EngineResult.x {_fmt(x)} is not the linear problem's answer {_fmt(prob.reference)}")
    _require(isinstance(res.success, (bool, np.bool_)), lambda: f"success is {type(res.success).__name__}, not bool")
    _require(isinstance(res.message, str) and res.message.strip(),
             lambda: f"message must be a non-empty str: {res.message!r}")
    _require(isinstance(res.status, (int, np.integer)), lambda: f"status is {type(res.status).__name__}, not int")
    _require(res.nit is None or (isinstance(res.nit, (int, np.integer)) and res.nit >= 0), lambda: f"nit={res.nit!r}")
    _require(isinstance(res.extras, Mapping), lambda: f"extras is {type(res.extras).__name__}, not a mapping")
    if res.covariance is not None:
        _require(spec.provides_covariance, lambda: "returned a covariance but the spec says provides_covariance=False")
        cov = np.asarray(res.covariance, dtype=float)
        _require(cov.shape == (2, 2), lambda: f"covariance has shape {cov.shape}; expected (2, 2)")
        _require(np.all(np.isfinite(cov)) and np.allclose(cov, cov.T),
                 lambda: "covariance must be finite and symmetric")


def _nan_at(prob: _Problem, calls: tuple[int, ...]) -> Callable[[Parameters], np.ndarray]:
    """Return the residual with one NaN point on the given (1-based) calls: early in the fit, never near its end."""
    def residual(params: Parameters) -> np.ndarray:
        r = prob.residual(params)
        if len(prob.calls) in calls:
            r = r.copy()
            r[3] = np.nan
        return r

    return residual


def check_nonfinite_raise(name: str) -> None:
    """With nan_policy='raise' a NaN residual surfaces as NonFiniteResidualError and parameters are restored."""
    prob = _Problem("nonlinear")
    spec = _spec(name)
    params = prob.params(bounded=spec.bounds == "required_finite")
    before = {n: params[n].value for n in prob.names}
    fitter = Minimizer(_nan_at(prob, (4,)), params)
    kws: dict[str, Any] = {"seed": 12345} if spec.stochastic else {}
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FitcoreWarning)
            fitter.minimize(engine=name, **kws)
    except NonFiniteResidualError:
        pass
    except Exception as exc:
        raise AssertionError(f"a NaN residual raised {type(exc).__name__}: {exc}; the engine must let "
                             "fitcore's NonFiniteResidualError propagate unchanged") from exc
    else:
        raise AssertionError("a NaN residual at evaluation 4 did not stop the fit with NonFiniteResidualError; "
                             "the engine swallowed the exception")
    after = {n: params[n].value for n in prob.names}
    _require(after == before,
             lambda: f"parameters were not restored after the error: {plain(before)} became {plain(after)}")


def check_nonfinite_propagate(name: str) -> None:
    """With nan_policy='propagate', NaNs at evaluations 5, 10, 15 do not corrupt the result.

    Passes when the fit completes with finite values. An engine that raises
    instead (scipy's least_squares does when a NaN reaches its Jacobian) passes
    with a :class:`ConformanceWarning` — users of it should keep
    ``nan_policy='raise'`` or ``'omit'`` — provided the parameters are restored.
    """
    prob = _Problem("nonlinear")
    spec = _spec(name)
    params = prob.params(bounded=spec.bounds == "required_finite")
    before = {n: params[n].value for n in prob.names}
    fitter = Minimizer(_nan_at(prob, (5, 10, 15)), params, nan_policy="propagate")
    kws: dict[str, Any] = {"seed": 12345} if spec.stochastic else {}
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FitcoreWarning)
            warnings.filterwarnings("ignore", category=RuntimeWarning)
            fitter.minimize(engine=name, **kws)
    except Exception as exc:
        after = {n: params[n].value for n in prob.names}
        _require(after == before, f"the fit raised {type(exc).__name__} and left the parameters at {plain(after)}")
        if not _raised_in(exc, get_engine(name).load()):
            raise AssertionError(f"with NaNs at evaluations 5, 10 and 15 the engine returned, and then the fit "
                                 f"failed: {describe(exc)}; check what the engine returns (EngineResult.x finite, "
                                 "of shape (nvar,), ...)") from exc
        warnings.warn(f"engine {name!r} does not cope with NaN residuals under nan_policy='propagate': "
                      f"NaNs at evaluations 5, 10 and 15 made it raise {type(exc).__name__}: {exc}",
                      ConformanceWarning, stacklevel=2)
        return
    vals = _values(fitter, prob)
    _require(np.all(np.isfinite(vals)), lambda: f"parameters ended non-finite: {_named(prob.names, vals)}")
    _require(math.isfinite(fitter.chisqr), lambda: f"chisqr is {fitter.chisqr}")


def check_within_native_bounds(name: str) -> None:
    """Check that a native-bounds engine evaluates only inside [min, max] and ends on the bound."""
    prob = _Problem("linear")
    params = prob.params(bounded=True, slope=(-10.0, 2.0))
    fit: Minimizer | None = None
    refused: EngineError | None = None
    try:
        fit = _fit(name, prob, params)
    except EngineError as exc:  # the core refuses an answer outside the declared bounds
        refused = exc
    calls = np.array(prob.calls)
    lo = np.array([params[n].min for n in prob.names])
    hi = np.array([params[n].max for n in prob.names])
    outside = calls[np.any((calls < lo) | (calls > hi), axis=1)]
    bounds = {n: (float(a), float(b)) for n, a, b in zip(prob.names, lo, hi)}
    _require(outside.size == 0, lambda: f"{len(outside)} evaluations outside the bounds {bounds}, "
                               f"e.g. {_named(prob.names, outside[0])}")
    _require(refused is None, lambda: f"fitcore refused the engine's answer: {refused}")
    assert fit is not None
    slope = fit.params["slope"].value
    samples = fit.result.samples
    if samples is not None:  # a sampler: every sample within the bound, the posterior median just below it
        column = np.asarray(samples)[:, list(fit.result.var_names).index("slope")]
        _require(column.max() <= 2.0, lambda: f"{int((column > 2.0).sum())} posterior samples beyond slope <= 2")
        _require(0.0 <= 2.0 - slope <= 2.0 * (fit.params["slope"].stderr or 0.0),
                 lambda: f"the posterior median slope={slope:.6g} is not within 2 stderr below the bound 2")
        return
    _require(abs(slope - 2.0) < 1e-3,
             lambda: f"the optimum lies beyond slope <= 2, but the fit ended at slope={slope:.6g}")


def check_refuses_infinite_bounds(name: str) -> None:
    """Check that an engine requiring finite bounds is refused (EngineCapabilityError) before any evaluation."""
    prob = _Problem("linear")
    params = prob.params(bounded=True, offset=(-np.inf, np.inf))
    try:
        _fit(name, prob, params)
    except EngineCapabilityError as exc:
        _require("offset" in str(exc), f"the error does not name the unbounded parameter 'offset': {exc}")
    else:
        raise AssertionError("a fit with an unbounded parameter was accepted although bounds='required_finite'")
    _require(not prob.calls, lambda: f"the residual was evaluated {len(prob.calls)} times before the refusal")


def _best_seen(prob: _Problem) -> float:
    return min(float(np.sum((prob.data - prob.model(v)) ** 2)) for v in prob.calls)


def check_honours_max_nfev(name: str) -> None:
    """With max_nfev=7 the residual is called at most 7 times; the result is aborted and holds the best values."""
    prob = _Problem("nonlinear")
    fit = _fit(name, prob, max_nfev=7)
    _require(len(prob.calls) <= 7,
             lambda: f"the residual was called {len(prob.calls)} times with max_nfev=7: the engine "
                                  "caught fitcore's StopFit exception instead of letting it propagate")
    _require(fit.aborted and not fit.success, lambda: f"aborted={fit.aborted}, success={fit.success} after max_nfev")
    _require(fit.nfev <= 7, lambda: f"nfev={fit.nfev} with max_nfev=7")
    _require(math.isclose(fit.chisqr, _best_seen(prob), rel_tol=1e-12),
             lambda: f"after the stop the parameters give chi-square {fit.chisqr:.6g}, "
                     f"not the best seen {_best_seen(prob):.6g}")


def check_aborts_when_asked(name: str) -> None:
    """Check that an iter_cb returning True at evaluation 4 stops the fit there, keeping the best values seen."""
    prob = _Problem("nonlinear")
    fit = _fit(name, prob, iter_cb=lambda params, it, resid, *a, **k: it >= 4)
    _require(len(prob.calls) == 4,
             lambda: f"the residual was called {len(prob.calls)} times though iter_cb asked to stop "
                                  "at 4: the engine must let fitcore's StopFit exception propagate")
    _require(fit.aborted and not fit.success,
             lambda: f"aborted={fit.aborted}, success={fit.success} after iter_cb stop")
    _require(math.isclose(fit.chisqr, _best_seen(prob), rel_tol=1e-12),
             lambda: "parameters do not hold the best values seen")


def check_reproducible_with_seed(name: str) -> None:
    """Two fits with the same seed evaluate the same points and give identical results."""
    runs = []
    for _ in range(2):
        prob = _Problem("nonlinear")
        fit = _fit(name, prob, seed=2024)
        runs.append((_values(fit, prob), np.array(prob.calls)))
    (v1, c1), (v2, c2) = runs
    _require(c1.shape == c2.shape and np.array_equal(c1, c2),
             lambda: f"same seed, different evaluation sequences ({len(c1)} vs {len(c2)} evaluations); "
        "draw every random number from problem.seed")
    _require(np.array_equal(v1, v2), lambda: f"same seed, different results: {_fmt(v1)} vs {_fmt(v2)}")


def check_deterministic(name: str) -> None:
    """Check that a non-stochastic engine gives bit-identical results on repeated fits."""
    runs = []
    for _ in range(2):
        prob = _Problem("nonlinear")
        fit = _fit(name, prob)
        runs.append((_values(fit, prob), len(prob.calls)))
    _require(runs[0][1] == runs[1][1] and np.array_equal(runs[0][0], runs[1][0]),
             lambda: f"declared stochastic=False but two fits differ: {_fmt(runs[0][0])} ({runs[0][1]} calls) vs "
        f"{_fmt(runs[1][0])} ({runs[1][1]} calls)")


def check_covariance_matches_reference(name: str) -> None:
    """Check that the engine's covariance of a linear fit equals inv(J^T J) * chisqr / nfree within 5%."""
    prob = _Problem("linear")
    fit = _fit(name, prob)
    _require(fit.covar is not None, lambda: f"no covariance: {fit.errorbars_reason}")
    nfree = prob.x.size - 2
    ref = np.linalg.inv(prob.jac.T @ prob.jac) * fit.chisqr / nfree
    scale = np.sqrt(np.outer(np.diag(ref), np.diag(ref)))
    err = np.max(np.abs(np.asarray(fit.covar) - ref) / scale)
    _require(err <= COVAR_RTOL, lambda: f"covariance {np.asarray(fit.covar).tolist()} differs from the reference "
                               f"{ref.tolist()} by {err:.2%} (allowed {COVAR_RTOL:.0%})")


# -- batched engines (EngineSpec(batched=True)), run through fit_many(vectorized=True) ----------------
def _batch_residual(params: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    v = params
    return y - (v["amp"].value * np.exp(-v["rate"].value * x) + v["base"].value)


def _batch_fit(name: str, datasets: list[tuple[np.ndarray, np.ndarray]], **kws: Any) -> Any:
    from .batch import fit_many

    prob = _Problem("nonlinear")
    params = prob.params(bounded=_spec(name).bounds == "required_finite")
    return fit_many(_batch_residual, params, datasets, engine=name, vectorized=True, **kws)


def check_batch_recovers(name: str) -> None:
    """A batch of three fits of the nonlinear problem (data shifted per fit) reaches each reference optimum."""
    prob = _Problem("nonlinear")
    shifts = (0.0, 0.3, -0.2)
    fits = _batch_fit(name, [(prob.x, prob.data + s) for s in shifts])
    _require(bool(fits.success.all()), lambda: f"success per fit {fits.success.tolist()}")
    for i, s in enumerate(shifts):
        want = prob.reference + np.array([0.0, 0.0, s])
        got = np.array([fits.values(k)[i] for k in prob.names])
        if not np.allclose(got, want, rtol=PARAM_RTOL, atol=1e-6):
            raise AssertionError(f"fit {i}: {_fmt(got)}; reference {_fmt(want)}")
        if not abs(fits.chisqr[i] - prob.ref_chisqr) <= CHISQR_RTOL * prob.ref_chisqr:
            raise AssertionError(f"fit {i}: chi-square {fits.chisqr[i]:.6g}, reference {prob.ref_chisqr:.6g}")


def check_batch_nonfinite_fails_alone(name: str) -> None:
    """A dataset holding NaN fails its own fit only."""
    prob = _Problem("nonlinear")
    bad = prob.data.copy()
    bad[7] = np.nan
    fits = _batch_fit(name, [(prob.x, prob.data), (prob.x, bad), (prob.x, prob.data + 0.1)])
    _require(fits.success.tolist() == [True, False, True], lambda: f"success per fit {fits.success.tolist()}")
    _require(fits[1].error is not None, lambda: "the NaN dataset's fit carries no error")


def check_batch_honours_max_nfev(name: str) -> None:
    """max_nfev bounds every fit's evaluations."""
    prob = _Problem("nonlinear")
    fits = _batch_fit(name, [(prob.x, prob.data), (prob.x, prob.data + 0.2)], max_nfev=6)
    _require(bool((fits.nfev <= 6).all()), lambda: f"nfev per fit {fits.nfev.tolist()} with max_nfev=6")
    _require(not fits.success.any(), lambda: "a fit stopped by max_nfev reports success")


def engine_checks(name: str) -> list[Callable[[str], None]]:
    """Return the checks that apply to the engine's declared capabilities."""
    spec = _spec(name)
    if spec.batched:
        return [check_spec_valid, check_batch_recovers, check_batch_nonfinite_fails_alone,
                check_batch_honours_max_nfev]
    checks: list[Callable[[str], None]] = [
        check_spec_valid, check_recovers_linear, check_recovers_nonlinear, check_does_not_mutate_inputs,
        check_result_fields_complete, check_nonfinite_raise, check_nonfinite_propagate]
    if spec.bounds in ("native", "required_finite"):
        checks.append(check_within_native_bounds)
    if spec.bounds == "required_finite":
        checks.append(check_refuses_infinite_bounds)
    checks += [check_honours_max_nfev, check_aborts_when_asked]
    checks.append(check_reproducible_with_seed if spec.stochastic else check_deterministic)
    if spec.provides_covariance:
        checks.append(check_covariance_matches_reference)
    return checks


# -- probability-function checks ----------------------------------------------------------------
def _prob_info(name: str) -> ProbFuncInfo:
    return get_prob_func_info(name)


def _curve(name: str, nfix: int) -> tuple[np.ndarray, list[float]]:
    func = _prob_info(name).load()  # as the plugin provides it: the kit judges its values itself
    best = FitStats(50, 4, 46, 46.0, 1.0)
    increases = np.array([0.0, 1e-3, 0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 100.0, 1e3])
    return increases, [func(best, best.constrained(nfix, best.chisqr + d)) for d in increases]


def check_prob_spec_valid(name: str) -> None:
    """Check that the spec is a valid ProbFuncSpec and its function imports and is callable."""
    info = _prob_info(name)
    _require(isinstance(info.spec, ProbFuncSpec), lambda: f"the spec is a {type(info.spec).__name__}, not ProbFuncSpec")
    dataclasses.replace(info.spec)
    _require(callable(info.load()), lambda: f"{info.spec.func!r} does not resolve to a callable")


def check_prob_in_unit_interval(name: str) -> None:
    """Check for a float in [0, 1] at chi-square increases from 0 to 1000 and 1 to 3 fixed parameters."""
    for nfix in (1, 2, 3):
        increases, probs = _curve(name, nfix)
        for d, p in zip(increases, probs):
            _require(isinstance(p, (float, np.floating)), f"returned {type(p).__name__}, not float")
            _require(0.0 <= p <= 1.0,
                     f"probability {plain(p)} outside [0, 1] (chi-square increase {plain(d)}, {nfix} fixed)")


def check_prob_zero_at_best_fit(name: str) -> None:
    """Is zero when the constrained fit is as good as the best fit."""
    for nfix in (1, 2):
        _, probs = _curve(name, nfix)
        _require(abs(probs[0]) <= 1e-12, f"probability {plain(probs[0])} at zero chi-square increase ({nfix} fixed)")


def check_prob_monotone(name: str) -> None:
    """Never decreases as the chi-square increase grows, and rises from 0 towards 1."""
    for nfix in (1, 2):
        increases, probs = _curve(name, nfix)
        drops = [(increases[i], increases[i + 1]) for i in range(len(probs) - 1) if probs[i + 1] < probs[i] - 1e-12]
        if drops:
            raise AssertionError(f"probability decreases between chi-square increases {plain(drops[0])} "
                                 f"({nfix} fixed)")
        _require(probs[-1] > 0.99,
                 f"probability only {plain(probs[-1])} for a chi-square increase of 1000 ({nfix} fixed)")


def prob_func_checks(name: str) -> list[Callable[[str], None]]:
    """Return the checks for a probability function."""
    _prob_info(name)
    return [check_prob_spec_valid, check_prob_in_unit_interval, check_prob_zero_at_best_fit, check_prob_monotone]


# -- running --------------------------------------------------------------------------------------
def _run(name: str, checks: list[Callable[[str], None]], raise_on_failure: bool) -> list[CheckResult]:
    results = []
    for check in checks:
        label = check.__name__.removeprefix("check_")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConformanceWarning)
                check(name)
        except AssertionError as exc:
            results.append(CheckResult(label, "fail", str(exc)))
        except Exception as exc:
            results.append(CheckResult(label, "fail", f"raised {describe(exc)}"))
        else:
            notes = [str(w.message) for w in caught if issubclass(w.category, ConformanceWarning)]
            results.append(CheckResult(label, "warn", "; ".join(notes)) if notes else CheckResult(label, "pass"))
    if raise_on_failure and any(r.status == "fail" for r in results):
        raise ConformanceError(name, results)
    return results


def check_engine(name: str, *, raise_on_failure: bool = True) -> list[CheckResult]:
    """Run every check that applies to the engine's declared capabilities.

    Parameters
    ----------
    name : str
        An installed engine's name.
    raise_on_failure : bool, default True
        Raise :class:`ConformanceError` listing every failed check; otherwise
        return the results.

    Returns
    -------
    list of CheckResult
    """
    return _run(name, engine_checks(name), raise_on_failure)


def check_prob_func(name: str, *, raise_on_failure: bool = True) -> list[CheckResult]:
    """Run the probability-function checks; see :func:`check_engine`."""
    return _run(name, prob_func_checks(name), raise_on_failure)


def check_model(name: str, *, raise_on_failure: bool = True) -> list[CheckResult]:
    """Run the model-plugin checks of :mod:`fitcore.model_kit`; see :func:`check_engine`."""
    from .model_kit import ModelKitWarning, model_checks

    def reported(check: Callable[[str], None]) -> Callable[[str], None]:
        def run(model: str) -> None:  # the kit's reservations, as this kit reports them
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ModelKitWarning)
                check(model)
            for w in caught:
                warnings.warn(str(w.message), ConformanceWarning, stacklevel=2)
        run.__name__ = check.__name__
        return run

    return _run(name, [reported(c) for c in model_checks(name)], raise_on_failure)


def parametrize_with_checks(engines: Sequence[str] = (), prob_funcs: Sequence[str] = ()) -> Any:
    """Return a ``pytest.mark.parametrize`` over ``(name, check)``: one test per plugin and check.

    Examples
    --------
    >>> @parametrize_with_checks(["leastsq"], prob_funcs=["f_test"])  # doctest: +SKIP
    ... def test_conformance(name, check):
    ...     check(name)
    """
    import pytest

    if isinstance(engines, str) or isinstance(prob_funcs, str):
        raise TypeError("parametrize_with_checks takes lists of names, e.g. ['leastsq']")
    cases = [(n, c) for n in engines for c in engine_checks(n)]
    cases += [(n, c) for n in prob_funcs for c in prob_func_checks(n)]
    ids = [f"{n}-{c.__name__.removeprefix('check_')}" for n, c in cases]
    return pytest.mark.parametrize(("name", "check"), cases, ids=ids)
