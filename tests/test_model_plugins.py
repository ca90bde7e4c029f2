"""Models through the plugin door: fitcore's own by entry point, a third party's the same way, the kit, the CLI."""

import io
import json

import numpy as np
import pytest

import fitcore
from fitcore import Model, ModelSpec, hookimpl, plugins
from fitcore.cli import main
from fitcore.models import BUILTIN_MODELS, GaussianModel
from fitcore.testing import check_model


def two_level(x, height=1.0, edge=0.0, width=1.0):
    """A smooth step of ``height`` at ``edge`` (a third party's lineshape)."""
    return height / (1.0 + np.exp(-(x - edge) / width))


class TwoLevelModel(Model):
    """A third party's model: a guess from the data's range and analytic derivatives."""

    def __init__(self, independent_vars=("x",), prefix="", nan_policy="raise", **kws):
        super().__init__(two_level, independent_vars=list(independent_vars), prefix=prefix, nan_policy=nan_policy,
                         **kws)
        self.set_param_hint("width", min=1e-6)

    def guess(self, data, x, **kws):
        mid = float(x[np.argmin(np.abs(data - (data.max() + data.min()) / 2))])
        return self.make_params(height=float(data.max() - data.min()), edge=mid, width=float(np.ptp(x)) / 20)

    @staticmethod
    def partials(x, height, edge, width):
        s = 1.0 / (1.0 + np.exp(-(x - edge) / width))
        ds = s * (1 - s)
        return {"height": s, "edge": -height * ds / width, "width": -height * ds * (x - edge) / width**2}


class WrongDerivativeModel(TwoLevelModel):
    """Claims derivatives that are off by a factor of two."""

    @staticmethod
    def partials(x, height, edge, width):
        good = TwoLevelModel.partials(x, height, edge, width)
        return {**good, "edge": 2 * good["edge"]}


class ModelPlugin:
    def __init__(self, *specs):
        self.specs = specs

    @hookimpl
    def fitcore_models(self):
        yield from self.specs


EXAMPLE = {"height": 2.0, "edge": 0.5, "width": 0.4}


def test_builtin_models_come_through_the_entry_point(fresh_registry):
    infos = {i.name: i for i in fitcore.list_models()}
    assert set(BUILTIN_MODELS) <= set(infos)
    gauss = infos["gaussian"]
    assert (gauss.distribution, gauss.plugin, gauss.spec.model) == ("fitcore", "builtin_models",
                                                                    "fitcore.models:GaussianModel")
    assert isinstance(Model("fitcore:gaussian", prefix="p1_"), GaussianModel)
    record = next(r for r in plugins.list_plugins() if r.plugin == "builtin_models")
    assert record.status == "active" and sorted(record.models) == sorted(infos_from(record))


def infos_from(record):
    return [i.name for i in fitcore.list_models() if i.plugin == record.plugin]


def test_a_third_party_model_by_name_and_through_the_kit(fresh_registry):
    plugin = ModelPlugin(ModelSpec("two_level", TwoLevelModel, "smooth two-level step", example=EXAMPLE))
    record = plugins.register(plugin, "xps_shapes")
    assert record.status == "active" and record.models == ["two_level"]
    model = Model("two_level", prefix="t_")
    assert isinstance(model, TwoLevelModel) and model.param_names == ["t_height", "t_edge", "t_width"]
    results = check_model("two_level")
    assert [r.status for r in results] == ["pass"] * 4
    x = np.linspace(-5, 5, 101)
    fit = model.fit(model.eval(x=x, t_height=2, t_edge=0.5, t_width=0.4), model.make_params(
        height=1, edge=0, width=1), x=x)
    assert "Dfun" in fit.core_options and fit.params["t_edge"].value == pytest.approx(0.5, rel=1e-8)
    plugins.unregister(plugin)
    with pytest.raises(fitcore.ModelNotFoundError, match="no model named 'two_level'"):
        Model("two_level")


def test_the_kit_catches_wrong_derivatives_and_a_guess_that_misses(fresh_registry):
    class FarGuess(TwoLevelModel):
        def guess(self, data, x, **kws):
            return self.make_params(height=-50.0, edge=40.0, width=1e-3)

    plugins.register(ModelPlugin(ModelSpec("bad_derivs", WrongDerivativeModel, "wrong", example=EXAMPLE),
                                 ModelSpec("far_guess", FarGuess, "misses", example=EXAMPLE)), "bad")
    derivs = {r.check: r for r in check_model("bad_derivs", raise_on_failure=False)}
    assert derivs["model_derivatives"].status == "fail" and "d/dedge" in derivs["model_derivatives"].message
    with pytest.raises(fitcore.testing.ConformanceError, match="model_guess_recovers_example"):
        check_model("far_guess")


def test_a_third_party_cannot_take_a_builtin_name_silently(fresh_registry):
    with pytest.warns(fitcore.PluginWarning, match="model name 'gaussian' is already taken by fitcore"):
        record = plugins.register(ModelPlugin(ModelSpec("gaussian", TwoLevelModel, "impostor")), "impostor")
    assert record.status == "broken" and "gaussian" in record.error
    assert isinstance(Model("gaussian"), GaussianModel)


@pytest.mark.parametrize("bad, exc, match", [
    (dict(name="Two Level"), ValueError, "must match"),
    (dict(model="not a path"), ValueError, "module:attribute"),
    (dict(summary=""), ValueError, "summary"),
    (dict(example={"height": "2"}), ValueError, "example must map"),
    (dict(x=(1.0, 0.0, 10)), ValueError, "start < stop"),
])
def test_model_spec_is_validated(bad, exc, match):
    kws = dict(name="two_level", model=TwoLevelModel, summary="ok")
    with pytest.raises(exc, match=match):
        ModelSpec(**{**kws, **bad})


@pytest.mark.parametrize("name", sorted(BUILTIN_MODELS))
def test_every_builtin_model_passes_the_kit(fresh_registry, name):
    results = check_model(name, raise_on_failure=False)
    assert not [r for r in results if r.status == "fail"], results


def test_cli_lists_models_with_distributions_and_checks_them(fresh_registry):
    out = io.StringIO()
    assert main(["models"], out=out) == 0
    rows = {line.split()[0]: line for line in out.getvalue().splitlines()[1:]}
    assert "gaussian" in rows and rows["gaussian"].split()[1] == "fitcore"
    out = io.StringIO()
    assert main(["models", "--json"], out=out) == 0
    data = {r["name"]: r for r in json.loads(out.getvalue())}
    assert data["voigt"]["model"] == "fitcore.models:VoigtModel" and data["voigt"]["distribution"] == "fitcore"
    out = io.StringIO()
    assert main(["check", "--model", "gaussian"], out=out) == 0
    assert "gaussian: 4 of 4 checks passed" in out.getvalue()
    assert main(["check", "--model", "no_such_model"], out=io.StringIO()) == 2
