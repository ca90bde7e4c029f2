"""Model: a function of an independent variable becomes a fit in one line.

A :class:`Model` wraps a function ``f(x, a, b, ...)``: its first argument is the
independent variable and the arguments after it become Parameters (lmfit 1.x's
rules, so lmfit users' code runs unchanged)::

    >>> import numpy as np
    >>> from fitcore import Model
    >>> def decay(t, amp, tau):
    ...     return amp * np.exp(-t / tau)
    >>> t = np.linspace(0, 5, 30)
    >>> result = Model(decay).fit(3.0 * np.exp(-t / 1.5), t=t, amp=1, tau=1)
    >>> round(result.params['tau'].value, 6)
    1.5

Which arguments are what, when ``independent_vars`` and ``param_names`` are not given:

- the first argument is the independent variable;
- arguments without a default or with a numeric default are parameters (the
  default is the starting value ``make_params`` gives);
- arguments with any other default (a string, a bool, None, an array) are
  independent variables too, keeping their default (``form='erf'`` of a step).

Models combine with ``+ - * /`` into a :class:`CompositeModel`; prefixes keep the
parameter names of the components apart. :meth:`Model.fit` builds the residual
``(data - model) * weights`` and fits it through the same engine door as
:func:`fitcore.minimize`, returning a :class:`~fitcore.model_result.ModelResult`.
"""

from __future__ import annotations

import inspect
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from . import model_io
from .errors import ParameterError, did_you_mean
from .model_support import HINT_NAMES, ModelJacobian, check_nan_policy, update_expressions
from .parameters import Parameter, Parameters, check_name

if TYPE_CHECKING:
    from .model_result import ModelResult

__all__ = ["Model", "CompositeModel"]

