"""One fit from start to finish: set-up, the engine, its answer, error bars, the verdict.

:func:`prepare` checks the parameters and compiles the constraints;
:func:`run_fit` hands the engine a :class:`~fitcore.problem.Problem` and turns
what it returns into a :class:`~fitcore.result.FitResult`. The engine's answer
is the answer: the core replaces it by a better point it saw, or polishes it
with Gauss-Newton steps, only when the engine declares that it minimizes the
plain sum of squares (``EngineSpec.least_squares``). An answer that is not
finite or lies outside the bounds the engine enforces itself is refused.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .bounds import BoundsTransform
from .chisquare import ChiSquare
from .constraints import Constraints
from .differences import central_gradient
from .errors import (
    BoundsWarning,
    EngineCapabilityError,
    EngineError,
    NonFiniteResidualError,
    ParameterError,
    caller_stacklevel,
)
from .objective import Objective, StopFit
from .options import CoreOptions
from .parameters import Parameter, Parameters, write_values
from .plugins import EngineInfo, list_engines, selects
from .problem import EngineResult, Problem
from .result import FitResult
from .specs import resolve
from .uncertainty import (
    ErrorBars,
    cost_errorbars,
    errorbars_from_covariance,
    errorbars_from_samples,
    least_squares_errorbars,
    propagate,
)
from .verdict import Evidence, judge, moved

__all__ = ["FitSetup", "FitRequest", "PreparedFit", "EngineRun", "Minimum", "prepare", "restart", "run_fit",
           "run_engine", "minimum"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class FitSetup:
    """What :func:`prepare` works out once per fit: the free parameters, their bounds and start."""

    free: list[Parameter]
    names: tuple[str, ...]
    lower: list[float]
    upper: list[float]
    start: list[float]
    constraints: Constraints | None

    @property
    def bounded(self) -> bool:
        """Whether some free parameter has a finite bound."""
        return any(lo != -math.inf or hi != math.inf for lo, hi in zip(self.lower, self.upper))


def prepare(params: Parameters, make_constraints: Callable[[Parameters], Constraints]) -> FitSetup:
    """Check the parameters, compile the constraints and take the start (:func:`restart`).

    Raises
    ------
    ParameterError
        A parameter has no value, or no parameter is varied.
    ConstraintError
        An expression is invalid, refers to an unknown name, or is in a cycle.
    """
    pars = list(params.values())
    free = [p for p in pars if p.expr is None and p.vary]
    for p in pars:
        if p.expr is None and p.value is None:
            raise ParameterError(f"parameter {p.name!r} has no value; give it value=... or expr=...", p.name)
    constraints = make_constraints(params) if any(p.expr is not None for p in pars) else None
    for p in free:
        if not p.min < p.max:  # only reachable by bypassing Parameter's own checks
            raise ParameterError(f"parameter {p.name!r}: min ({p.min}) must be less than max ({p.max})", p.name)
    if not free:
        raise ParameterError("no parameter is varied: set vary=True on at least one parameter without an expression")
    return restart(FitSetup(free, tuple(str(p.name) for p in free), [p.min for p in free], [p.max for p in free],
                            [], constraints))


def restart(setup: FitSetup) -> FitSetup:
    """The set-up with the free parameters' current values as the start, and the expressions evaluated there.

    A start outside its bounds is moved onto the nearest bound with a
    :class:`~fitcore.errors.BoundsWarning`. Bounds on an expression parameter clip
    the expression's value (:meth:`fitcore.constraints.Constraints.evaluate`).
    """
    for p in setup.free:
        assert p.value is not None
        if not p.min <= p.value <= p.max:
            moved_to = min(max(p.value, p.min), p.max)
            warnings.warn(f"parameter {p.name!r}: starting value {p.value} is outside its bounds "
                          f"[{p.min}, {p.max}]; moved to {moved_to}", BoundsWarning, stacklevel=caller_stacklevel())
            p.value = moved_to
    if setup.constraints is not None:
        setup.constraints.evaluate()
    return replace(setup, start=[float(p.value) for p in setup.free if p.value is not None])


@dataclass(frozen=True)
class FitRequest:
    """Everything a fit needs besides the parameters' set-up."""

    function: Callable[..., Any]
    params: Parameters
    args: tuple[Any, ...]
    kws: dict[str, Any]
    engine: EngineInfo
    engine_options: dict[str, Any]
    core: CoreOptions
    given: frozenset[str]
    calc_covar: bool = True


