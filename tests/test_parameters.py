"""Parameter and Parameters as the manual's sections 2.1-2.3 describe them."""

from __future__ import annotations

import copy
import math
import pickle
import warnings

import numpy as np
import pytest

from fitcore import BoundsWarning, Parameter, ParameterError, Parameters, minimize


# -- Parameter ---------------------------------------------------------------------------------
def test_parameter_signature_and_attributes():
    """Parameter(value, vary, min, max, name, expr) turns each input into an attribute."""
    p = Parameter(2.5, False, 0.0, 10.0, "amp", None)
    assert (p.value, p.vary, p.min, p.max, p.name, p.expr) == (2.5, False, 0.0, 10.0, "amp", None)
    assert p.stderr is None and p.correl is None and p.init_value == 2.5


def test_parameter_defaults_are_unbounded_and_free():
    """min=None and max=None mean no bound; vary defaults to True."""
    p = Parameter(1.0)
    assert p.min == -math.inf and p.max == math.inf and p.vary is True and p.value == 1.0


def test_expr_forces_vary_false():
    """A parameter given an expression is computed, not varied."""
    p = Parameter(expr="2*wid1/3")
    assert p.vary is False and p.expr == "2*wid1/3"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_value_is_an_error_naming_the_parameter(bad):
    """A non-finite value is refused with the parameter's name in the message."""
    params = Parameters()
    with pytest.raises(ParameterError, match="'decay'.*not finite") as info:
        params.add("decay", value=bad)
    assert info.value.name == "decay"


def test_non_numeric_value_is_an_error():
    """A value that is not a number is refused, naming the parameter."""
    with pytest.raises(ParameterError, match="'amp'.*not a number"):
        Parameters().add("amp", value="ten")


@pytest.mark.parametrize("lo, hi", [(2.0, 1.0), (1.0, 1.0)])
def test_min_not_below_max_is_an_error_naming_the_parameter(lo, hi):
    """min >= max is refused at creation with the parameter's name."""
    with pytest.raises(ParameterError, match=r"'cen'.*min \(.*\) must be less than max") as info:
        Parameters().add("cen", value=1.5, min=lo, max=hi)
    assert info.value.name == "cen"


def test_nan_bound_is_an_error():
    """A NaN bound is refused (None is the way to say 'no bound')."""
    with pytest.raises(ParameterError, match="'a'.*NaN"):
        Parameters().add("a", value=1, min=float("nan"))


def test_setting_vary_and_max_after_creation():
    """params['amp'].vary = True and params['decay'].max = 0.1 work after creation (section 2.1)."""
    params = Parameters()
    params.add("amp", value=10, vary=False)
    params.add("decay", value=0.007, min=0.0)
    params["amp"].vary = True
    params["decay"].max = 0.10
    assert params["amp"].vary is True
    assert (params["decay"].min, params["decay"].max) == (0.0, 0.10)


def test_setting_max_below_min_after_creation_is_an_error():
    """Moving max below min later is refused and the old bound is kept."""
    params = Parameters()
    params.add("decay", value=0.5, min=0.2)
    with pytest.raises(ParameterError, match="'decay'"):
        params["decay"].max = 0.1
    assert params["decay"].max == math.inf


def test_set_changes_both_bounds_together():
    """Parameter.set(min=, max=) checks the new bounds as a pair."""
    p = Parameter(5.5, min=0, max=1, name="a")
    p.set(min=5, max=6)
    assert (p.min, p.max, p.value) == (5.0, 6.0, 5.5)


# -- Parameters: a checked, ordered mapping -------------------------------------------------------
@pytest.mark.parametrize("bad", ["1abc", "a-b", "a b", "", "é", "class", "lambda", "None", "if", "amp\n", "a\n",
                                 "\namp", "amp "])
def test_bad_names_are_refused(bad):
    """Keys must match [a-zA-Z_][a-zA-Z0-9_]* and not be a Python keyword."""
    params = Parameters()
    with pytest.raises(ParameterError, match="invalid parameter name"):
        params.add(bad, value=1)
    with pytest.raises(ParameterError, match="invalid parameter name"):
        params[bad] = Parameter(1)
    assert len(params) == 0