_OPS: dict[Callable[[Any, Any], Any], str] = {
    operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/"}
_OPS_BY_SYMBOL = {v: k for k, v in _OPS.items()}
#: keyword arguments of Model.fit that are not function arguments
_FIT_KEYWORDS = ("iter_cb", "scale_covar", "verbose", "fit_kws", "nan_policy", "calc_covar", "max_nfev",
                 "coerce_farray")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_data(value: Any) -> Any:
    """Array-likes (lists, tuples, pandas Series) as float or complex ndarrays; scalars and others as given."""
    if isinstance(value, np.ndarray):
        return value if value.dtype.kind in "fc" else value.astype(float)
    if isinstance(value, (list, tuple)) or hasattr(value, "__array__"):
        arr = np.asarray(value)
        if arr.dtype.kind in "biuf":
            return arr.astype(float)
        if arr.dtype.kind == "c":
            return arr
    return value


class _ModelType(type):
    """Lets ``Model('gaussian', prefix='p1_')`` build the registered model of that name."""

    def __call__(cls, *args: Any, **kws: Any) -> Any:
        if cls is Model and args and isinstance(args[0], str):
            from .model_registry import get_model

            return get_model(args[0])(*args[1:], **kws)
        return super().__call__(*args, **kws)


class Model(metaclass=_ModelType):
    """A model function of independent variable(s) and parameters, ready to fit data.

    Parameters
    ----------
    func : callable or str
        ``func(x, p1, p2, ...) -> array``. A string names a registered model
        (``Model('gaussian', prefix='p1_')``; see :func:`fitcore.list_models`).
    independent_vars : list of str, optional
        The function's arguments that are independent variables (default: the
        first argument, and those with a non-numeric default).
    param_names : list of str, optional
        The arguments that are parameters (default: the others; give it for a
        function that takes ``**kws``).
    prefix : str, default ''
        Put before every parameter name, so that two models with the same
        arguments can be added.
    nan_policy : {'raise', 'propagate', 'omit'}, default 'raise'
        What a fit does with non-finite data or model values: raise naming them,
        hand them to the engine, or drop those data points.
    name : str, optional
        Shown in reports (default: the function's name).
    **hints
        For a parameter (by its name without prefix): a Parameter, a dict of
        :data:`HINT_NAMES`, or a number (the starting value) that
        :meth:`make_params` uses. For another argument of ``func``: a fixed
        value passed at every evaluation (e.g. ``form='erf'``).

    Examples
    --------
    >>> from fitcore import Model
    >>> def line(x, slope=1.0, intercept=0.0):
    ...     return slope * x + intercept
    >>> m = Model(line, prefix='bg_')
    >>> m.param_names, m.independent_vars
    (['bg_slope', 'bg_intercept'], ['x'])
    """

    def __init__(
        self,
        func: Callable[..., Any],
        independent_vars: Iterable[str] | None = None,
        param_names: Iterable[str] | None = None,
        prefix: str = "",
        nan_policy: str = "raise",
        name: str | None = None,
        **hints: Any,
    ) -> None:
        if not callable(func):
            raise TypeError(f"Model needs a callable model function (or a registered model's name), "
                            f"not {type(func).__name__}")
        self.func = func
        if prefix is None:
            prefix = ""
        if not isinstance(prefix, str) or (prefix and not prefix.isidentifier()):
            raise ValueError(f"prefix {prefix!r} is not valid: a prefix must start a Python identifier "
                             "(letters, digits and underscores, not starting with a digit)")
        self._prefix = prefix
        self.nan_policy = check_nan_policy(nan_policy)
        self._name = name if name is not None else getattr(func, "__name__", type(func).__name__)
        self.param_hints: dict[str, dict[str, Any]] = {}
        self.opts: dict[str, Any] = {}
        self.independent_vars_defvals: dict[str, Any] = {}
        self.def_vals: dict[str, float] = {}
        self._parse(None if independent_vars is None else list(independent_vars),
                    None if param_names is None else list(param_names), hints)

    # -- reading the function ---------------------------------------------------------------------
    def _parse(self, independent_vars: list[str] | None, param_names: list[str] | None,
               hints: dict[str, Any]) -> None:
        try:
            sig = inspect.signature(self.func)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"cannot read the arguments of model function {self._name!r}: {exc}") from None
        self._func_haskeywords = False
        allargs: list[str] = []
        candidates: list[str] = []  # no default or a numeric default
        others: dict[str, Any] = {}  # any other default
        for arg, par in sig.parameters.items():
            if par.kind == par.VAR_KEYWORD:
                self._func_haskeywords = True
                continue
            if par.kind == par.VAR_POSITIONAL:
                raise ValueError(f"model function {self._name!r} takes *{arg}; give each argument a name")
            if par.kind == par.POSITIONAL_ONLY:
                raise ValueError(f"model function {self._name!r} has positional-only argument {arg!r}; "
                                 "Model passes arguments by name")
            allargs.append(arg)
            if par.default is par.empty:
                candidates.append(arg)
            elif _is_number(par.default):
                candidates.append(arg)
                self.def_vals[arg] = float(par.default)
            else:
                others[arg] = par.default
        self._func_allargs = allargs
        if independent_vars is None:
            if not allargs:
                raise ValueError(f"model function {self._name!r} takes no arguments; its first argument "
                                 "is the independent variable")
            independent_vars = [allargs[0]] + [a for a in others if a != allargs[0]]
        for arg in independent_vars:
            if arg not in allargs:
                raise ValueError(f"independent variable {arg!r} is not an argument of model function "
                                 f"{self._name!r} (its arguments: {', '.join(allargs)})")
        self.independent_vars: list[str] = list(independent_vars)
        for arg in self.independent_vars:
            if arg in others:
                self.independent_vars_defvals[arg] = others[arg]
        if param_names is None:
            roots = [a for a in candidates if a not in self.independent_vars]
        else:
            roots = list(param_names)
            for arg in roots:
                if arg not in allargs and not self._func_haskeywords:
                    raise ValueError(f"parameter {arg!r} is not an argument of model function {self._name!r} "
                                     f"(its arguments: {', '.join(allargs)})")
                if arg in self.independent_vars:
                    raise ValueError(f"{arg!r} is given both as a parameter and as an independent variable")
        for arg in roots:
            check_name(self._prefix + arg)
        self._param_root_names: list[str] = roots
        for key, val in hints.items():
            if key in roots or (key in others and isinstance(val, (Parameter, Mapping))):
                self.set_param_hint(key, **_hint_from(key, val))
            elif key in allargs or self._func_haskeywords:
                self.opts[key] = val
            else:
                raise TypeError(f"Model got an unexpected keyword {key!r}.{did_you_mean(key, allargs)} "
                                f"Model function {self._name!r} takes: {', '.join(allargs)}")

    # -- names ------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The model's name as reports show it."""
        return self._reprstring()

    @name.setter
    def name(self, value: str) -> None:
        self._name = value

    @property
    def prefix(self) -> str:
        """The prefix put before every parameter name."""
        return self._prefix

    @property
    def param_names(self) -> list[str]:
        """Parameter names, with the prefix, in the function's order (then hint-only parameters)."""
        names = [self._prefix + n for n in self._param_root_names]
        for root in self.param_hints:
            full = self._prefix + root
            if full not in names and root not in self.independent_vars:
                names.append(full)
        return names

    @property
    def components(self) -> list[Model]:
        """The simple models this model is made of (itself, for a simple model)."""
        return [self]

    def _reprstring(self, long: bool = False) -> str:
        out = self._name
        opts = []
        if self._prefix:
            opts.append(f"prefix='{self._prefix}'")
        if long:
            opts.extend(f"{k}='{v}'" for k, v in self.opts.items())
        if opts:
            out = f"{out}, {', '.join(opts)}"
        return f"Model({out})"

    def __repr__(self) -> str:
        return f"<fitcore.Model: {self._reprstring(long=True)}>"

    def copy(self, **kwargs: Any) -> Model:
        """Not supported; build a new model instead (as in lmfit)."""
        raise NotImplementedError("Model.copy() is not supported; create a new Model")

    # -- hints and parameters ---------------------------------------------------------------------
    def set_param_hint(self, name: str, **kwargs: Any) -> None:
        """Say how :meth:`make_params` should build parameter ``name`` (with or without prefix).

        Parameters
        ----------
        name : str
            A parameter of the model, or a new derived parameter (give ``expr``).
        **kwargs
            Any of ``value``, ``vary``, ``min``, ``max``, ``expr``.
        """
        unknown = sorted(set(kwargs) - set(HINT_NAMES))
        if unknown:
            raise ParameterError(f"set_param_hint({name!r}): unknown attribute {unknown[0]!r}; "
                                 f"a hint may set {', '.join(HINT_NAMES)}", name)
        if self._prefix and name.startswith(self._prefix):
            name = name[len(self._prefix):]
        check_name(self._prefix + name)
        self.param_hints.setdefault(name, {}).update(kwargs)

    def print_param_hints(self, colwidth: int = 8) -> None:
        """Print the parameter hints as a table."""
        width = max((len(s) for s in self.param_hints), default=4)
        print(f"{'Name':{width}}  {'Value':>{colwidth}} {'Min':>{colwidth}} {'Max':>{colwidth}} "
              f"{'Vary':>{colwidth}}    Expr")
        for name, hint in sorted(self.param_hints.items()):
            row = {"value": math.nan, "min": -math.inf, "max": math.inf, "vary": True, "expr": "", **hint}
            print(f"{name:<{width}}  {row['value']:{colwidth}g} {row['min']:{colwidth}g} {row['max']:{colwidth}g} "
                  f"{row['vary']!s:>{colwidth}}    {row['expr'] or ''}")

    def make_params(self, verbose: bool = False, **kwargs: Any) -> Parameters:
        """Return Parameters for this model: defaults, then hints, then ``kwargs``.

        Parameters
        ----------
        verbose : bool, default False
            Print each parameter as it is added.
        **kwargs
            Parameter names (with or without the prefix) and a number (the
            value), a dict of attributes (``value``, ``vary``, ``min``, ``max``,
            ``expr``, ``brute_step``) or a Parameter.

        Raises
        ------
        ParameterError
            A keyword that names no parameter of the model.
        """
        params = Parameters()
        self._add_params(params, verbose)
        _apply_values(params, self.param_names, self._prefix_map(), kwargs)
        update_expressions(params)
        return params

    def _prefix_map(self) -> dict[str, str]:
        """Names a keyword may use -> full parameter name."""
        out = {}
        for full in self.param_names:
            out[full] = full
            root = full[len(self._prefix):]
            out.setdefault(root, full)
        return out

    def _add_params(self, params: Parameters, verbose: bool, which: str = "all") -> None:
        """Add this model's parameters: ``which`` is 'all', 'func' (function arguments) or 'derived' (hint-only)."""
        for full in self.param_names:
            root = full[len(self._prefix):]
            derived = root not in self._param_root_names
            if (which == "func" and derived) or (which == "derived" and not derived):
                continue
            par = Parameter(full, value=self.def_vals.get(root))
            hint = self.param_hints.get(root, {})
            if "expr" in hint:
                par.expr = hint["expr"]
            par.set(min=hint.get("min"), max=hint.get("max"))
            if "value" in hint:
                par.value = hint["value"]
            if "vary" in hint and par.expr is None:
                par.vary = hint["vary"]
            par.init_value = par.value
            params.add(par)
            if verbose:
                print(f" - Adding parameter {full!r}")

    def guess(self, data: Any, x: Any, **kws: Any) -> Parameters:
        """Guess starting values from ``data`` at ``x`` (built-in models implement it)."""
        raise NotImplementedError(f"guess() is not implemented for {type(self).__name__}; "
                                  "give starting values with make_params(name=value, ...)")

    # -- evaluation -------------------------------------------------------------------------------
    def _funcargs(self, params: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The keyword arguments of one call of ``func``."""
        out = dict(self.opts)
        for key, val in self.independent_vars_defvals.items():
            out[key] = val
        pre = self._prefix
        allowed = set(self._func_allargs)
        if params is not None:
            for full in self.param_names:
                if full in params:
                    root = full[len(pre):]
                    if root in allowed or self._func_haskeywords:
                        out[root] = _value_of(params[full])
            for full, par in params.items():  # unprefixed names a composite's parameters may share
                if not pre and full not in out and (full in allowed and full not in self.independent_vars):
                    out[full] = _value_of(par)
        for key, val in kwargs.items():
            root = key[len(pre):] if pre and key.startswith(pre) else key
            if root in allowed or root in self.independent_vars or self._func_haskeywords:
                out[root] = _value_of(val)
        return out

    def eval(self, params: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        """Evaluate the model function.

        Parameters
        ----------
        params : Parameters, optional
            Parameter values to use; keywords override them.
        **kwargs
            The independent variables, and parameter values by name.

        Returns
        -------
        ndarray (or what the function returns, lists turned into arrays)
        """
        args = self._funcargs(params, kwargs)
        missing = [a for a in self._needed() if a not in args]
        if missing:
            raise TypeError(f"{self._reprstring()}.eval is missing {', '.join(map(repr, missing))}: pass the "
                            f"independent variables ({', '.join(self.independent_vars)}) as keywords, and "
                            "parameter values in params or as keywords")
        out = self.func(**args)
        return np.asarray(out) if isinstance(out, (list, tuple)) else out

    def _needed(self) -> list[str]:
        sig = inspect.signature(self.func)
        return [a for a, p in sig.parameters.items()
                if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

    def eval_components(self, params: Mapping[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        """Return ``{prefix or name: values}`` for each component."""
        key = self._prefix or self._name
        return {key: self.eval(params, **kwargs)}

    #: ``partials(x, **values) -> {argument: d model / d argument}``: the analytic derivatives of the model
    #: function, for the models that have them (built-in models set it; None means not available)
    partials: Callable[..., dict[str, Any]] | None = None

    def derivatives(self, params: Mapping[str, Any] | None = None, **kwargs: Any) -> dict[str, Any] | None:
        """Analytic derivatives of the model with respect to each parameter, by full name, or None.

        None when the model has no analytic derivatives (then fits use differences).
        """
        partials = type(self).partials
        if partials is None:
            return None
        args = self._funcargs(params, kwargs)
        roots = self._param_root_names
        values = {k: v for k, v in args.items() if k in roots}
        indep = {k: v for k, v in args.items() if k not in roots}
        parts = partials(**indep, **values)
        shape = np.shape(self.func(**args))
        return {self._prefix + k: np.broadcast_to(np.asarray(v, dtype=float), shape) for k, v in parts.items()}

    def _residual(self, params: Parameters, data: Any, weights: Any, **kwargs: Any) -> Any:
        """``(data - model) * weights``, flattened to floats (complex values as real and imaginary parts)."""
        diff = np.asarray(data - self.eval(params, **kwargs))
        if weights is not None:
            diff = diff * weights
        if np.iscomplexobj(diff):
            return np.ascontiguousarray(diff).ravel().view(float)
        return diff.ravel()

    def post_fit(self, result: ModelResult) -> None:
        """Called after each fit with its result; subclasses add derived quantities here."""

    # -- fitting ----------------------------------------------------------------------------------
    def fit(
        self,
        data: Any,
        params: Parameters | None = None,
        weights: Any = None,
        engine: str = "leastsq",
        iter_cb: Callable[..., Any] | None = None,
        scale_covar: bool = True,
        verbose: bool = False,
        fit_kws: Mapping[str, Any] | None = None,
        nan_policy: str | None = None,
        calc_covar: bool = True,
        max_nfev: int | None = None,
        coerce_farray: bool = True,
        **kwargs: Any,
    ) -> ModelResult:
        """Fit the model to ``data``; return a :class:`~fitcore.model_result.ModelResult`.

        Parameters
        ----------
        data : array_like
            The data to fit.
        params : Parameters, optional
            Starting values (copied: the given Parameters are not changed);
            default :meth:`make_params`.
        weights : array_like, optional
            Multiply ``data - model`` (typically ``1/uncertainty``).
        engine : str, default 'leastsq'
            Any installed engine (:func:`fitcore.list_engines`).
        iter_cb, scale_covar, max_nfev, calc_covar
            As for :class:`fitcore.Minimizer`.
        verbose : bool
            Print parameters added by hints.
        fit_kws : dict, optional
            Engine options (may also be given as keywords).
        nan_policy : {'raise', 'propagate', 'omit'}, optional
            Overrides the model's ``nan_policy`` for this fit.
        coerce_farray : bool, default True
            Turn array-like data and independent variables into float arrays.
        **kwargs
            Independent variables (``x=...``), starting values of parameters by
            name, and engine options.

        Raises
        ------
        TypeError
            A keyword that is no independent variable, parameter or engine option.
        ParameterError
            A parameter without a starting value.
        """
        from .model_result import ModelResult
        from .plugins import get_engine
        from .specs import CORE_OPTIONS

        policy = check_nan_policy(self.nan_policy if nan_policy is None else nan_policy)
        params = self.make_params(verbose=verbose) if params is None else params.copy()
        if not isinstance(params, Parameters):
            raise TypeError(f"params must be fitcore Parameters, not {type(params).__name__}")
        names = self._prefix_map()
        indep: dict[str, Any] = {}
        engine_kws: dict[str, Any] = dict(fit_kws or {})
        spec = get_engine(engine).spec
        for key, val in kwargs.items():
            if key in names or key in params:
                full = names.get(key, key)
                if isinstance(val, Parameter):
                    par = _copy_parameter(val)
                    params[full] = par
                else:
                    params.set(**{full: val})  # a number, or a dict of attributes
            elif key in self.independent_vars:
                indep[key] = val
            elif key in spec.options or key in CORE_OPTIONS:
                engine_kws[key] = val
            elif key == "method":
                raise TypeError("fitcore selects the engine with engine=..., not method=...; "
                                "installed engines: see fitcore.list_engines()")
            else:
                valid = self.independent_vars + list(names) + sorted(spec.options)
                raise TypeError(f"Model.fit got an unexpected keyword {key!r}.{did_you_mean(key, valid)} "
                                f"Independent variables: {', '.join(self.independent_vars)}; parameters: "
                                f"{', '.join(self.param_names)}; options of engine {spec.name!r}: "
                                f"{', '.join(sorted(spec.options)) or '(none)'}")
        missing = [n for n in self.param_names if n not in params]
        blank = [n for n, p in params.items() if p.value is None and p.expr is None]
        if missing or blank:
            raise ParameterError(f"give every parameter a starting value (make_params(name=value), or name=value "
                                 f"in fit); missing: {', '.join(missing) or '-'}; without a value: "
                                 f"{', '.join(blank) or '-'}")
        for var in self.independent_vars:
            if var not in indep and var not in self.independent_vars_defvals and var not in self.opts:
                raise TypeError(f"Model.fit needs the independent variable {var!r}: pass {var}=...")
        if coerce_farray:
            data = _as_data(data)
            indep = {k: _as_data(v) for k, v in indep.items()}
            if weights is not None:
                weights = _as_data(weights)
        data, weights, indep = _omit(data, weights, indep, policy)
        if "Dfun" not in engine_kws and _analytic_ok(self, params, data):
            engine_kws["Dfun"] = ModelJacobian.for_params(self, params)
        result = ModelResult(self, params, data=data, weights=weights, engine=engine, fcn_kws=indep,
                             iter_cb=iter_cb, scale_covar=scale_covar, nan_policy=policy, calc_covar=calc_covar,
                             max_nfev=max_nfev, **engine_kws)
        result.fit()
        return result

    # -- combining --------------------------------------------------------------------------------
    def __add__(self, other: Model) -> CompositeModel:
        return CompositeModel(self, other, operator.add)

    def __sub__(self, other: Model) -> CompositeModel:
        return CompositeModel(self, other, operator.sub)

    def __mul__(self, other: Model) -> CompositeModel:
        return CompositeModel(self, other, operator.mul)

    def __truediv__(self, other: Model) -> CompositeModel:
        return CompositeModel(self, other, operator.truediv)

    # -- saving -----------------------------------------------------------------------------------
    def dumps(self, **kws: Any) -> str:
        """Return the model as a JSON string (functions by import path; see :mod:`fitcore.model_io`)."""
        return model_io.dumps_model(self, **kws)

    def dump(self, fp: Any, **kws: Any) -> None:
        """Write the model as JSON to the text file ``fp``."""
        fp.write(self.dumps(**kws))

    @staticmethod
    def loads(text: str, funcdefs: Mapping[str, Callable[..., Any]] | None = None) -> Model:
        """Build a model from :meth:`dumps` text; ``funcdefs`` maps names to functions not importable by path."""
        return model_io.loads_model(text, funcdefs)

    @staticmethod
    def load(fp: Any, funcdefs: Mapping[str, Callable[..., Any]] | None = None) -> Model:
        """Build a model from a JSON file written by :meth:`dump`."""
        return Model.loads(fp.read(), funcdefs)

    def init_kws(self) -> dict[str, Any]:
        """Constructor keywords that rebuild this model (built-in subclasses add their own)."""
        return {"independent_vars": list(self.independent_vars), "param_names": list(self._param_root_names),
                "prefix": self._prefix, "nan_policy": self.nan_policy, "name": self._name}


class CompositeModel(Model):
    """Two models combined with a binary operator (``+``, ``-``, ``*``, ``/``).

    Normally made by the operators: ``GaussianModel(prefix='g_') + LinearModel()``.

    Parameters
    ----------
    left, right : Model
    op : callable
        ``op(left_values, right_values)``; one of :mod:`operator`'s ``add``,
        ``sub``, ``mul``, ``truediv`` (or any binary function).
    nan_policy : str, optional
        Default: the left model's.
    """

    def __init__(self, left: Model, right: Model, op: Callable[[Any, Any], Any], nan_policy: str | None = None,
                 **kws: Any) -> None:
        for side, what in ((left, "left"), (right, "right")):
            if not isinstance(side, Model):
                raise TypeError(f"CompositeModel: the {what} operand must be a Model, not {type(side).__name__}")
        if not callable(op):
            raise TypeError(f"CompositeModel: op must be a binary function, not {type(op).__name__}")
        if kws.get("prefix"):
            raise ValueError("a CompositeModel has no prefix of its own; give prefixes to its components")
        clash = sorted(set(left.param_names) & set(right.param_names))
        if clash:
            raise NameError(f"two models have parameters named {', '.join(map(repr, clash))}; give the models "
                            "different prefixes, e.g. GaussianModel(prefix='g1_') + GaussianModel(prefix='g2_')")
        self.left, self.right, self.op = left, right, op
        self.func = op
        self._prefix = ""
        self._name = kws.get("name") or ""
        self.nan_policy = check_nan_policy(left.nan_policy if nan_policy is None else nan_policy)
        self.param_hints = {}
        self.opts = {}
        self.def_vals = {}
        self.independent_vars_defvals = {}
        self.independent_vars = list(dict.fromkeys(left.independent_vars + right.independent_vars))
        self._param_root_names = []
        self._func_allargs = list(dict.fromkeys(left._func_allargs + right._func_allargs))
        self._func_haskeywords = left._func_haskeywords or right._func_haskeywords
        for var in self.independent_vars:
            for side in (left, right):
                if var in side.independent_vars_defvals:
                    self.independent_vars_defvals.setdefault(var, side.independent_vars_defvals[var])

    @property
    def param_names(self) -> list[str]:
        """Parameter names of both sides, then hint-only parameters set on the composite."""
        names = self.left.param_names + self.right.param_names
        return names + [n for n in self.param_hints if n not in names]

    @property
    def components(self) -> list[Model]:
        """The simple models, left to right."""
        return self.left.components + self.right.components

    def _reprstring(self, long: bool = False) -> str:
        return f"({self.left._reprstring(long)} {_OPS.get(self.op, getattr(self.op, '__name__', '?'))} " \
               f"{self.right._reprstring(long)})"

    def __repr__(self) -> str:
        return f"<fitcore.CompositeModel: {self._reprstring(long=True)}>"

    def _prefix_map(self) -> dict[str, str]:
        out = {n: n for n in self.param_names}
        for comp in self.components:
            for key, full in comp._prefix_map().items():
                out.setdefault(key, full)
        return out

    def set_param_hint(self, name: str, **kwargs: Any) -> None:
        """Set a hint on the component that owns ``name`` (full name), or add a derived parameter."""
        for comp in self.components:
            if name in comp.param_names:
                comp.set_param_hint(name, **kwargs)
                return
        unknown = sorted(set(kwargs) - set(HINT_NAMES))
        if unknown:
            raise ParameterError(f"set_param_hint({name!r}): unknown attribute {unknown[0]!r}; "
                                 f"a hint may set {', '.join(HINT_NAMES)}", name)
        check_name(name)
        self.param_hints.setdefault(name, {}).update(kwargs)

    def _add_params(self, params: Parameters, verbose: bool, which: str = "all") -> None:
        for comp in self.components:  # function arguments first, then derived parameters (lmfit's order)
            comp._add_params(params, verbose, "func")
        for comp in self.components:
            comp._add_params(params, verbose, "derived")
        for name, hint in self.param_hints.items():
            par = params[name] if name in params else Parameter(name)
            if "expr" in hint:
                par.expr = hint["expr"]
            par.set(value=hint.get("value"), min=hint.get("min"), max=hint.get("max"))
            if "vary" in hint and par.expr is None:
                par.vary = hint["vary"]
            if name not in params:
                params.add(par)

    def eval(self, params: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        """Evaluate ``op(left, right)``."""
        return self.op(self.left.eval(params, **kwargs), self.right.eval(params, **kwargs))

    def eval_components(self, params: Mapping[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        """Return ``{prefix or name: values}`` for every simple component."""
        out = dict(self.left.eval_components(params, **kwargs))
        out.update(self.right.eval_components(params, **kwargs))
        return out

    def derivatives(self, params: Mapping[str, Any] | None = None, **kwargs: Any) -> dict[str, Any] | None:
        """Derivatives of a sum, difference, product or quotient from both sides' (None if a side has none)."""
        left, right = self.left.derivatives(params, **kwargs), self.right.derivatives(params, **kwargs)
        if left is None or right is None or self.op not in _OPS:
            return None
        if self.op in (operator.add, operator.sub):
            sign = 1.0 if self.op is operator.add else -1.0
            return {**left, **{k: sign * v for k, v in right.items()}}
        a, b = np.asarray(self.left.eval(params, **kwargs)), np.asarray(self.right.eval(params, **kwargs))
        if self.op is operator.mul:
            return {**{k: v * b for k, v in left.items()}, **{k: a * v for k, v in right.items()}}
        return {**{k: v / b for k, v in left.items()}, **{k: -a * v / (b * b) for k, v in right.items()}}

    def post_fit(self, result: ModelResult) -> None:
        """Call both sides' ``post_fit``."""
        self.left.post_fit(result)
        self.right.post_fit(result)

    def guess(self, data: Any, x: Any, **kws: Any) -> Parameters:
        """Not available for a composite; guess each component and combine: ``p = m1.guess(...); p.update(...)``."""
        raise NotImplementedError("guess() is not available for a CompositeModel: call guess() on each component "
                                  "(on the part of the data it describes) and combine the Parameters with update()")


# -- helpers -------------------------------------------------------------------------------------
def _value_of(val: Any) -> Any:
    return val.value if isinstance(val, Parameter) else val


def _copy_parameter(par: Parameter) -> Parameter:
    import copy

    return copy.deepcopy(par)


def _hint_from(name: str, val: Any) -> dict[str, Any]:
    if isinstance(val, Parameter):
        hint: dict[str, Any] = {"value": val.value, "min": val.min, "max": val.max, "vary": val.vary}
        if val.expr is not None:
            hint["expr"] = val.expr
        return {k: v for k, v in hint.items() if v is not None}
    if isinstance(val, Mapping):
        return dict(val)
    if _is_number(val) or isinstance(val, np.number):
        return {"value": float(val)}
    raise TypeError(f"hint for parameter {name!r}: expected a number, a dict of {', '.join(HINT_NAMES)} "
                    f"or a Parameter, not {type(val).__name__}")


def _apply_values(params: Parameters, names: list[str], keys: Mapping[str, str], kwargs: Mapping[str, Any]) -> None:
    """Set the values and attributes given to make_params; refuse names that are no parameter."""
    for key, val in kwargs.items():
        full = keys.get(key)
        if full is None:
            hint = did_you_mean(key, list(keys))
            raise ParameterError(f"make_params: {key!r} is not a parameter of this model.{hint} "
                                 f"Parameters: {', '.join(names)}", key)
        if isinstance(val, Parameter):
            par = _copy_parameter(val)
            params[full] = par
            continue
        if isinstance(val, Mapping):
            spec = dict(val)
        elif isinstance(val, complex) or np.iscomplexobj(val):
            spec = {"value": float(np.real(val))}
        else:
            spec = {"value": val}
        if not ("value" in spec or "expr" in spec or set(spec) & {"min", "max", "vary"}):
            raise ParameterError(f"make_params: {key}={val!r} sets nothing; give a number or a dict with "
                                 "value, vary, min, max or expr", key)
        params.set(**{full: spec})


def _omit(data: Any, weights: Any, indep: dict[str, Any], policy: str) -> tuple[Any, Any, dict[str, Any]]:
    """Drop non-finite data points (and the matching weights and independent values) for ``nan_policy='omit'``."""
    if policy != "omit" or not isinstance(data, np.ndarray):
        return data, weights, indep
    keep = np.isfinite(data)
    if keep.all():
        return data, weights, indep
    shape = data.shape
    out = {}
    for key, val in indep.items():
        out[key] = val[keep] if isinstance(val, np.ndarray) and val.shape == shape else val
    if isinstance(weights, np.ndarray) and weights.shape == shape:
        weights = weights[keep]
    return data[keep], weights, out


def __getattr__(name: str) -> Any:
    """Return lmfit's file functions: ``save_model``/``load_model`` and ``save_modelresult``/``load_modelresult``."""
    if name in ("save_model", "load_model"):
        return getattr(model_io, name)
    if name in ("save_modelresult", "load_modelresult"):
        from . import model_result

        return getattr(model_result, name)
    raise AttributeError(f"module 'fitcore.model' has no attribute {name!r}")


def _analytic_ok(model: Model, params: Parameters, data: Any) -> bool:
    """Whether a fit can use the model's analytic derivatives.

    Every component must have them, the data must be real, and no parameter the
    model function reads may be an expression (its derivative would need the
    chain rule through the expression).
    """
    if np.iscomplexobj(data):
        return False
    read: set[str] = set()
    for comp in model.components:
        if type(comp).partials is None:
            return False
        read.update(comp.prefix + r for r in comp._param_root_names)
    return not any(params[n].expr is not None for n in read if n in params)