class PreparedFit:
    """A fit set up once and run any number of times from the parameters' current values.

    The set-up is the work that does not depend on where a fit starts: the
    engine looked up, the options separated and checked, the parameters
    checked and their constraints compiled, the engine's capabilities checked.
    :meth:`run` then takes the free parameters' current values as the start.
    :meth:`fitcore.Minimizer.minimize` prepares and runs one fit; ``fit_many``
    runs one prepared fit per dataset and a profile one per point.

    Parameters
    ----------
    request : FitRequest
        The function, parameters, options and engine.
    make_constraints : callable
        ``make_constraints(params) -> Constraints`` (the Minimizer's interpreter).

    Raises
    ------
    ParameterError, ConstraintError, EngineCapabilityError, EngineOptionError
        As :func:`prepare` and :func:`check_capabilities`, before any evaluation.
    """

    def __init__(self, request: FitRequest, make_constraints: Callable[[Parameters], Constraints]) -> None:
        self.request = request
        self.setup = prepare(request.params, make_constraints)
        check_capabilities(request.engine, self.setup, request.engine_options)
        self.engine_call = request.engine.load()
        self.engine_name = _engine_name(request.engine)
        self._fresh = True  # prepare() took the current values as the start
        self._first_start = list(self.setup.start)

    def rewind(self) -> None:
        """Put the free parameters back at the start the fit was prepared with."""
        write_values(self.setup.free, self._first_start)

    def run(self, args: tuple[Any, ...] | None = None, kws: dict[str, Any] | None = None) -> FitResult:
        """Fit from the current values (``args``/``kws`` replace the function's arguments for this fit).

        The parameters are left at the answer; exceptions propagate, and the
        caller restores the parameters (:func:`fitcore.parameters.restored_on_error`).
        """
        req = self.request if args is None else replace(self.request, args=args, kws=kws or {})
        return run_fit(req, self._restart(), self.engine_call, self.engine_name)

    def minimum(self) -> Minimum:
        """Fit from the current values and return only the minimum: no error bars, verdict or result object.

        The parameters are left at the point :meth:`run` would report before
        its error bars (and their polish).
        """
        return minimum(run_engine(self.request, self._restart(), self.engine_call))

    def _restart(self) -> FitSetup:
        if not self._fresh:
            self.setup = restart(self.setup)
        self._fresh = False
        return self.setup


def check_capabilities(info: EngineInfo, setup: FitSetup, options: dict[str, Any]) -> None:
    """Refuse, before any evaluation, a problem the engine declares it cannot handle."""
    spec = info.spec
    if spec.batched:
        raise EngineCapabilityError(
            f"engine {spec.name!r} fits many datasets at once: use fitcore.fit_many(..., vectorized=True, "
            f"engine={spec.name!r}), or a per-fit engine here, such as 'leastsq'", spec.name)
    if spec.bounds == "required_finite":
        missing = [f"{n!r} (min={lo}, max={hi})" for n, lo, hi in zip(setup.names, setup.lower, setup.upper)
                   if not (math.isfinite(lo) and math.isfinite(hi))]
        if missing:
            raise EngineCapabilityError(
                f"engine {spec.name!r} requires finite min and max on every varied parameter; missing for "
                f"{', '.join(missing)}. Give those parameters bounds or choose a local engine", spec.name)
    if spec.precheck is not None:
        resolve(spec.precheck)(dict(options), np.array(setup.lower), np.array(setup.upper), setup.names)


