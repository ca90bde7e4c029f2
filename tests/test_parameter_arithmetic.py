"""A Parameter acts as its value in arithmetic; lmfit 1.x construction, create_params, subclass copies."""

import copy
import math
import pickle

import numpy as np
import pytest

from fitcore import Parameter, ParameterError, Parameters, create_params, minimize


def test_arithmetic_and_numpy_use_the_value():
    p = create_params(amp=3.0, a=-2.5)
    x = np.array([1.0, 2.0])
    np.testing.assert_array_equal(p["amp"] * x, [3.0, 6.0])
    np.testing.assert_array_equal(x * p["amp"], [3.0, 6.0])
    np.testing.assert_array_equal(np.exp(-x / p["amp"]), np.exp(-x / 3.0))
    assert abs(p["a"]) == 2.5 and -p["a"] == 2.5 and +p["a"] == -2.5
    assert p["amp"] + 1 == 4.0 and 1 + p["amp"] == 4.0 and p["amp"] - 1 == 2.0 and 1 - p["amp"] == -2.0
    assert p["amp"] / 2 == 1.5 and 6 / p["amp"] == 2.0 and p["amp"] // 2 == 1.0 and 7 // p["amp"] == 2.0
    assert p["amp"] % 2 == 1.0 and 7 % p["amp"] == 1.0 and divmod(p["amp"], 2) == (1.0, 1.0)
    assert p["amp"] ** 2 == 9.0 and 2 ** p["amp"] == 8.0
    assert p["amp"] * p["a"] == -7.5
    assert p["amp"] > 2 and p["amp"] >= 3 and p["a"] < 0 and p["a"] <= -2.5 and p["amp"] != 4
    assert float(p["a"]) == -2.5 and int(p["a"]) == -2 and round(p["a"]) == -2.0 and round(p["a"], 1) == -2.5
    assert math.floor(p["a"]) == -3 and math.ceil(p["a"]) == -2 and math.trunc(p["a"]) == -2
    arr = np.asarray(p["a"])
    assert arr.shape == () and arr.dtype == np.float64 and float(arr) == -2.5
    assert np.sin(p["amp"]) == pytest.approx(math.sin(3.0))
    assert bool(p["amp"]) and not bool(Parameter(value=0.0))


def test_arithmetic_on_a_parameter_without_value_is_a_clear_error():
    with pytest.raises(ParameterError, match="'w' has no value"):
        _ = Parameter("w", expr="2*a") * 2


def test_residual_written_with_arithmetic_fits():
    x = np.linspace(0, 5, 40)
    data = 2.0 * np.exp(-x / 1.5)
    p = create_params(amp=dict(value=1, min=0), tau=1)
    minimize(lambda q: q["amp"] * np.exp(-x / q["tau"]) - data, p)
    assert p["amp"].value == pytest.approx(2.0, rel=1e-7) and p["tau"].value == pytest.approx(1.5, rel=1e-7)


def test_name_first_construction_and_the_manual_form():
    p = Parameter("a", 10, False, 0, 20, None)
    assert (p.name, p.value, p.vary, p.min, p.max) == ("a", 10.0, False, 0.0, 20.0)
    q = Parameter("b", value=3, min=1)
    assert (q.name, q.value, q.min) == ("b", 3.0, 1.0)
    m = Parameter(2.5, False, 0.0, 10.0, "amp")  # the manual's positional form
    assert (m.name, m.value, m.vary, m.max) == ("amp", 2.5, False, 10.0)
    with pytest.raises(TypeError, match="both by position and by keyword"):
        Parameter("a", 1.0, value=2.0)
    with pytest.raises(TypeError, match="at most 6"):
        Parameter("a", 1, True, 0, 2, None, 7)


def test_parameters_add_a_parameter_keeps_bounds_and_vary():
    params = Parameters()
    params.add(Parameter("a", 10, vary=False, min=0, max=20))
    assert (params["a"].value, params["a"].vary, params["a"].min, params["a"].max) == (10.0, False, 0.0, 20.0)
    with pytest.raises(ParameterError, match="without a name"):
        params.add(Parameter(value=1.0))
    with pytest.raises(ParameterError, match="other arguments"):
        params.add(Parameter("b", 1.0), value=3)
    with pytest.raises(ParameterError, match="bounds, vary and expression would be lost"):
        params.add("c", value=params["a"])


def test_create_params_and_valuesdict():
    p = create_params(amp=dict(value=1, min=0), cen=2, wid={"expr": "cen/4"}, off=Parameter(value=0.5, vary=False))
    assert list(p) == ["amp", "cen", "wid", "off"]
    assert p["amp"].min == 0.0 and p["cen"].value == 2.0 and p["wid"].expr == "cen/4" and not p["off"].vary
    assert p.valuesdict() == {"amp": 1.0, "cen": 2.0, "wid": None, "off": 0.5}
    with pytest.raises(ParameterError, match="unknown attribute 'mni'"):
        create_params(a=dict(value=1, mni=0))
    p.set(amp=dict(value=5, is_init_value=False))
    assert p["amp"].value == 5.0 and p["amp"].init_value == 1.0


class MyParams(Parameters):
    def __init__(self, tag="x"):
        super().__init__()
        self.tag = tag


@pytest.mark.parametrize("how", ["copy", "deepcopy", "method", "pickle"])
def test_a_parameters_subclass_survives_copies(how):
    p = MyParams("mine")
    p.add("a", value=1.0, min=0)
    p.add("b", expr="2*a")
    dup = {"copy": copy.copy, "deepcopy": copy.deepcopy, "method": lambda q: q.copy(),
           "pickle": lambda q: pickle.loads(pickle.dumps(q))}[how](p)
    assert type(dup) is MyParams and dup.tag == "mine" and list(dup) == ["a", "b"]
    assert dup["a"].min == 0.0 and dup["b"].expr == "2*a" and dup["a"] is not p["a"]


def test_expression_bounds_clip_the_value():
    p = create_params(a=3.0, b=dict(expr="2*a", min=0, max=4))
    x = np.arange(5.0)
    minimize(lambda q: q["a"] * x + q["b"] - (3 * x + 4), p)
    assert p["b"].value == 4.0 and p["a"].value == pytest.approx(3.0, rel=1e-6)
