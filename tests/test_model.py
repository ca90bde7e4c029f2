"""Model, CompositeModel and ModelResult: what lmfit 1.x users type, checked against known answers."""

import json
import sys

import numpy as np
import pytest
from scipy import stats

import fitcore
import fitcore.model_io
from fitcore import CompositeModel, FitResult, Model, ModelResult, Parameter, ParameterError, Parameters
from fitcore.models import GaussianModel, LinearModel, StepModel

X = np.linspace(-5, 5, 121)


def decay(t, amp, tau=2.0):
    return amp * np.exp(-t / tau)


def peak(x, amp, cen, wid, form="plain"):
    return amp * np.exp(-((x - cen) ** 2) / (2 * wid**2))


def line(x, slope=1.0, intercept=0.0):
    return slope * x + intercept


def noisy(y, scale=0.02, seed=0):
    return y + np.random.default_rng(seed).normal(scale=scale, size=np.shape(y))


def test_arguments_become_independent_variables_and_parameters():
    m = Model(peak)
    assert m.independent_vars == ["x", "form"] and m.param_names == ["amp", "cen", "wid"]
    assert Model(decay).param_names == ["amp", "tau"] and Model(decay).def_vals == {"tau": 2.0}
    m2 = Model(peak, independent_vars=["x"], prefix="p_")
    assert m2.independent_vars == ["x"] and m2.param_names == ["p_amp", "p_cen", "p_wid"]
    m3 = Model(lambda x, **kws: x * kws["k"], param_names=["k"])
    assert m3.param_names == ["k"] and m3.eval(x=np.arange(3.0), k=2.0).tolist() == [0.0, 2.0, 4.0]