@pytest.mark.parametrize("good", ["a", "_a", "A1_b2", "amp_1", "frac_curve1", "_"])
def test_valid_names_are_accepted(good):
    """Any identifier that is not a keyword is a valid name."""
    params = Parameters()
    params.add(good, value=1)
    assert params[good].name == good


def test_values_must_be_parameters():
    """Assigning anything but a Parameter is refused with a hint to use add()."""
    params = Parameters()
    with pytest.raises(ParameterError, match=r"must be a Parameter.*params.add\('a'"):
        params["a"] = 1.0
    with pytest.raises(ParameterError, match="must be a Parameter"):
        params.update({"b": 2.0})
    assert "a" not in params and "b" not in params


def test_assignment_sets_the_name():
    """params['period'] = Parameter(value=2, min=1e-10) names the parameter (section 3.2)."""
    params = Parameters()
    params["period"] = Parameter(value=2, min=1.0e-10)
    assert params["period"].name == "period" and params["period"].min == 1.0e-10


def test_storing_a_parameter_of_another_set_under_a_new_name_leaves_the_original_alone():
    """other['a_1'] = p['a'] stores a copy named a_1; p['a'] keeps its name and p still fits."""
    p = Parameters()
    p.add("a", value=1.0, min=0.0)
    p.add("b", value=2.0)
    other = Parameters()
    other["a_1"] = p["a"]
    assert p["a"].name == "a" and other["a_1"].name == "a_1"
    assert other["a_1"] is not p["a"] and (other["a_1"].value, other["a_1"].min) == (1.0, 0.0)
    other["a_1"].value = 5.0
    assert p["a"].value == 1.0
    same = Parameters()
    same["a"] = p["a"]  # the same name: the very object is shared, as any Python mapping would
    assert same["a"] is p["a"]
    x = np.linspace(0.0, 1.0, 10)
    fit = minimize(lambda q: q["a"].value + q["b"].value * x - (3.0 + 0.5 * x), p)
    assert fit.success and p["a"].value == pytest.approx(3.0) and p["b"].value == pytest.approx(0.5)


@pytest.mark.parametrize("where", ["value", "min", "max"])
@pytest.mark.parametrize("big", [10**400, -(10**400)])
def test_integer_beyond_the_float_range_is_a_clear_error(where, big):
    """Parameter(value=10**400) (or a bound) is a ParameterError naming the parameter, not an OverflowError."""
    with pytest.raises(ParameterError, match=r"'amp'.*too large for a float"):
        Parameter(name="amp", **{where: big})
    par = Parameter(name="amp", value=1.0)
    with pytest.raises(ParameterError, match="too large for a float"):
        setattr(par, where, big)
    assert (par.value, par.min, par.max) == (1.0, -math.inf, math.inf)


def test_insertion_order_is_kept_for_unpacking_values():
    """The manual unpacks p.values() in insertion order: a1, a2, t1, t2 = ..."""
    p = Parameters()
    p.add_many(("t2", 5), ("a1", 5), ("a2", -5), ("t1", 2))
    assert list(p) == ["t2", "a1", "a2", "t1"]
    t2, a1, a2, t1 = [i.value for i in p.values()]
    assert (t2, a1, a2, t1) == (5.0, 5.0, -5.0, 2.0)
    assert p.valuesdict() == {"t2": 5.0, "a1": 5.0, "a2": -5.0, "t1": 2.0}


def test_add_passes_every_argument():
    """add(name, value, vary, min, max, expr) creates the Parameter with those attributes."""
    p = Parameters()
    p.add("myvar", value=1, vary=True)
    p.add("b", 2, False, -1, 3)
    p.add("c", expr="myvar*2")
    assert (p["b"].value, p["b"].vary, p["b"].min, p["b"].max) == (2.0, False, -1.0, 3.0)
    assert p["c"].expr == "myvar*2" and p["c"].vary is False and p["myvar"].value == 1.0


