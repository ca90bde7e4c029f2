"""Minimizer and minimize(): the front door that validates, dispatches and reports.

The Minimizer knows no optimizer. It holds the user's function, Parameters and
default options; each fit looks the engine up by name, separates and checks
the options (:func:`fitcore.options.split_options`), prepares the parameters
and runs the fit (:mod:`fitcore.fitting`), restoring the Parameters if anything
raises. Every fit returns a new :class:`~fitcore.FitResult`; the manual's
attributes (``chisqr``, ``nfev``, ``success``, ...) read the last one.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

from .constraints import Constraints, base_symtable, make_interpreter
from .fitting import FitRequest, FitSetup, PreparedFit, prepare
from .options import split_options
from .parameters import Parameters, restored_on_error
from .plugins import get_engine
from .result import FitResult

__all__ = ["Minimizer", "minimize"]

#: the attributes of the manual's results table (and a few more) that a Minimizer reads from its last FitResult
_RESULT_ATTRIBUTES = frozenset({
    "nfev", "success", "errorbars", "message", "ier", "lmdif_message", "nvarys", "ndata", "nfree", "residual",
    "chisqr", "redchi", "aic", "bic", "covar", "var_names", "init_vals", "engine", "engine_options",
    "core_options", "engine_extras", "aborted", "errorbars_reason", "nfev_errorbars", "polished", "nit",
    "objective", "errordef", "engine_objective", "samples",
})


class Minimizer:
    """A fit of a residual function over a set of Parameters.

    Parameters
    ----------
    function : callable
        ``function(params, *fcn_args, **fcn_kws)`` returning the residual array
        (data - model, ideally divided by the data's uncertainties), or a
        scalar cost (e.g. a negative log-likelihood) for engines that minimize
        a scalar.
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
    calc_covar : bool, default True
        Estimate the covariance (error bars) after each fit.
    **kws
        Default engine options for every fit of this Minimizer (for example the
        leastsq keywords of the manual), and ``Dfun``/``col_deriv`` (an analytic
        Jacobian ``Dfun(params, *args, **kws)``), ``seed`` or ``errordef``.

    Attributes
    ----------
    result : FitResult
        The last fit's result (a placeholder before the first fit).
    nfev, success, errorbars, message, ier, lmdif_message, nvarys, ndata, nfree, residual, chisqr, redchi
        The manual's table of fit results, read from :attr:`result`; also
        ``aic``, ``bic``, ``covar``, ``var_names``, ``init_vals``, ``engine``,
        ``engine_options``, ``core_options``, ``engine_extras``, ``aborted``,
        ``errorbars_reason``, ``nfev_errorbars``, ``polished`` and the other
        fields of :class:`~fitcore.FitResult`.
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
        calc_covar: bool = True,
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
        self.calc_covar = calc_covar
        self.kws = kws
        self.result = FitResult.not_run(params)
        self._asteval: Any = None
        self._symtable: dict[str, Any] | None = None
        self._setup: FitSetup | None = None
        #: the values this Minimizer's last fit left in the parameters (a refit from there keeps init_value)
        self._left: dict[str, tuple[Any, float | None]] = {}

    def __getattr__(self, name: str) -> Any:
        if name in _RESULT_ATTRIBUTES:
            result = self.__dict__.get("result")
            setup = self.__dict__.get("_setup")
            if result is not None and result.engine is None and setup is not None:  # prepared, not yet fitted
                if name == "var_names":
                    return list(setup.names)
                if name == "init_vals":
                    return list(setup.start)
                if name == "nvarys":
                    return len(setup.names)
            value = getattr(result, name)
            return list(value) if name in ("var_names", "init_vals") else value
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

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

    def user_symbols(self) -> dict[str, Any]:
        """Symbols the user added to :attr:`asteval`'s table (functions, constants) for constraints to use."""
        if self._symtable is None:
            return {}
        base = base_symtable()
        return {key: val for key, val in self._symtable.items()
                if key not in self.params and not (key in base and base[key] is val)}

    def add_symbols(self, symbols: dict[str, Any]) -> None:
        """Add names (functions, constants) that constraint expressions may use."""
        self._symbols().update(symbols)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_asteval"] = None  # holds writers and modules; rebuilt on demand
        state["_symtable"] = None
        state["_setup"] = None
        state["_user_symbols"] = {key: val for key, val in self.user_symbols().items() if _picklable(val)}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        user = state.pop("_user_symbols", None) or {}
        self.__dict__.update(state)
        if user:
            self.add_symbols(user)

    # -- preparation -------------------------------------------------------------------------
    def prepare_fit(self, params: Parameters | None = None) -> None:
        """Check the parameters, compile the constraints and set the expressions' values.

        Every fit does this first; call it yourself to evaluate the residual function
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
        self._setup = prepare(self.params, self._constraints)
        self._mark_start()

    def _constraints(self, params: Parameters) -> Constraints:
        return Constraints(params, self._symbols())

    def _mark_start(self) -> None:
        for name, p in self.params.items():  # a refit from where this Minimizer's last fit left a value keeps its start
            mark = self._left.get(name)
            if mark is None or mark[0] is not p or mark[1] != p.value:
                p.init_value = p.value

    # -- engines by name ---------------------------------------------------------------------
    def leastsq(self, **kws: Any) -> FitResult:
        """Fit with Levenberg-Marquardt (MINPACK); see :meth:`minimize`."""
        return self.minimize(engine="leastsq", **kws)

    def lbfgsb(self, **kws: Any) -> FitResult:
        """Fit with L-BFGS-B; see :meth:`minimize`."""
        return self.minimize(engine="lbfgsb", **kws)

    def anneal(self, **kws: Any) -> FitResult:
        """Fit with simulated annealing (dual annealing); see :meth:`minimize`."""
        return self.minimize(engine="anneal", **kws)

    def prepared(self, engine: str = "leastsq", **kws: Any) -> PreparedFit:
        """Set up a fit once, to run it many times from the parameters' current values.

        Does everything :meth:`minimize` does before the first evaluation
        (engine lookup, option checks, :meth:`prepare_fit`, the engine's
        capability checks); :meth:`fitcore.fitting.PreparedFit.run` then fits
        from wherever the parameters are. :func:`fitcore.fit_many` and
        :func:`fitcore.conf_interval` run many fits this way.

        Parameters
        ----------
        engine : str, default 'leastsq'
            Name of an installed engine.
        **kws
            Engine and core options, as for :meth:`minimize`.

        Returns
        -------
        PreparedFit
            Bound to this Minimizer's function, arguments and Parameters.
        """
        info = get_engine(engine)
        defaults = {"nan_policy": self.nan_policy, "iter_cb": self.iter_cb, "max_nfev": self.max_nfev,
                    "scale_covar": self.scale_covar}
        core, engine_options, given = split_options(info.spec, {**self.kws, **kws}, defaults)
        request = FitRequest(self.userfcn, self.params, self.userargs, self.userkws, info, engine_options, core,
                             frozenset(given), self.calc_covar)
        fit = PreparedFit(request, self._constraints)
        self._setup = fit.setup
        self._mark_start()
        return fit

    def minimize(self, engine: str = "leastsq", params: Parameters | None = None, **kws: Any) -> FitResult:
        """Run a fit with the named engine.

        Parameters
        ----------
        engine : str, default 'leastsq'
            Name of an installed engine (see :func:`fitcore.list_engines`).
        params : Parameters, optional
            Parameters to fit from now on in place of this Minimizer's (as
            :meth:`prepare_fit` takes them; lmfit's keyword).
        **kws
            Engine options (checked against the engine's declared options) and
            the core options ``nan_policy``, ``iter_cb``, ``max_nfev``,
            ``scale_covar``, ``Dfun``, ``col_deriv``, ``seed``, ``errordef``.

        Returns
        -------
        FitResult
            The fit's result (also :attr:`result`); ``bool(result)`` is its success.
        """
        if params is not None:
            if not isinstance(params, Parameters):
                raise TypeError(f"params must be a fitcore Parameters, not {type(params).__name__}")
            self.params = params
        with restored_on_error(self.params):
            result = self.prepared(engine, **kws).run()
        self.result = result
        self._left = {name: (p, p.value) for name, p in self.params.items()}
        return result


def _picklable(value: Any) -> bool:
    """Whether ``value`` survives pickling (asteval procedures and closures do not; a refit names what is missing)."""
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True


def minimize(
    function: Callable[..., Any],
    params: Parameters,
    args: tuple[Any, ...] | None = None,
    kws: dict[str, Any] | None = None,
    engine: str = "leastsq",
    **engine_kws: Any,
) -> Minimizer:
    """Fit ``params`` so that the sum of squares of ``function``'s residual (or its cost) is smallest.

    Parameters
    ----------
    function : callable
        ``function(params, *args, **kws)`` returning the residual array, or a
        scalar cost for engines that minimize a scalar.
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
        ``max_nfev``, ``scale_covar``, ``Dfun``, ``col_deriv``, ``seed``, ``errordef``).

    Returns
    -------
    Minimizer
        Holding the fit statistics (its :attr:`~Minimizer.result` is the
        fit's :class:`~fitcore.FitResult`); it can re-run the fit.

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
