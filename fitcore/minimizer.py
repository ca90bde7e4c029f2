"""Minimizer and minimize(): the front door that validates, dispatches and reports.

The Minimizer knows no optimizer. It validates the parameters and options,
checks the problem against the selected engine's declared capabilities before
any evaluation, hands the engine a :class:`~fitcore.problem.Problem`, and owns
everything after: writing the best values back, fit statistics, error bars,
an honest ``success``, and restoring the user's Parameters if the fit raises.
"""

from __future__ import annotations

import math
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._blas import LA
from .bounds import BoundsTransform
from .chisquare import ChiSquare
from .constraints import Constraints, base_symtable, make_interpreter
from .errors import (
    BoundsWarning,
    EngineCapabilityError,
    EngineOptionError,
    ParameterError,
    did_you_mean,
)
from .objective import NAN_POLICIES, Objective, StopFit
from .parameters import Parameter, Parameters
from .plugins import EngineInfo, get_engine
from .problem import EngineResult, Problem
from .specs import CORE_OPTIONS, resolve
from .uncertainty import Uncertainty, estimate, from_covariance, propagate

__all__ = ["Minimizer", "minimize"]

Array = NDArray[np.float64]
#: gradient cosine above which a fit that never left its start is not at a minimum
_STATIONARY_COS = 1e-4
#: a converged fit whose Gauss-Newton step at the answer is longer than this many standard
#: errors (for some parameter) is not at a minimum
_GN_STEP_STDERR = 1.0
#: a fit whose every value changed by less than this fraction "did not move"
_MOVED_RTOL = 1e-6


class _Setup:
    """What prepare_fit() works out once per fit."""

    def __init__(self, free: list[Parameter], constraints: Constraints | None) -> None:
        self.free = free
        # plain loops, no comprehensions, here and in the rest of a fit's set-up and results: they run once
        # per fit with fitcore's code out of the caches, where each comprehension's function object costs
        # microseconds (benchmarks/README.md)
        self.names: list[str] = []
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.start_list: list[float] = []
        bounded = False
        for p in free:
            self.names.append(p.name)  # type: ignore[arg-type]
            self.lo.append(p._min)
            self.hi.append(p._max)
            self.start_list.append(p._value)  # type: ignore[arg-type]
            bounded = bounded or p._min != -math.inf or p._max != math.inf
        self.bounded = bounded
        self.constraints = constraints