def test_add_many_full_table_as_in_the_manual():
    """The manual's six-column add_many table gives those exact parameters."""
    p = Parameters()
    p.add_many(("amp1", 10, True, None, None, None),
               ("cen1", 1.2, True, 0.5, 2.0, None),
               ("wid1", 0.8, True, 0.1, None, None),
               ("amp2", 7.5, True, None, None, None),
               ("cen2", 1.9, True, 1.0, 3.0, None),
               ("wid2", None, False, None, None, "2*wid1/3"))
    assert list(p) == ["amp1", "cen1", "wid1", "amp2", "cen2", "wid2"]
    assert (p["cen1"].min, p["cen1"].max) == (0.5, 2.0)
    assert p["wid1"].min == 0.1 and p["wid1"].max == math.inf
    assert p["wid2"].value is None and p["wid2"].expr == "2*wid1/3" and not p["wid2"].vary


def test_add_many_short_tuples_take_defaults():
    """('a', 0.1) is a free, unbounded parameter (the manual's chapter 4 example)."""
    p = Parameters()
    p.add_many(("a", 0.1), ("b", 1), ("c",), ("d", 2, False))
    assert p["a"].value == 0.1 and p["a"].vary and p["a"].min == -math.inf and p["a"].expr is None
    assert p["c"].value is None and p["d"].vary is False


@pytest.mark.parametrize("entry", [("f", 1, True, None, None, None, 7), (), "f", 3.0])
def test_add_many_bad_entries_are_errors(entry):
    """Entries that are not 1- to 6-tuples are refused."""
    with pytest.raises(ParameterError, match="add_many"):
        Parameters().add_many(entry)


def test_add_many_accepts_named_parameters():
    """A named Parameter may stand in for a tuple; an unnamed one is refused."""
    p = Parameters()
    p.add_many(Parameter(3.0, name="x0"))
    assert p["x0"].value == 3.0
    with pytest.raises(ParameterError, match="without a name"):
        p.add_many(Parameter(3.0))


# -- start values outside bounds ------------------------------------------------------------------
def test_start_outside_bounds_is_moved_inside_with_a_warning_naming_it():
    """A start value outside [min, max] is moved onto the bound with a BoundsWarning naming it."""
    x = np.linspace(0.0, 1.0, 11)
    params = Parameters()
    params.add("lo_par", value=-3.0, min=0.0)
    params.add("hi_par", value=7.0, max=1.0)
    with pytest.warns(BoundsWarning) as rec:
        minimize(lambda p: np.r_[p["lo_par"].value - 0.25 - 0 * x, p["hi_par"].value - 0.75 - 0 * x], params)
    text = " ".join(str(w.message) for w in rec)
    assert "'lo_par'" in text and "'hi_par'" in text
    assert params["lo_par"].init_value == 0.0 and params["hi_par"].init_value == 1.0
    assert params["lo_par"].value == pytest.approx(0.25, abs=1e-6)
    assert params["hi_par"].value == pytest.approx(0.75, abs=1e-6)