@dataclass(frozen=True)
class EngineRun:
    """What the engine left: the objective it evaluated, its start and bounds, and its answer (None if stopped)."""

    obj: Objective
    x0: Array
    lower: Array
    upper: Array
    result: EngineResult | None
    least_squares: bool  # the engine minimizes the plain sum of squares


@dataclass(frozen=True)
class Minimum:
    """The point a fit reports, without the report: for fits whose only use is their minimum (profiles)."""

    value: float  # chi-square, or the cost
    nfev: int
    aborted: bool
    stop_reason: str | None


def run_fit(req: FitRequest, setup: FitSetup, call: Callable[..., Any], engine_name: str) -> FitResult:
    """Run one fit with the engine function ``call`` and return its result; the parameters are left at the answer.

    Exceptions (the user's function, the engine, a refused answer) propagate;
    the caller restores the parameters.
    """
    return _finish(req, setup, run_engine(req, setup, call), engine_name)


def run_engine(req: FitRequest, setup: FitSetup, call: Callable[..., Any]) -> EngineRun:
    """Hand the engine a :class:`~fitcore.problem.Problem` and check its answer (:func:`_verify`)."""
    info, core = req.engine, req.core
    spec = info.spec
    transform = (BoundsTransform(setup.lower, setup.upper, setup.names)
                 if spec.bounds == "transform" and setup.bounded else None)
    obj = Objective(req.function, req.params, setup.free, transform, setup.constraints, req.args, req.kws,
                    core.nan_policy, core.iter_cb, core.max_nfev)
    if transform is not None:
        x0 = transform.start(setup.start)
        lower, upper = np.full(x0.size, -np.inf), np.full(x0.size, np.inf)
    else:
        x0, lower, upper = np.array(setup.start), np.array(setup.lower), np.array(setup.upper)
    result: EngineResult | None = None
    try:
        obj.prime(x0)
        if obj.kind == "cost" and spec.objective == "residuals":
            accept = sorted(e.name for e in list_engines() if e.spec.objective == "scalar")
            raise EngineCapabilityError(
                f"the function returns a scalar cost, and engine {spec.name!r} minimizes residual arrays only. "
                f"Engines that minimize a cost: {', '.join(accept) or '(none installed)'}; or return the residual "
                "array (data - model) for a least-squares fit", spec.name)
        problem = _problem(obj, req, x0, lower, upper, setup)
        result = _call_engine(call, problem, req.engine_options, obj, info)
    except StopFit:
        result = None
    if result is not None:
        _verify(result, info, lower, upper, setup.names)
    return EngineRun(obj, x0, lower, upper, result, spec.minimizes_least_squares(req.engine_options))


def minimum(run: EngineRun) -> Minimum:
    """The point :func:`run_fit` would report (before any polish), written into the parameters, and its value."""
    obj = run.obj
    aborted = obj.stop_reason is not None
    best_x, best_value, best_out = obj.best()
    x, out = _answer(obj, run.x0, run.result, aborted, run.least_squares, best_x, best_value, best_out)
    obj.set_external(obj.external(x))
    value = float(out) if obj.kind == "cost" else float(np.dot(out, out))
    return Minimum(value, obj.nfev, aborted, obj.stop_reason)


def _problem(obj: Objective, req: FitRequest, x0: Array, lower: Array, upper: Array, setup: FitSetup) -> Problem:
    core = req.core
    common: dict[str, Any] = dict(x0=x0, lower=lower, upper=upper, names=setup.names, max_nfev=core.max_nfev,
                                  seed=core.seed, errordef=core.errordef, _counter=lambda: obj.nfev)
    if obj.kind == "cost":
        def no_residuals(x: Array) -> Array:
            raise TypeError("this fit's function returns a scalar cost: it has no residual vector or Jacobian; "
                            "use problem.scalar and problem.gradient")

        return Problem(residual=no_residuals, scalar=obj.scalar, jacobian=no_residuals,
                       gradient=_cost_gradient(obj.scalar, lower, upper), ndata=obj.ndata or 0,
                       objective="cost", **common)
    analytic = _engine_jacobian(obj, req) if core.Dfun is not None else None
    chi = ChiSquare(obj.evaluate, lower, upper, analytic)
    return Problem(residual=obj.evaluate, scalar=chi.value, jacobian=chi.jacobian, gradient=chi.gradient,
                   ndata=int(obj.ndata or 0), has_analytic_jacobian=analytic is not None, objective="least_squares",
                   **common)


