"""ModelResult: one Any fit, with the model's view of it.

A :class:`ModelResult` is the :class:`~fitcore.Minimizer` that made the fit (so
:func:`fitcore.conf_interval` and a refit work on it) and reads the fit's
statistics from that fit's :class:`~fitcore.FitResult` (``result.result``). On
top it keeps the model, the data, the weights and the independent variables,
and gives ``best_values``, ``best_fit``, ``init_fit``, ``eval()``,
``eval_components()``, ``eval_uncertainty()``, ``conf_interval()``,
``fit_report()``, plots and JSON saving.

Each fit works on its own copy of the Parameters, so two fits of one model
never share values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import model_io, serialize
from .minimizer import Minimizer
from .model_support import ModelJacobian, model_symbols, update_expressions
from .parameters import Parameters
from .result import FitResult

__all__ = ["ModelResult", "save_modelresult", "load_modelresult"]

#: statistics a saved result keeps
_STATS = ("success", "message", "aborted", "nfev", "nfev_errorbars", "ier", "lmdif_message", "nit", "errorbars",
          "errorbars_reason", "nvarys", "ndata", "nfree", "chisqr", "redchi", "aic", "bic", "engine")


class ModelResult(Minimizer):
    """The result of :meth:`Model.fit <fitcore.Model.fit>`.

    Parameters
    ----------
    model : Any
        The model fitted.
    params : Parameters
        Starting parameters; the result keeps and updates its own copy.
    data : array_like, optional
        The data.
    weights : array_like, optional
        Multiply ``data - model``.
    engine : str, default 'leastsq'
        Engine of :meth:`fit`.
    fcn_kws : dict, optional
        The independent variables (``{'x': x}``).
    iter_cb, scale_covar, nan_policy, calc_covar, max_nfev, **fit_kws
        As for :class:`~fitcore.Minimizer`.

    Attributes
    ----------
    result : FitResult
        The last fit's own result (statistics, covariance, a copy of the parameters).
    params : Parameters
        Best-fit parameters (with ``stderr`` and ``correl``).
    init_params : Parameters
        The parameters the last fit started from.
    best_values, init_values : dict
        Any function arguments (prefixed names) at the answer and at the start.
    best_fit, init_fit : ndarray
        The model at the answer and at the start.
    residual : ndarray
        ``(data - best_fit) * weights`` (flattened).
    rsquared : float
        Coefficient of determination of ``best_fit``.
    ci_out : dict or None
        The last :meth:`conf_interval` output.
    dely, dely_predicted, dely_comps
        Set by :meth:`eval_uncertainty`.
    """

    def __init__(
        self,
        model: Any,
        params: Parameters,
        data: Any = None,
        weights: Any = None,
        engine: str = "leastsq",
        fcn_args: tuple[Any, ...] | None = None,
        fcn_kws: dict[str, Any] | None = None,
        iter_cb: Callable[..., Any] | None = None,
        scale_covar: bool = True,
        nan_policy: str = "raise",
        calc_covar: bool = True,
        max_nfev: int | None = None,
        **fit_kws: Any,
    ) -> None:
        self.model = model
        self.data = data
        self.weights = weights
        self.method = engine
        self.ci_out: Any = None
        self.init_params = params.copy()
        self.init_fit: Any = None
        self.init_values: dict[str, Any] = {}
        self.best_values: dict[str, Any] = {}
        self.best_fit: Any = None
        self.rsquared = math.nan
        self.dely: Any = None
        self.dely_predicted: Any = None
        self.dely_comps: dict[str, Any] = {}
        Minimizer.__init__(self, model._residual, params, fcn_args=(data, weights), fcn_kws=fcn_kws,
                           iter_cb=iter_cb, nan_policy=nan_policy, max_nfev=max_nfev, scale_covar=scale_covar,
                           calc_covar=calc_covar, **fit_kws)
        self.add_symbols(model_symbols())

    # -- fitting ----------------------------------------------------------------------------------
    def fit(self, data: Any = None, params: Parameters | None = None, weights: Any = None,
            engine: str | None = None, nan_policy: str | None = None, **kwargs: Any) -> FitResult:
        """Fit (again), from ``params`` or from the current values; return the new :class:`FitResult`.

        Parameters
        ----------
        data, weights : array_like, optional
            Replace the data or weights.
        params : Parameters, optional
            Start from these (copied).
        engine : str, optional
            Replace the engine.
        nan_policy : str, optional
            Replace the ``nan_policy``.
        **kwargs
            Engine options for this fit.
        """
        if data is not None:
            self.data = data
        if weights is not None:
            self.weights = weights
        if params is not None:
            self.params = params.copy()
        if engine is not None:
            self.method = engine
        if nan_policy is not None:
            self.nan_policy = nan_policy
        self.ci_out = None
        self.userargs = (self.data, self.weights)
        if isinstance(self.kws.get("Dfun"), ModelJacobian):  # the varied parameters may have changed since
            self.kws["Dfun"] = ModelJacobian.for_params(self.model, self.params)
        _refresh(self.params, self.user_symbols())  # expression values at the start, for init_fit
        self.init_params = self.params.copy()
        model = self.model
        self.init_fit = model.eval(self.init_params, **self.userkws)
        result = self.minimize(engine=self.method, **kwargs)
        model.post_fit(self)
        self.init_values = _all_args(model, self.init_params)
        self.best_values = _all_args(model, self.params)
        self.best_fit = model.eval(self.params, **self.userkws)
        self.rsquared = _rsquared(self.data, self.best_fit)
        return result

    @property
    def components(self) -> list[Any]:
        """The simple models of the fitted model."""
        return self.model.components

    @property
    def userkws_names(self) -> list[str]:
        """Names of the independent variables this fit was given."""
        return list(self.userkws)

    # -- evaluation -------------------------------------------------------------------------------
    def eval(self, params: Parameters | None = None, **kwargs: Any) -> Any:
        """Evaluate the model at the best-fit (or given) parameters; keywords replace independent variables."""
        return self.model.eval(self.params if params is None else params, **{**self.userkws, **kwargs})

    def eval_components(self, params: Parameters | None = None, **kwargs: Any) -> dict[str, Any]:
        """Evaluate each component at the best-fit (or given) parameters."""
        return self.model.eval_components(self.params if params is None else params, **{**self.userkws, **kwargs})

    def eval_uncertainty(self, params: Parameters | None = None, sigma: float = 1, dscale: float = 0.01,
                         **kwargs: Any) -> Any:
        """Uncertainty band of the model from the covariance (first-order delta method).

        ``dely = t * sqrt(diag(J C J^T))`` where ``J`` is the model's derivative with
        respect to the varied parameters (central differences of ``dscale``
        standard errors), ``C`` the covariance, and ``t`` the Student-t quantile for
        ``nfree`` degrees of freedom of the probability that ``sigma`` stands for
        (a value >= 1 is a number of standard deviations, as in lmfit).

        Parameters
        ----------
        params : Parameters, optional
            Default: the best-fit parameters.
        sigma : float, default 1
        dscale : float, default 0.01
            Difference step as a fraction of each standard error.
        **kwargs
            Independent variables to evaluate at (default: the fit's).

        Returns
        -------
        ndarray
            ``dely``; also sets ``dely``, ``dely_predicted`` (adds the reduced
            chi-square, for new measurements) and ``dely_comps`` (per component).

        Raises
        ------
        ValueError
            When the fit has no covariance (``errorbars`` is False).
        """
        from scipy import special, stats

        if self.covar is None:
            raise ValueError(f"eval_uncertainty needs the covariance, which this fit has not: {self.errorbars_reason}")
        pars = (self.params if params is None else params).copy()
        userkws = {**self.userkws, **kwargs}
        model = self.model
        center = np.asarray(model.eval(pars, **userkws))
        comps0 = model.eval_components(pars, **userkws)
        names = list(self.var_names)
        symbols = self.user_symbols()
        jac = np.zeros((len(names),) + center.shape, dtype=center.dtype)
        comp_jac = {k: np.zeros((len(names),) + np.shape(v), dtype=np.asarray(v).dtype) for k, v in comps0.items()}
        for i, name in enumerate(names):
            par = pars[name]
            val0 = par.value
            step = (par.stderr or 0.0) * dscale
            if step == 0.0:
                step = 1e-8 * (abs(val0) or 1.0)
            par.value = val0 + step
            _refresh(pars, symbols)
            up, up_c = model.eval(pars, **userkws), model.eval_components(pars, **userkws)
            par.value = val0 - step
            _refresh(pars, symbols)
            down, down_c = model.eval(pars, **userkws), model.eval_components(pars, **userkws)
            par.value = val0
            jac[i] = (np.asarray(up) - np.asarray(down)) / (2 * step)
            for key in comp_jac:
                comp_jac[key][i] = (np.asarray(up_c[key]) - np.asarray(down_c[key])) / (2 * step)
        _refresh(pars, symbols)
        covar = np.asarray(self.covar)
        prob = sigma if sigma < 1.0 else float(special.erf(sigma / math.sqrt(2.0)))
        scale = float(stats.t.ppf((prob + 1) / 2.0, self.ndata - len(names)))

        def band(j: np.ndarray) -> Any:
            flat = j.reshape(len(names), -1)
            if np.iscomplexobj(flat):
                flat = np.concatenate([flat.real, flat.imag], axis=1)
            var = np.einsum("ik,ij,jk->k", flat, covar, flat)
            return var

        var = band(jac)
        shape = center.shape
        if np.iscomplexobj(center):
            half = var.size // 2
            self.dely = scale * (np.sqrt(var[:half]) + 1j * np.sqrt(var[half:])).reshape(shape)
            self.dely_predicted = self.dely
        else:
            self.dely = scale * np.sqrt(var).reshape(shape)
            self.dely_predicted = scale * np.sqrt(var + self.redchi).reshape(shape)
        self.dely_comps = {key: scale * np.sqrt(np.abs(band(j))).reshape(np.shape(comps0[key]))
                           for key, j in comp_jac.items()}
        return self.dely

    # -- confidence intervals and reports ---------------------------------------------------------
    def conf_interval(self, **kwargs: Any) -> Any:
        """Profile confidence intervals of the varied parameters (:func:`fitcore.conf_interval`); kept in ``ci_out``."""
        from .confidence import conf_interval

        self.ci_out = conf_interval(self, **kwargs)
        return self.ci_out

    def ci_report(self, with_offset: bool = True, ndigits: int = 5, **kwargs: Any) -> str:
        """Text table of :meth:`conf_interval` (computed first if needed)."""
        from .ci_report import ci_report

        if self.ci_out is None or kwargs:
            self.conf_interval(**kwargs)
        out = self.ci_out[0] if isinstance(self.ci_out, tuple) else self.ci_out
        return ci_report(out)

    def fit_report(self, modelpars: Mapping[str, Any] | None = None, show_correl: bool = True,
                   min_correl: float = 0.1, sort_pars: bool | Callable[[str], Any] = False,
                   correl_mode: str = "list") -> str:
        """Text report: the model, fit statistics, parameters with errors, correlations (lmfit 1.3 keywords)."""
        from .report import fit_report

        body = fit_report(self, modelpars=modelpars, show_correl=show_correl, min_correl=min_correl,
                          sort_pars=sort_pars, correl_mode=correl_mode)
        return f"[[Model]]\n    {self.model._reprstring(long=True)}\n{body}"

    def _repr_html_(self, show_correl: bool = True, min_correl: float = 0.1) -> str:
        import html

        from .report import fit_report

        text = fit_report(self, show_correl=show_correl, min_correl=min_correl)
        return (f"<h2>Fit Result</h2><p>Any: {html.escape(self.model._reprstring(long=True))}</p>"
                f"<pre>{html.escape(text)}</pre>{self.params._repr_html_()}")

    def summary(self) -> dict[str, Any]:
        """Statistics and settings of the fit as a dict of plain values."""
        keys = ("ndata", "nvarys", "nfree", "chisqr", "redchi", "aic", "bic", "rsquared", "nfev", "max_nfev",
                "aborted", "errorbars", "success", "message", "lmdif_message", "ier", "nan_policy", "scale_covar",
                "calc_covar", "var_names", "init_vals")
        out: dict[str, Any] = {"model": self.model._reprstring(long=True), "method": self.method}
        for key in keys:
            out[key] = getattr(self, key)
        out["best_values"] = dict(self.best_values)
        out["init_values"] = dict(self.init_values)
        out["covar"] = None if self.covar is None else np.asarray(self.covar).tolist()
        out["params"] = [(n, p.value, p.stderr) for n, p in self.params.items()]
        return out

    # -- plots (matplotlib) -----------------------------------------------------------------------
    def plot_fit(self, ax: Any = None, **kws: Any) -> Any:
        """Plot the data and the best fit (the start too with ``show_init=True``); see :mod:`fitcore.model_plot`."""
        from .model_plot import plot_fit

        return plot_fit(self, ax=ax, **kws)

    def plot_residuals(self, ax: Any = None, **kws: Any) -> Any:
        """Plot ``best_fit - data``; see :func:`fitcore.model_plot.plot_residuals`."""
        from .model_plot import plot_residuals

        return plot_residuals(self, ax=ax, **kws)

    def plot(self, **kws: Any) -> Any:
        """Residuals above, data and fit below, in one figure; see :func:`fitcore.model_plot.plot`."""
        from .model_plot import plot

        return plot(self, **kws)

    # -- saving ----------------------------------------------------------------------------------
    def dumps(self, **kws: Any) -> str:
        """Return model, data, parameters and statistics as JSON (format ``fitcore.modelresult``).

        The model is saved as :meth:`fitcore.Model.dumps` saves it; the parameters in
        :mod:`fitcore.serialize`'s format; arrays as lists. ``kws`` go to :func:`json.dumps`.
        """
        enc = model_io.encode
        doc = {
            "format": model_io.RESULT_FORMAT, "version": model_io.VERSION,
            "model": model_io.model_state(self.model),
            "params": json.loads(serialize.dumps(self.params)),
            "init_params": json.loads(serialize.dumps(self.init_params)),
            "data": enc(None if self.data is None else np.asarray(self.data)),
            "weights": enc(None if self.weights is None else np.asarray(self.weights)),
            "userkws": {k: enc(np.asarray(v) if isinstance(v, (list, tuple)) else v) for k, v in self.userkws.items()},
            "method": self.method,
            "nan_policy": self.nan_policy,
            "scale_covar": self.scale_covar,
            "statistics": {k: enc(getattr(self, k)) for k in _STATS},
            "var_names": list(self.var_names),
            "init_vals": enc(list(self.init_vals)),
            "covar": enc(None if self.covar is None else np.asarray(self.covar)),
            "residual": enc(None if self.residual is None else np.asarray(self.residual)),
        }
        return json.dumps(doc, **kws)

    def dump(self, fp: Any, **kws: Any) -> None:
        """Write :meth:`dumps` to the text file ``fp``."""
        fp.write(self.dumps(**kws))

    @staticmethod
    def loads(text: str | bytes, funcdefs: Mapping[str, Callable[..., Any]] | None = None) -> ModelResult:
        """Rebuild a result from :meth:`dumps` text; it is not refitted.

        Everything is checked as it is read; functions and model classes are found by
        import path (or in ``funcdefs``, by name); nothing is unpickled.
        """
        dec = model_io.decode
        doc = model_io.check_header(text, model_io.RESULT_FORMAT)
        model = model_io.model_from_state(doc.get("model"), funcdefs)
        params = serialize.loads(json.dumps(doc.get("params")))
        init_params = serialize.loads(json.dumps(doc.get("init_params")))
        userkws = {str(k): dec(v, f"userkws[{k!r}]") for k, v in (doc.get("userkws") or {}).items()}
        data, weights = dec(doc.get("data"), "data"), dec(doc.get("weights"), "weights")
        stats_ = {k: dec(v, f"statistics.{k}") for k, v in (doc.get("statistics") or {}).items() if k in _STATS}
        engine = doc.get("method") or "leastsq"
        out = ModelResult(model, init_params, data=data, weights=weights, engine=engine, fcn_kws=userkws,
                          nan_policy=doc.get("nan_policy", "raise"), scale_covar=bool(doc.get("scale_covar", True)))
        out.params = params
        out.result = FitResult(params=params.copy(), var_names=tuple(doc.get("var_names") or ()),
                               init_vals=tuple(dec(doc.get("init_vals"), "init_vals") or ()),
                               covar=dec(doc.get("covar"), "covar"), residual=dec(doc.get("residual"), "residual"),
                               **{k: v for k, v in stats_.items() if k != "engine"},
                               engine=stats_.get("engine", engine))
        out.init_fit = model.eval(init_params, **userkws)
        out.best_fit = model.eval(params, **userkws)
        out.init_values = _all_args(model, init_params)
        out.best_values = _all_args(model, params)
        out.rsquared = _rsquared(data, out.best_fit)
        return out

    @staticmethod
    def load(fp: Any, funcdefs: Mapping[str, Callable[..., Any]] | None = None) -> ModelResult:
        """Rebuild a result from a JSON file written by :meth:`dump`."""
        return ModelResult.loads(fp.read(), funcdefs)


def save_modelresult(result: ModelResult, fname: str) -> None:
    """Write a ModelResult as JSON to the file ``fname`` (lmfit's name)."""
    with open(fname, "w") as fp:
        result.dump(fp)


def load_modelresult(fname: str, funcdefs: Mapping[str, Callable[..., Any]] | None = None) -> ModelResult:
    """Read a ModelResult written by :func:`save_modelresult` (lmfit's name); it is not refitted."""
    with open(fname) as fp:
        return ModelResult.load(fp, funcdefs)


def _all_args(model: Any, params: Parameters) -> dict[str, Any]:
    """Function arguments of every component that come from parameters, by full (prefixed) name."""
    out: dict[str, Any] = {}
    for comp in model.components:
        pre = comp.prefix
        for full in comp.param_names:
            root = full[len(pre):]
            if full in params and (root in comp._func_allargs or comp._func_haskeywords):
                out[full] = params[full].value
    return out


def _rsquared(data: Any, fit: Any) -> float:
    try:
        dat = np.asarray(data, dtype=float).ravel()
        best = np.asarray(fit, dtype=float).ravel()
    except (TypeError, ValueError):
        return math.nan
    if dat.size < 2 or best.size != dat.size:
        return math.nan
    sstot = float(((dat - dat.mean()) ** 2).sum())
    return 1.0 - float(((dat - best) ** 2).sum()) / max(1e-15, sstot)


def _refresh(params: Parameters, symbols: Mapping[str, Any]) -> None:
    update_expressions(params, symbols)