def test_start_inside_bounds_gives_no_warning():
    """A start inside its bounds is left alone, silently."""
    params = Parameters()
    params.add("a", value=0.5, min=0.0, max=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        minimize(lambda p: np.array([p["a"].value - 0.3, 0.0]), params)
    assert params["a"].value == pytest.approx(0.3, abs=1e-6)


# -- copying, pickling, display -------------------------------------------------------------------
def _fitted():
    x = np.linspace(0, 5, 40)
    y = 2.0 * np.exp(-x / 1.5) + 0.01 * np.sin(7 * x)
    p = Parameters()
    p.add("a", value=1.0, min=0)
    p.add("t", value=1.0)
    p.add("k", value=3.0, vary=False)
    p.add("half", expr="t*log(2)")
    minimize(lambda p: p["a"].value * np.exp(-x / p["t"].value) - y, p)
    return p


@pytest.mark.parametrize("dup", [copy.copy, copy.deepcopy, Parameters.copy])
def test_copies_are_independent(dup):
    """A copy (copy, deepcopy, .copy) carries everything, and changing it leaves the original alone."""
    p = _fitted()
    q = dup(p)
    assert isinstance(q, Parameters) and q == p and list(q) == list(p)
    assert q["a"].stderr == p["a"].stderr and q["a"].correl == p["a"].correl
    q["a"].value = 99.0
    q["a"].correl["t"] = 0.0
    q["t"].max = 100.0
    assert p["a"].value != 99.0 and p["a"].correl["t"] != 0.0 and p["t"].max == math.inf


def test_pickle_round_trip_keeps_everything():
    """Pickling keeps order, values, bounds, expressions, stderr, correl and init_value."""
    p = _fitted()
    q = pickle.loads(pickle.dumps(p))
    assert list(q) == list(p)
    for name in p:
        for attr in ("value", "vary", "min", "max", "expr", "stderr", "correl", "init_value", "name"):
            assert getattr(q[name], attr) == getattr(p[name], attr), (name, attr)
    single = pickle.loads(pickle.dumps(p["half"]))
    assert single == p["half"]


def test_repr_is_readable():
    """repr shows name, value, fixed/expr, stderr and bounds."""
    p = _fitted()
    assert repr(p["k"]) == "<Parameter 'k', 3.0, fixed, +/- 0>"
    assert repr(Parameter(2.0, vary=False, name="c")) == "<Parameter 'c', 2.0, fixed>"
    assert repr(p["half"]).startswith("<Parameter 'half', ") and "expr='t*log(2)'" in repr(p["half"])
    ra = repr(p["a"])
    assert "'a'" in ra and "+/- " in ra and "bounds=[0.0:inf]" in ra
    assert repr(p).startswith("Parameters([<Parameter 'a'") and repr(p).count("<Parameter") == 4


def test_pretty_print_table(capsys):
    """pretty_print() prints a header and one aligned row per parameter, in order."""
    p = _fitted()
    p.pretty_print()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "value", "stderr", "vary", "min", "max", "expr"]
    assert [ln.split()[0] for ln in lines[1:]] == ["a", "t", "k", "half"]
    row_t = lines[2].split()
    assert float(row_t[1]) == pytest.approx(p["t"].value, rel=1e-6)
    assert float(row_t[2]) == pytest.approx(p["t"].stderr, rel=1e-3)
    assert lines[4].split()[-1] == "t*log(2)"
    assert lines[3].split()[3] == "False"


def test_repr_html_table():
    """_repr_html_ is an HTML table with one row per parameter and escaped cells."""
    p = Parameters()
    p.add("a", value=1)
    p.add("b", expr="a<2 and a>0")
    html = p._repr_html_()
    assert html.startswith("<table>") and html.endswith("</table>")
    assert html.count("<tr>") == 3 and "<th>name</th>" in html
    assert "a&lt;2 and a&gt;0" in html and "a<2" not in html


def test_vary_true_frees_an_expression_parameter():
    """Setting vary=True removes the expression (lmfit 1.3): the parameter is then fitted from its value."""
    p = Parameters()
    p.add("a", value=1.0)
    p.add("b", value=3.0, expr="2*a")
    p["b"].vary = True
    assert p["b"].expr is None and p["b"].vary is True
    x = np.linspace(0, 1, 20)
    result = minimize(lambda q: q["a"].value * x + q["b"].value - (0.5 * x + 4.0), p)
    assert result.params["b"].value == pytest.approx(4.0, rel=1e-6)
    assert result.params["a"].value == pytest.approx(0.5, rel=1e-6)


def test_set_applies_vary_before_expr():
    """set(vary=True) frees the parameter, set(vary=True, expr=...) keeps the new expression (lmfit's order)."""
    p = Parameter(value=2.0, expr="2*a")
    p.set(vary=True)
    assert p.expr is None and p.vary is True
    p.set(vary=True, expr="3*a")
    assert p.expr == "3*a" and p.vary is False
    assert Parameter(value=1.0, vary=True, expr="2*a").vary is False  # both given: the expression wins