def _cost_gradient(cost: Callable[[Array], float], lower: Array, upper: Array) -> Callable[[Array], Array]:
    """Central-difference gradient of a cost, one-sided (inwards) next to a bound."""
    return lambda x: central_gradient(cost, x, lower, upper)


def _user_jacobian(obj: Objective, req: FitRequest) -> Callable[[Array], Array]:
    """The user's ``Dfun`` as a function of external values: ``(ndata, nvar)``, rows kept as the residual's."""
    dfun, col_deriv = req.core.Dfun, req.core.col_deriv
    assert dfun is not None
    nvar = len(obj.free)

    def jacobian(values: Array) -> Array:
        obj.set_external(values)
        try:
            jac = np.asarray(dfun(req.params, *req.args, **req.kws), dtype=float)
        except BaseException as exc:
            obj.user_error = exc
            raise
        if col_deriv:
            jac = jac.T
        if jac.ndim != 2 or jac.shape[1] != nvar:
            raise ValueError(f"Dfun returned shape {jac.shape}; expected (ndata, {nvar}) "
                             f"(or ({nvar}, ndata) with col_deriv=True)")
        return obj.kept_rows(jac)

    return jacobian


def _engine_jacobian(obj: Objective, req: FitRequest) -> Callable[[Array], Array]:
    """The user's ``Dfun`` in the engine's coordinates (chain rule through the bound transform)."""
    external = _user_jacobian(obj, req)
    if obj.transform is None:
        return external
    transform = obj.transform
    return lambda x: external(transform.to_external(x)) * transform.derivative(x)


def _call_engine(call: Callable[..., Any], problem: Problem, options: dict[str, Any], obj: Objective,
                 info: EngineInfo) -> EngineResult:
    try:
        result = call(problem, **options)
    except StopFit:
        raise
    except Exception as exc:
        if exc is not obj.user_error:
            exc.add_note(f"raised inside fitcore engine {info.name!r} (distribution {info.distribution} "
                         f"{info.version})")
        raise
    if not isinstance(result, EngineResult):
        raise EngineError(f"engine {info.name!r} (distribution {info.distribution}) returned "
                          f"{type(result).__name__}, not fitcore.EngineResult", info.name)
    return result


def _verify(result: EngineResult, info: EngineInfo, lower: Array, upper: Array, names: tuple[str, ...]) -> None:
    """Refuse an answer that is not a finite point of the right size inside the engine's bounds."""
    who = f"engine {info.name!r} (distribution {info.distribution} {info.version})"
    x = np.asarray(result.x, dtype=float)
    if x.shape != (len(names),):
        raise EngineError(f"{who} returned x of shape {x.shape}; expected ({len(names)},)", info.name)
    values = x.tolist()
    bad = [n for n, a in zip(names, values) if not math.isfinite(a)]
    if bad:
        raise EngineError(f"{who} returned a non-finite value for {', '.join(map(repr, bad))}: {values}; "
                          "this is a bug in the engine, report it to its authors", info.name)
    outside = [f"{n!r} = {a!r} (min={lo}, max={hi})" for n, a, lo, hi in zip(names, values, lower.tolist(),
                                                                            upper.tolist()) if not lo <= a <= hi]
    if outside:
        raise EngineError(f"{who} returned values outside the bounds it declares it enforces: "
                          f"{', '.join(outside)}; this is a bug in the engine, report it to its authors", info.name)
    if result.samples is not None:
        samples = np.asarray(result.samples, dtype=float)
        if samples.ndim != 2 or samples.shape[1] != len(names) or samples.shape[0] < 2 \
                or not np.all(np.isfinite(samples)):
            raise EngineError(f"{who} returned samples of shape {samples.shape} (or non-finite ones); expected "
                              f"finite samples of shape (nsamples >= 2, {len(names)})", info.name)