@pytest.mark.parametrize("bad, match", [
    (dict(prefix="1x"), "prefix '1x' is not valid"),
    (dict(independent_vars=["t"]), "independent variable 't' is not an argument"),
    (dict(param_names=["nope"]), "parameter 'nope' is not an argument"),
    (dict(colour=3), "unexpected keyword 'colour'"),
    (dict(nan_policy="ignore"), "nan_policy='ignore'"),
])
def test_bad_model_arguments_are_refused(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Model(peak, **bad)


def test_varargs_function_is_refused():
    def f(x, *coefs):
        return x

    with pytest.raises(ValueError, match=r"takes \*coefs"):
        Model(f)


def test_make_params_defaults_hints_and_keywords():
    m = Model(decay, prefix="d_", amp=dict(min=0, value=5))
    m.set_param_hint("d_tau", max=10)
    m.set_param_hint("half_life", expr="d_tau*log(2)")
    p = m.make_params(amp=3, tau=dict(value=1.5, vary=False))
    assert list(p) == ["d_amp", "d_tau", "d_half_life"]
    assert (p["d_amp"].value, p["d_amp"].min) == (3.0, 0.0)
    assert p["d_tau"].value == 1.5 and p["d_tau"].max == 10.0 and not p["d_tau"].vary
    assert p["d_half_life"].value == pytest.approx(1.5 * np.log(2))  # derived values are computed at once
    with pytest.raises(ParameterError, match="'tua' is not a parameter.*Did you mean 'tau'"):
        m.make_params(tua=1)
    with pytest.raises(ParameterError, match="unknown attribute 'mni'"):
        m.set_param_hint("tau", mni=0)


def test_fit_recovers_truth_and_leaves_given_params_alone():
    t = np.linspace(0, 6, 80)
    data = noisy(decay(t, 4.0, 1.3), 0.01)
    model = Model(decay)
    params = model.make_params(amp=1, tau=1)
    result = model.fit(data, params, t=t)
    assert isinstance(result, ModelResult) and isinstance(result.result, FitResult) and result.success
    assert result.params["amp"].value == pytest.approx(4.0, rel=1e-2)
    assert result.params["tau"].value == pytest.approx(1.3, rel=1e-2)
    assert params["amp"].value == 1.0 and params["amp"].stderr is None  # the user's Parameters are unchanged
    np.testing.assert_allclose(result.best_fit, decay(t, **result.best_values))
    np.testing.assert_allclose(result.init_fit, decay(t, 1, 1))
    np.testing.assert_allclose(result.residual, data - result.best_fit)
    assert result.best_values == {"amp": result.params["amp"].value, "tau": result.params["tau"].value}
    ss = np.sum((data - result.best_fit) ** 2)
    assert result.rsquared == pytest.approx(1 - ss / np.sum((data - data.mean()) ** 2))
    second = model.fit(data * 2, params, t=t)  # a second fit does not touch the first result
    assert second.params["amp"].value == pytest.approx(8.0, rel=1e-2)
    assert result.params["amp"].value == pytest.approx(4.0, rel=1e-2)


def test_fit_keywords_set_starting_values_and_engine_options():
    t = np.linspace(0, 6, 50)
    data = decay(t, 2.0, 0.8)
    result = Model(decay).fit(data, t=t, amp=1, tau=Parameter("tau", 1.0, min=0.1), xtol=1e-12)
    assert result.params["tau"].min == 0.1 and result.params["tau"].value == pytest.approx(0.8, rel=1e-8)
    assert result.engine_options == {"xtol": 1e-12}
    other = Model(decay).fit(data, t=t, amp=1, tau=1, engine="lbfgsb")
    assert other.engine == "lbfgsb" and other.params["tau"].value == pytest.approx(0.8, rel=1e-4)


@pytest.mark.parametrize("kws, exc, match", [
    (dict(amp=1, tau=1), TypeError, "needs the independent variable 't'"),
    (dict(t=X, amp=1, tau=1, method="nelder"), TypeError, "engine=..., not method="),
    (dict(t=X, amp=1, tau=1, tt=X), TypeError, "unexpected keyword 'tt'.*Did you mean 't'"),
    (dict(t=X, tau=1), ParameterError, "without a value: amp"),
])
def test_fit_refuses_bad_input_before_fitting(kws, exc, match):
    with pytest.raises(exc, match=match):
        Model(decay).fit(np.ones(X.size), **kws)


def test_weights_scale_the_residual_and_omit_drops_nan_points():
    y = line(X, 2.0, 1.0)
    y_bad = y.copy()
    y_bad[[3, 50]] = np.nan
    model = Model(line)
    with pytest.raises(fitcore.NonFiniteResidualError):
        model.fit(y_bad, x=X)
    result = model.fit(y_bad, x=X, nan_policy="omit", weights=np.full(X.size, 3.0))
    assert result.ndata == X.size - 2 and result.params["slope"].value == pytest.approx(2.0)
    np.testing.assert_allclose(result.residual, 3.0 * (y[np.isfinite(y_bad)] - result.best_fit), atol=1e-12)


def test_composite_models_with_prefixes():
    g, b = GaussianModel(prefix="g_"), LinearModel(prefix="b_")
    model = g + b
    assert isinstance(model, CompositeModel) and model.components == [g, b]
    assert model.param_names == ["g_amplitude", "g_center", "g_sigma", "g_fwhm", "g_height", "b_slope",
                                 "b_intercept"]
    truth = dict(g_amplitude=6.0, g_center=0.4, g_sigma=0.8, b_slope=0.1, b_intercept=0.5)
    y = noisy(model.eval(x=X, **truth), 0.01, seed=3)
    result = model.fit(y, model.make_params(g_amplitude=3, g_center=0, g_sigma=1, b_slope=0, b_intercept=0), x=X)
    for name, val in truth.items():
        assert result.params[name].value == pytest.approx(val, abs=5 * result.params[name].stderr)
    comps = result.eval_components()
    assert set(comps) == {"g_", "b_"}
    np.testing.assert_allclose(comps["g_"] + comps["b_"], result.best_fit)
    assert result.params["g_fwhm"].value == pytest.approx(2.35482 * result.params["g_sigma"].value, rel=1e-5)
    assert "[[Model]]\n    (Model(gaussian, prefix='g_') + Model(linear, prefix='b_'))" in result.fit_report()
    with pytest.raises(NameError, match="'amplitude'.*different prefixes"):
        GaussianModel() + GaussianModel()
    with pytest.raises(TypeError, match="must be a Model"):
        g + 3


@pytest.mark.parametrize("op, func", [("-", np.subtract), ("*", np.multiply), ("/", np.divide)])
def test_composite_operators(op, func):
    a, b = Model(decay, prefix="a_"), Model(line, prefix="l_")
    model = {"-": a - b, "*": a * b, "/": a / b}[op]
    vals = dict(a_amp=2.0, a_tau=1.5, l_slope=0.5, l_intercept=3.0)
    np.testing.assert_allclose(model.eval(t=X, x=X, **vals), func(decay(X, 2.0, 1.5), line(X, 0.5, 3.0)))


def test_eval_uncertainty_is_the_delta_method():
    y = noisy(line(X, 2.0, 1.0), 0.3, seed=5)
    result = Model(line).fit(y, x=X)
    design = np.column_stack([X, np.ones_like(X)])  # the model is linear: the delta method is exact
    var = np.einsum("ij,jk,ik->i", design, result.covar, design)
    t1 = stats.t.ppf((stats.norm.cdf(1) - stats.norm.cdf(-1) + 1) / 2, X.size - 2)
    np.testing.assert_allclose(result.eval_uncertainty(sigma=1), t1 * np.sqrt(var), rtol=1e-6)
    t2 = stats.t.ppf((0.95 + 1) / 2, X.size - 2)
    np.testing.assert_allclose(result.eval_uncertainty(sigma=0.95), t2 * np.sqrt(var), rtol=1e-6)
    np.testing.assert_allclose(result.dely_predicted, t2 * np.sqrt(var + result.redchi), rtol=1e-6)
    xnew = np.array([10.0, 20.0])
    dnew = np.column_stack([xnew, np.ones(2)])
    np.testing.assert_allclose(result.eval_uncertainty(sigma=0.95, x=xnew),
                               t2 * np.sqrt(np.einsum("ij,jk,ik->i", dnew, result.covar, dnew)), rtol=1e-6)


def test_conf_interval_and_reports():
    y = noisy(line(X, 2.0, 1.0), 0.3, seed=6)
    result = Model(line).fit(y, x=X)
    ci = result.conf_interval(sigmas=[0.6827])
    lo, best, hi = (v for _, v in ci["slope"])
    err = result.params["slope"].stderr
    assert best == pytest.approx(result.params["slope"].value) and hi - lo == pytest.approx(2 * err, rel=0.02)
    text = result.fit_report(sort_pars=True, correl_mode="table")
    body = text.split("[[Variables]]")[1]
    assert body.index("intercept:") < body.index("slope:")  # sorted
    assert "[[Correlations]]" in text and "+1.0000" in text
    with pytest.raises(ValueError, match="correl_mode='grid'"):
        result.fit_report(correl_mode="grid")
    assert "<h2>Fit Result</h2>" in result._repr_html_() and "<table>" in result._repr_html_()


def test_model_by_registered_name():
    m = Model("gaussian", prefix="p1_")
    assert isinstance(m, GaussianModel) and m.param_names[:3] == ["p1_amplitude", "p1_center", "p1_sigma"]
    assert isinstance(Model("step", form="erf"), StepModel)
    with pytest.raises(fitcore.ModelNotFoundError, match="no model named 'gausian'.*Did you mean"):
        Model("gausian")
    assert "gaussian" in [m.name for m in fitcore.list_models()]


def test_json_round_trip_of_model_and_result():
    model = GaussianModel(prefix="g_") + Model(line, prefix="l_")
    back = Model.loads(model.dumps())
    assert back.param_names == model.param_names and back._reprstring() == model._reprstring()
    y = noisy(model.eval(x=X, g_amplitude=4, g_center=0, g_sigma=1, l_slope=0.2, l_intercept=1), 0.02)
    result = model.fit(y, model.make_params(g_amplitude=3, g_center=0.2, g_sigma=1.2, l_slope=0, l_intercept=0),
                       x=X)
    again = ModelResult.loads(result.dumps())
    np.testing.assert_allclose(again.best_fit, result.best_fit)
    np.testing.assert_allclose(again.covar, result.covar)
    assert again.chisqr == result.chisqr and again.params["g_fwhm"].stderr == result.params["g_fwhm"].stderr
    np.testing.assert_allclose(again.eval(x=np.array([0.0])), result.eval(x=np.array([0.0])))


def test_json_loading_refuses_what_it_cannot_trust():
    with pytest.raises(fitcore.model_io.ModelFileError, match="lambda"):
        Model(lambda x, a: a * x).dumps()
    doc = json.loads(Model(line).dumps())
    doc["model"]["function"] = "os:system"
    with pytest.raises(ValueError, match="'x' is not an argument"):  # importable, but no model function of x
        Model.loads(json.dumps(doc))
    doc["model"]["function"] = "no_such_module_xyz:f"
    with pytest.raises(fitcore.model_io.ModelFileError, match="cannot import 'no_such_module_xyz:f'.*funcdefs"):
        Model.loads(json.dumps(doc))
    doc["model"]["function"] = "os.system; print:x"
    with pytest.raises(fitcore.model_io.ModelFileError, match="not an import path"):
        Model.loads(json.dumps(doc))
    with pytest.raises(fitcore.model_io.ModelFileError, match="not a fitcore file"):
        Model.loads('{"format": "pickle"}')


def test_plots_with_and_without_matplotlib(monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    y = noisy(line(X, 2.0, 1.0), 0.3)
    result = Model(line).fit(y, x=X)
    ax = result.plot_fit(show_init=True, numpoints=500)
    assert len(ax.lines) >= 3 and ax.get_xlabel() == "x"
    fig = result.plot()
    assert len(fig.axes) == 2
    np.testing.assert_allclose(result.plot_residuals().lines[-1].get_ydata(), result.best_fit - y)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="needs matplotlib: pip install 'fitcore\\[plot\\]'"):
        result.plot_fit()


def test_refit_from_the_result():
    y = noisy(line(X, 2.0, 1.0), 0.1)
    result = Model(line).fit(y, x=X)
    first = result.result
    new = result.fit(data=y + 1.0)
    assert isinstance(new, FitResult) and result.result is new
    assert new.values["intercept"] == pytest.approx(first.values["intercept"] + 1.0)
    assert first.values["intercept"] != new.values["intercept"]  # the earlier FitResult is kept as it was


def test_parameters_given_for_a_composite_keep_user_expressions():
    model = GaussianModel(prefix="a_") + GaussianModel(prefix="b_")
    p = model.make_params(a_amplitude=5, a_center=-1.5, a_sigma=0.6, b_amplitude=3, b_center=1.5)
    p["b_sigma"].expr = "a_sigma"
    truth = dict(a_amplitude=6, a_center=-1.2, a_sigma=0.7, b_amplitude=2.5, b_center=1.4, b_sigma=0.7)
    y = noisy(model.eval(x=X, **truth), 0.005)
    result = model.fit(y, p, x=X)
    assert result.params["b_sigma"].value == result.params["a_sigma"].value
    assert result.params["b_sigma"].stderr == pytest.approx(result.params["a_sigma"].stderr)
    assert isinstance(p, Parameters) and p["a_sigma"].value == 0.6