class Minimizer:
    """A fit of a residual function over a set of Parameters.

    Parameters
    ----------
    function : callable
        ``function(params, *fcn_args, **fcn_kws)`` returning the residual array
        (data - model, ideally divided by the data's uncertainties).
    params : Parameters
        The parameters; a fit writes best values, ``stderr`` and ``correl`` into them.
    fcn_args : tuple, optional
        Extra positional arguments of ``function``.
    fcn_kws : dict, optional
        Extra keyword arguments of ``function``.
    iter_cb : callable, optional
        ``iter_cb(params, iter, resid, *fcn_args, **fcn_kws)`` called after every
        evaluation; returning True stops the fit, keeping the best values seen.
    nan_policy : {'raise', 'propagate', 'omit'}, default 'raise'
        What a non-finite residual does: raise naming the evaluation and values;
        hand it to the engine; or drop the points that are non-finite at the start.
    max_nfev : int, optional
        Stop after this many evaluations, keeping the best values seen.
    scale_covar : bool, default True
        Scale the covariance by the reduced chi-square (set False when the
        residual is already divided by correct uncertainties).
    **kws
        Default engine options for every fit of this Minimizer (for example the
        leastsq keywords of the manual), and ``Dfun``/``col_deriv`` (an analytic
        Jacobian ``Dfun(params, *args, **kws)``) or ``seed``.

    Attributes
    ----------
    nfev, success, errorbars, message, ier, lmdif_message, nvarys, ndata, nfree,
    residual, chisqr, redchi
        The manual's table of fit results.
    aic, bic : float
        Akaike and Bayesian information criteria.
    covar : ndarray or None
        Covariance of the varied parameters, in ``var_names`` order.
    var_names : list of str
        Names of the varied parameters.
    init_vals : list of float
        Their starting values.
    engine : str
        Name of the engine that made the fit.
    engine_options, core_options : dict
        The engine's options and fitcore's own options (``nan_policy``, ``Dfun``, ...)
        of that fit; :func:`fitcore.conf_interval` refits with them.
    aborted : bool
        True when ``iter_cb`` or ``max_nfev`` stopped the fit; the parameters
        then hold the best values seen.
    errorbars_reason : str or None
        Why ``errorbars`` is False.
    nfev_errorbars : int
        Evaluations spent at the solution estimating the covariance and polishing it
        (not in ``nfev``).
    polished : int
        Gauss-Newton steps taken after the engine (each lowered chi-square); see
        :mod:`fitcore.uncertainty`. Only fits the engine reports as converged and
        that left their start are polished.
    """

    def __init__(
        self,
        function: Callable[..., Any],
        params: Parameters,
        fcn_args: tuple[Any, ...] | None = None,
        fcn_kws: dict[str, Any] | None = None,
        iter_cb: Callable[..., Any] | None = None,
        nan_policy: str = "raise",
        max_nfev: int | None = None,
        scale_covar: bool = True,
        **kws: Any,
    ) -> None:
        if not callable(function):
            raise TypeError(f"the residual function must be callable, got {type(function).__name__}")
        if not isinstance(params, Parameters):
            raise TypeError(f"params must be a fitcore Parameters, not {type(params).__name__}")
        self.userfcn = function
        self.params = params
        self.userargs = tuple(fcn_args) if fcn_args is not None else ()
        self.userkws = dict(fcn_kws) if fcn_kws is not None else {}
        self.iter_cb = iter_cb
        self.nan_policy = nan_policy
        self.max_nfev = max_nfev
        self.scale_covar = scale_covar
        self.kws = kws
        self._asteval: Any = None
        self._symtable: dict[str, Any] | None = None
        self._setup: _Setup | None = None
        #: False skips the covariance step (profile refits in :mod:`fitcore.confidence` need only chi-square)
        self._calc_covar = True
        #: the values this Minimizer's last fit left in the parameters (a refit keeps their init_value)
        self._left: dict[str, tuple[Parameter, float | None]] = {}
        self._reset_results()

    def _reset_results(self) -> None:
        self.nfev = 0
        self.nfev_errorbars = 0
        self.polished = 0
        self.success = False
        self.errorbars = False
        self.errorbars_reason: str | None = "no fit has been run"
        self.message = "no fit has been run"
        self.ier: int | None = None
        self.lmdif_message = ""
        self.nvarys = 0
        self.ndata = 0
        self.nfree = 0
        self.residual: Array | None = None
        self.chisqr = math.nan
        self.redchi = math.nan
        self.aic = math.nan
        self.bic = math.nan
        self.covar: Array | None = None
        self.var_names: list[str] = []
        self.init_vals: list[float] = []
        self.engine: str | None = None
        self.engine_options: dict[str, Any] = {}
        self.core_options: dict[str, Any] = {}
        self.engine_extras: dict[str, Any] = {}
        self.aborted = False
        self.nit: int | None = None
        self._unc: Uncertainty | None = None  # its Jacobian at the answer is formed only when judging needs it

    # -- the interpreter of section 5.3 ------------------------------------------------------
    @property
    def asteval(self) -> Any:
        """The asteval Interpreter evaluating constraints; add functions to its ``symtable``."""
        if self._asteval is None:
            self._asteval = make_interpreter(self._symtable)
            self._symtable = self._asteval.symtable
        return self._asteval

    def _symbols(self) -> dict[str, Any]:
        if self._symtable is None:
            self._symtable = base_symtable()
        return self._symtable

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_asteval"] = None  # holds writers and modules; rebuilt on demand
        state["_symtable"] = None
        state["_setup"] = None
        state["_user_symbols"] = self._user_symbols()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        user = state.pop("_user_symbols", None) or {}
        self.__dict__.update(state)
        if user:
            self._symtable = base_symtable()
            self._symtable.update(user)

    def _user_symbols(self) -> dict[str, Any]:
        """Symbols the user added to the interpreter that can travel with a pickle (e.g. module functions)."""
        if self._symtable is None:
            return {}
        import pickle

        base = base_symtable()
        user = {}
        for key, val in self._symtable.items():
            if key in self.params or (key in base and base[key] is val):
                continue
            try:
                pickle.dumps(val)
            except Exception:  # asteval procedures and closures stay behind; a refit names what is missing
                continue
            user[key] = val
        return user

    # -- preparation -------------------------------------------------------------------------
    def prepare_fit(self, params: Parameters | None = None) -> None:
        """Check the parameters, compile the constraints and set the expressions' values.

        Called by every fit; call it yourself to evaluate the residual function
        with consistent expression values before fitting (manual section 3.5).

        Raises
        ------
        ParameterError
            A parameter has no value or no parameter is varied.
        ConstraintError
            An expression is invalid, refers to an unknown name, or is in a cycle.
        """
        if params is not None:
            if not isinstance(params, Parameters):
                raise TypeError(f"params must be a fitcore Parameters, not {type(params).__name__}")
            self.params = params
        params = self.params
        pars = list(params.values())
        free = []
        has_expr = False
        for p in pars:
            if p._expr is not None:
                has_expr = True
            elif p._vary:
                free.append(p)
        if has_expr:
            me = weakref.ref(self)  # no Minimizer -> Constraints -> closure -> Minimizer cycle for the GC
            constraints = Constraints(params, self._symbols(), lambda: me().asteval)  # type: ignore[union-attr]
        else:
            constraints = None
        for p in pars:
            if p._expr is not None and (p._min != -math.inf or p._max != math.inf):
                warnings.warn(
                    f"parameter {p.name!r} has expr={p.expr!r} and bounds [{p.min}, {p.max}]: an expression "
                    "parameter's value is computed, and its bounds are not enforced; bound the parameters "
                    "the expression uses instead",
                    BoundsWarning,
                    stacklevel=3,
                )
            if p._expr is None and p._value is None:
                raise ParameterError(f"parameter {p.name!r} has no value; give it value=... or expr=...", p.name)
        for p in free:
            assert p._value is not None
            if not p._min < p._max:  # only reachable by bypassing Parameter's own checks (slots, pickles)
                raise ParameterError(f"parameter {p.name!r}: min ({p.min}) must be less than max ({p.max})", p.name)
            if p._value < p._min or p._value > p._max:
                moved = min(max(p.value, p.min), p.max)
                warnings.warn(
                    f"parameter {p.name!r}: starting value {p.value} is outside its bounds "
                    f"[{p.min}, {p.max}]; moved to {moved}",
                    BoundsWarning,
                    stacklevel=3,
                )
                p._value = moved
        if not free:
            raise ParameterError(
                "no parameter is varied: set vary=True on at least one parameter without an expression"
            )
        if constraints is not None:
            constraints.evaluate()
        left = self._left
        for p in pars:  # a refit from where this Minimizer's last fit left a value keeps its start (manual 4.2)
            mark = left.get(p.name)  # type: ignore[arg-type]
            if mark is None or mark[0] is not p or mark[1] != p._value:
                p.init_value = p._value
        self._setup = _Setup(free, constraints)
        self.var_names = list(self._setup.names)
        self.init_vals = list(self._setup.start_list)
        self.nvarys = len(free)

    # -- engines by name ---------------------------------------------------------------------
    def leastsq(self, **kws: Any) -> bool:
        """Fit with Levenberg-Marquardt (MINPACK); see :meth:`minimize`."""
        return self.minimize(engine="leastsq", **kws)

    def lbfgsb(self, **kws: Any) -> bool:
        """Fit with L-BFGS-B; see :meth:`minimize`."""
        return self.minimize(engine="lbfgsb", **kws)

    def anneal(self, **kws: Any) -> bool:
        """Fit with simulated annealing (dual annealing); see :meth:`minimize`."""
        return self.minimize(engine="anneal", **kws)

    def minimize(self, engine: str = "leastsq", **kws: Any) -> bool:
        """Run a fit with the named engine.

        Parameters
        ----------
        engine : str, default 'leastsq'
            Name of an installed engine (see :func:`fitcore.list_engines`).
        **kws
            Engine options (checked against the engine's declared options) and
            the core options ``nan_policy``, ``iter_cb``, ``max_nfev``,
            ``scale_covar``, ``Dfun``, ``col_deriv``, ``seed``.

        Returns
        -------
        bool
            ``self.success``.
        """
        info = get_engine(engine)
        spec = info.spec
        options = {**self.kws, **kws}
        core, unknown = {}, []
        for k in list(options):
            if k in CORE_OPTIONS:
                core[k] = options.pop(k)
            elif k not in spec.options:
                unknown.append(k)
        if unknown:
            unknown.sort()
            valid = ", ".join(sorted(spec.options)) or "(none)"
            raise EngineOptionError(
                f"engine {spec.name!r} has no option {unknown[0]!r}.{did_you_mean(unknown[0], list(spec.options))} "
                f"Its options: {valid}; fitcore's own: {', '.join(sorted(CORE_OPTIONS))}",
                spec.name,
                unknown[0],
            )
        nan_policy = core.get("nan_policy", self.nan_policy)
        if nan_policy not in NAN_POLICIES:
            raise ValueError(f"nan_policy={nan_policy!r}; expected one of {NAN_POLICIES}")
        max_nfev = core.get("max_nfev", self.max_nfev)
        if max_nfev is not None and (not isinstance(max_nfev, (int, np.integer)) or max_nfev < 1):
            raise ValueError(f"max_nfev={max_nfev!r}; expected a positive integer or None")
        for name in ("iter_cb", "Dfun"):
            func = core.get(name, self.iter_cb if name == "iter_cb" else None)
            if func is not None and not callable(func):
                raise TypeError(f"{name} must be callable or None, not {type(func).__name__}")
        if "seed" in core and not spec.stochastic:
            raise EngineOptionError(
                f"engine {spec.name!r} is deterministic and takes no seed; remove seed=", spec.name, "seed"
            )
        # taken before prepare_fit, which already writes init values, clipped starts and expressions
        snapshot = []
        for p in self.params.values():
            snapshot.append((p, p._value, p.stderr, p.correl, p.init_value))
        try:
            self.prepare_fit()
            setup = self._setup
            assert setup is not None
            if spec.bounds == "required_finite" or spec.precheck is not None:
                self._check_capabilities(info, setup, options)
            call = info.load()
            if self.engine is not None:  # results of an earlier fit (a new Minimizer has none)
                self._reset_results()
            self.var_names, self.init_vals, self.nvarys = list(setup.names), list(setup.start_list), len(setup.free)
            self.engine, self.engine_options, self.core_options = spec.name, dict(options), dict(core)
            transform = (BoundsTransform(setup.lo, setup.hi)
                         if spec.bounds == "transform" and setup.bounded else None)
            obj = Objective(self.userfcn, self.params, setup.free, transform, setup.constraints, self.userargs,
                            self.userkws, nan_policy, core.get("iter_cb", self.iter_cb), max_nfev)
            problem = self._problem(obj, setup, transform, core, max_nfev)
            result = self._run(call, problem, options, obj, info)
            self._finish(obj, setup, problem, result, core.get("scale_covar", self.scale_covar))
            left = self._left = {}
            for name, p in self.params.items():
                left[name] = (p, p._value)
        except BaseException:
            for par, *state in snapshot:
                par._value, par.stderr, par.correl, par.init_value = state
            raise
        return self.success

    def _check_capabilities(self, info: EngineInfo, setup: _Setup, options: dict[str, Any]) -> None:
        spec = info.spec
        if spec.bounds == "required_finite":
            missing = [f"{n!r} (min={lo}, max={hi})" for n, lo, hi in zip(setup.names, setup.lo, setup.hi)
                       if not (np.isfinite(lo) and np.isfinite(hi))]
            if missing:
                raise EngineCapabilityError(
                    f"engine {spec.name!r} requires finite min and max on every varied parameter; "
                    f"missing for {', '.join(missing)}. Give those parameters bounds or choose a local engine",
                    spec.name,
                )
        if spec.precheck is not None:
            resolve(spec.precheck)(dict(options), np.array(setup.lo), np.array(setup.hi), tuple(setup.names))

    def _problem(self, obj: Objective, setup: _Setup, transform: BoundsTransform | None,
                 core: dict[str, Any], max_nfev: int | None) -> Problem:
        if transform is not None:
            x0 = transform.start(setup.start_list)
            lower = np.array([-math.inf] * x0.size)  # np.full runs several Python-level numpy calls
            upper = np.array([math.inf] * x0.size)
        else:
            x0, lower, upper = np.array(setup.start_list), np.array(setup.lo), np.array(setup.hi)
        r0 = obj.prime(x0)
        dfun = core.get("Dfun")
        jacobian = self._user_jacobian(obj, dfun, bool(core.get("col_deriv", False))) if dfun else None
        chi = ChiSquare(obj.residual, lower, upper, jacobian)
        return Problem(
            x0=x0,
            lower=lower,
            upper=upper,
            names=tuple(setup.names),
            residual=obj.residual,
            scalar=obj.scalar,
            jacobian=chi.jacobian,
            gradient=chi.gradient,
            ndata=int(r0.size),
            has_analytic_jacobian=jacobian is not None,
            max_nfev=max_nfev,
            seed=core.get("seed"),
            _counter=lambda: obj.nfev,
        )

    def _user_jacobian(self, obj: Objective, dfun: Callable[..., Any], col_deriv: bool) -> Callable[[Array], Array]:
        if not callable(dfun):
            raise TypeError(f"Dfun must be callable, got {type(dfun).__name__}")
        nvar = len(obj.free)

        def jacobian(x: Array) -> Array:
            obj.set_external(obj.external(x))
            jac = np.asarray(dfun(self.params, *self.userargs, **self.userkws), dtype=float)
            if col_deriv:
                jac = jac.T
            if jac.ndim != 2 or jac.shape[1] != nvar:
                raise ValueError(f"Dfun returned shape {jac.shape}; expected (ndata, {nvar}) "
                                 f"(or ({nvar}, ndata) with col_deriv=True)")
            if obj.transform is not None:
                jac = jac * obj.transform.derivative(x)
            return jac

        return jacobian

    def _run(self, call: Callable[..., Any], problem: Problem, options: dict[str, Any], obj: Objective,
             info: EngineInfo) -> EngineResult | None:
        try:
            result = call(problem, **options)
        except StopFit:
            return None
        except BaseException as exc:
            if isinstance(exc, Exception) and exc is not obj.user_error and hasattr(exc, "add_note"):
                exc.add_note(f"raised inside fitcore engine {info.name!r} "
                             f"(distribution {info.distribution} {info.version})")
            raise
        if not isinstance(result, EngineResult):
            raise TypeError(f"engine {info.name!r} (distribution {info.distribution}) returned "
                            f"{type(result).__name__}, not fitcore.EngineResult")
        if not info.spec.provides_covariance:
            result.covariance = None  # only engines that declare it supply the covariance
        return result

    # -- results -----------------------------------------------------------------------------
    def _finish(self, obj: Objective, setup: _Setup, problem: Problem, result: EngineResult | None,
                scale_covar: bool) -> None:
        self.aborted = obj.stop_reason is not None
        x, resid, best_chi = obj.best()
        rx = None if result is None else np.asarray(result.x, dtype=float)
        rxl = None if rx is None else rx.tolist()
        if rx is not None and not self.aborted:
            if x is None or rxl != x.tolist():
                r = obj._quiet(rx)  # the engine's own answer, checked against the best seen
                if x is None or LA.ddot(r, r) <= best_chi:
                    x, resid = rx, r
                    obj.keep(x, r)
        if x is None:  # no evaluation had a finite chi-square (nan_policy='propagate'): report the start
            x = np.array(problem.x0, dtype=float)
            resid = obj._quiet(x)
            obj.keep(x, resid)
        assert resid is not None
        resid = resid.copy()  # ours: the function may write into the array it returned later on
        v = obj.external(x)
        obj.set_external(v)
        self.nfev = obj.nfev
        self.ndata = int(resid.size)
        self.nfree = self.ndata - self.nvarys
        self.chisqr = LA.ddot(resid, resid)
        if result is not None:
            self.ier, self.lmdif_message, self.nit = int(result.status), str(result.message), result.nit
            self.engine_extras = dict(result.extras)
        # the engine may return its start while the best point seen is a finite-difference probe next to it
        stayed = not _moved(v, setup.start_list) or (rxl is not None and rxl == problem.x0.tolist())
        engine_v = v
        # error bars first: the Gauss-Newton polish may move to a point of lower chi-square
        v, resid = self._uncertainties(obj, setup, v, resid, result, scale_covar, polish=not stayed)
        self.residual = resid
        self.chisqr = LA.ddot(resid, resid)
        self.redchi = self.chisqr / self.nfree if self.nfree > 0 else math.nan
        chi = max(self.chisqr, 1e-300)
        self.aic = self.ndata * math.log(chi / self.ndata) + 2 * self.nvarys
        self.bic = self.ndata * math.log(chi / self.ndata) + math.log(self.ndata) * self.nvarys
        self._judge(result, obj, stayed, setup, engine_v)
        step = None if self._unc is None else self._unc.gn_step
        if self.success and self.errorbars and step is not None:
            assert result is not None
            self._judge_step(setup, v, step, result)

    def _uncertainties(self, obj: Objective, setup: _Setup, v: Array, resid: Array,
                       result: EngineResult | None, scale_covar: bool, polish: bool) -> tuple[Array, Array]:
        """Error bars at the solution; returns the (possibly polished) solution and its residual."""
        for p in self.params.values():
            p.stderr, p.correl = None, None
        if self.aborted:
            self.errorbars, self.errorbars_reason = False, "the fit was stopped before convergence"
            return v, resid
        if not self._calc_covar:
            self.errorbars, self.errorbars_reason = False, "error bars were not requested"
            return v, resid
        if not math.isfinite(self.chisqr):
            self.errorbars, self.errorbars_reason = False, "the residual at the solution is not finite"
            return v, resid
        if result is not None and result.covariance is not None:
            unc = from_covariance(np.asarray(result.covariance, dtype=float), setup.names)
        else:
            # polish only what the engine reports as converged and that left its start
            polish = polish and result is not None and bool(result.success)
            try:
                unc = estimate(obj, v, resid, self.chisqr, self.nfree, setup.lo, setup.hi, scale_covar,
                               polish=polish, stencil=None if result is None else result.stencil)
            except np.linalg.LinAlgError as exc:  # a finished fit is not lost because its error bars failed
                obj.set_external(v)
                self.errorbars, self.errorbars_reason = False, f"the covariance could not be computed: {exc}"
                return v, resid
            if unc.polished:
                v, resid = unc.v, unc.resid
        self.polished = unc.polished
        self.nfev_errorbars, self._unc = unc.nfev, unc
        self.covar, self.errorbars_reason = unc.covar, unc.reason
        self.errorbars = unc.covar is not None
        if unc.covar is None:
            return v, resid
        params = self.params
        stderr, correl = unc.stderr, unc.correl
        for name, par in params.items():
            if name in stderr:
                par.stderr, par.correl = stderr[name], correl[name]
            elif par._expr is None:  # a fixed value is exactly known (and the manual's 2.4 loop formats it)
                par.stderr = 0.0
        if obj.constraints is not None:
            for name, err in propagate(obj, v, unc.covar).items():
                params[name].stderr = err
        return v, resid

    def _judge(self, result: EngineResult | None, obj: Objective, stayed: bool, setup: _Setup, v: Array) -> None:
        if result is None or self.aborted:
            self.success = False
            self.message = f"fit stopped: {obj.stop_reason}; parameters hold the best values seen"
            return
        self.success = bool(result.success)
        self.message = str(result.message)
        if not math.isfinite(self.chisqr):  # possible with nan_policy='propagate'
            self.success = False
            self.message = f"the residual at the solution is not finite (engine said: {result.message})"
            return
        if self.success and stayed:
            # an engine may also "converge" by shrinking its steps to nothing (e.g. after rejected trial steps)
            jac = self._jacobian()
            if jac is None or self._gradient_cosine(jac) > _STATIONARY_COS:
                self.success = False
                self.message = ("the fit did not move from its starting point, which is not a minimum "
                                f"(engine said: {result.message})")
        elif self.success and not self.errorbars and (jac := self._jacobian()) is not None:  # a dead parameter
            norms = np.einsum("ij,ij->j", jac, jac)
            dead = [n for n, d, a, b in zip(setup.names, norms.tolist(), v.tolist(), setup.start_list)
                    if d == 0 and a != b]
            if dead:
                self.success = False
                self.message = (f"parameter(s) {', '.join(map(repr, dead))} moved to where they have no effect on the "
                                "residual (e.g. an exponential term vanished); that is not a minimum "
                                f"(engine said: {result.message})")

    def _jacobian(self) -> Array | None:
        return None if self._unc is None else self._unc.jacobian_at()

    def _judge_step(self, setup: _Setup, v: Array, step: list[float], result: EngineResult) -> None:
        """Refuse success where a Gauss-Newton step at the answer still moves it by over a standard error.

        Catches engines that stop on a small gradient in a long, flat valley far from
        the minimum. Skipped when the step would leave the bounds (a minimum on a bound);
        steps below ``_MOVED_RTOL`` of a value are rounding, not evidence.
        """
        params = self.params
        worst, largest = 0, 0.0
        for j, (name, s, a, lo, hi) in enumerate(zip(setup.names, step, v.tolist(), setup.lo, setup.hi)):
            if not lo <= a + s <= hi:
                return
            err = params[name].stderr or math.inf
            # a step at rounding level is no evidence (an exact fit has stderr ~ 0)
            ratio = abs(s) / err if abs(s) > _MOVED_RTOL * abs(a) else 0.0
            if ratio > largest:
                worst, largest = j, ratio
        if largest > _GN_STEP_STDERR:
            self.success = False
            self.message = (f"the engine stopped where a Gauss-Newton step would still move "
                            f"{setup.names[worst]!r} by {largest:.3g} standard errors: not a minimum; "
                            f"try engine='leastsq' or tighter tolerances (engine said: {result.message})")

    def _gradient_cosine(self, jac: Array) -> float:
        r = self.residual
        assert r is not None
        rn = float(np.linalg.norm(r))
        if rn == 0.0:
            return 0.0
        norms = np.linalg.norm(jac, axis=0)
        norms[norms == 0] = 1.0
        return float(np.max(np.abs(jac.T @ r) / (norms * rn)))