def _finish(req: FitRequest, setup: FitSetup, run: EngineRun, engine_name: str) -> FitResult:
    names, core = setup.names, req.core
    obj, x0, result, least_squares = run.obj, run.x0, run.result, run.least_squares
    aborted = obj.stop_reason is not None
    best_x, best_value, best_out = obj.best()
    x, out = _answer(obj, x0, result, aborted, least_squares, best_x, best_value, best_out)
    v = obj.external(x)
    samples = None
    if result is not None and result.samples is not None:
        samples = np.array([obj.external(s) for s in np.asarray(result.samples, dtype=float)])
    eb, reason = _errorbars(req, setup, obj, v, out, result, aborted, least_squares, x0, samples)
    if eb is not None and eb.resid is not None and eb.polished:
        v, out = eb.v, eb.resid
    if eb is not None and samples is not None:
        v = eb.v  # the medians
        out = obj.residual_at(v) if obj.kind == "least_squares" else obj.cost_at(v)
    obj.set_external(v)  # the error bars evaluated elsewhere: the parameters hold the reported point again
    stats = _statistics(obj, out, len(names))
    _write_errorbars(req.params, obj, v, eb)
    engine_x = None if result is None else np.asarray(result.x, dtype=float)
    stayed = not moved(v.tolist(), setup.start) or (engine_x is not None and engine_x.tolist() == x0.tolist())
    errorbars = eb is not None and eb.covar is not None
    if result is None:
        engine_success, engine_message = False, ""
    else:
        engine_success, engine_message = bool(result.success), str(result.message)
    residual = out if obj.kind == "least_squares" else None
    evidence = Evidence(
        engine_success=engine_success, engine_message=engine_message, stop_reason=obj.stop_reason,
        chisqr=stats["chisqr"], names=names, values=v.tolist(), start=setup.start, lower=setup.lower,
        upper=setup.upper, stayed=stayed and samples is None and obj.kind == "least_squares",
        jacobian=None if eb is None or samples is not None else eb.jacobian, residual=residual,
        stderr=[eb.stderr[n] for n in names] if errorbars and eb is not None else None,
        gn_step=None if eb is None else eb.gn_step)
    success, message = judge(evidence)
    return FitResult(
        params=req.params.copy(), success=success, message=message, var_names=names,
        init_vals=tuple(setup.start),
        aborted=aborted, nfev=obj.nfev, nfev_errorbars=0 if eb is None else eb.nfev,
        polished=0 if eb is None else eb.polished,
        ier=None if result is None else int(result.status),
        lmdif_message="" if result is None else str(result.message), nit=None if result is None else result.nit,
        errorbars=errorbars, errorbars_reason=None if errorbars else (reason or (eb.reason if eb else None)),
        nvarys=len(names), residual=residual,
        covar=eb.covar if errorbars and eb is not None else None, engine=engine_name,
        engine_options=req.engine_options, core_options=req.core.as_dict(set(req.given)),
        engine_extras={} if result is None else dict(result.extras),
        objective=obj.kind or "least_squares", errordef=core.errordef,
        engine_objective=None if result is None or result.objective_value is None else float(result.objective_value),
        samples=samples, **stats)


def _engine_name(info: EngineInfo) -> str:
    """The name that selects this engine again: the bare name, or ``'<distribution>:<name>'`` when it does not."""
    return info.name if selects(info) else info.qualified_name


def _answer(obj: Objective, x0: Array, result: EngineResult | None, aborted: bool, least_squares: bool,
            best_x: Array | None, best_value: float, best_out: Any) -> tuple[Array, Any]:
    """The point to report (engine coordinates) and the residual (or cost) there.

    The engine's answer, unless the fit was stopped (the best point seen is
    kept) or the engine minimizes the plain sum of squares and the core saw a
    point with a lower one.
    """
    if result is None or aborted:
        if best_x is not None:
            return best_x, best_out
        return x0, _value_at(obj, obj.external(x0))  # no finite evaluation (nan_policy='propagate')
    x = np.asarray(result.x, dtype=float)
    if best_x is not None and x.tolist() == best_x.tolist():
        return x, best_out
    out = _value_at(obj, obj.external(x))
    if least_squares and result.samples is None and best_x is not None:
        value = float(out) if obj.kind == "cost" else float(np.dot(out, out))
        if not value <= best_value:
            return best_x, best_out
    return x, out