def _moved(v: Array, start: list[float]) -> bool:
    """Whether some value changed by more than ``_MOVED_RTOL`` of its start."""
    for a, b in zip(v.tolist(), start):
        if abs(a - b) > _MOVED_RTOL * abs(b):
            return True
    return False


def minimize(
    function: Callable[..., Any],
    params: Parameters,
    args: tuple[Any, ...] | None = None,
    kws: dict[str, Any] | None = None,
    engine: str = "leastsq",
    **engine_kws: Any,
) -> Minimizer:
    """Fit ``params`` so that the sum of squares of ``function``'s residual is smallest.

    Parameters
    ----------
    function : callable
        ``function(params, *args, **kws)`` returning the residual array.
    params : Parameters
        Updated in place with best-fit values, ``stderr`` and ``correl``.
    args : tuple, optional
        Positional arguments of ``function``.
    kws : dict, optional
        Keyword arguments of ``function``.
    engine : str, default 'leastsq'
        Name of an installed engine (:func:`fitcore.list_engines`).
    **engine_kws
        Engine options and the core options (``nan_policy``, ``iter_cb``,
        ``max_nfev``, ``scale_covar``, ``Dfun``, ``col_deriv``, ``seed``).

    Returns
    -------
    Minimizer
        Holding the fit statistics; it can re-run the fit.

    Examples
    --------
    >>> import numpy as np, fitcore
    >>> x = np.linspace(0, 10, 50); data = 3.0 * np.exp(-x / 2.0)
    >>> p = fitcore.Parameters(); p.add('a', value=1); p.add('t', value=1, min=0.1)
    >>> out = fitcore.minimize(lambda p: p['a'].value * np.exp(-x / p['t'].value) - data, p)
    >>> round(p['a'].value, 6), round(p['t'].value, 6)
    (3.0, 2.0)
    """
    fitter = Minimizer(function, params, fcn_args=args, fcn_kws=kws)
    fitter.minimize(engine=engine, **engine_kws)
    return fitter