def _value_at(obj: Objective, v: Array) -> Any:
    return obj.cost_at(v) if obj.kind == "cost" else obj.residual_at(v)


def _errorbars(req: FitRequest, setup: FitSetup, obj: Objective, v: Array, out: Any, result: EngineResult | None,
               aborted: bool, least_squares: bool, x0: Array,
               samples: Array | None) -> tuple[ErrorBars | None, str | None]:
    """Error bars at ``v``, or None and the reason there are none."""
    value = float(out) if obj.kind == "cost" else float(np.dot(out, out))
    if aborted or result is None:
        return None, "the fit was stopped before convergence"
    if not req.calc_covar:
        return None, "error bars were not requested"
    if not math.isfinite(value):
        return None, "the objective at the solution is not finite"
    names = list(setup.names)
    try:
        if req.engine.spec.provides_covariance and result.covariance is not None:
            return errorbars_from_covariance(np.asarray(result.covariance, dtype=float), names), None
        if samples is not None:
            return errorbars_from_samples(samples, names), None
        if obj.kind == "cost":
            return cost_errorbars(obj.cost_at, v, names, setup.lower, setup.upper, errordef=req.core.errordef), None
        nfree = int(obj.ndata or 0) - len(names)
        polish = least_squares and bool(result.success) and moved(v.tolist(), setup.start)
        jacobian = _user_jacobian(obj, req) if req.core.Dfun is not None else None
        return least_squares_errorbars(
            obj.residual_at, v, out, names, setup.lower, setup.upper, nfree=nfree,
            scale_covar=req.core.scale_covar, polish=polish, stencil=result.stencil,
            to_external=None if obj.transform is None else obj.external, jacobian=jacobian), None
    except np.linalg.LinAlgError as exc:  # a finished fit is not lost because its error bars failed
        return None, f"the covariance could not be computed: {exc}"
    except NonFiniteResidualError as exc:
        return None, f"the residual is not finite next to the answer, where the error bars need it: {exc}"


def _statistics(obj: Objective, out: Any, nvarys: int) -> dict[str, Any]:
    """The manual's statistics table for the residual (or cost) ``out``."""
    if obj.kind == "cost":
        ndata = int(obj.ndata or 0)
        return dict(ndata=ndata, nfree=ndata - nvarys if ndata else 0, chisqr=float(out), redchi=math.nan,
                    aic=math.nan, bic=math.nan)
    ndata = int(out.size)
    nfree = ndata - nvarys
    chisqr = float(np.dot(out, out))
    redchi = chisqr / nfree if nfree > 0 else math.nan
    chi = max(chisqr, 1e-300)
    return dict(ndata=ndata, nfree=nfree, chisqr=chisqr, redchi=redchi,
                aic=ndata * math.log(chi / ndata) + 2 * nvarys,
                bic=ndata * math.log(chi / ndata) + math.log(ndata) * nvarys)


def _write_errorbars(params: Parameters, obj: Objective, v: Array, eb: ErrorBars | None) -> None:
    """Write stderr and correl into the parameters (None where not estimated)."""
    for par in params.values():
        par.stderr, par.correl = None, None
    if eb is None or eb.covar is None:
        return
    for name, par in params.items():
        if name in eb.stderr:
            par.stderr, par.correl = eb.stderr[name], dict(eb.correl[name])
        elif par.expr is None:  # a fixed value is exactly known
            par.stderr = 0.0
    if obj.constraints is not None:
        for name, err in propagate(obj.expression_values, v, eb.covar, list(eb.stderr)).items():
            params[name].stderr = err
        obj.set_external(v)
