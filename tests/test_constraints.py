"""Constraint expressions as the manual's chapter 5: operators, functions, order, errors, user functions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fitcore import ConstraintError, Minimizer, Parameters, minimize
from fitcore.constraints import make_interpreter

A, B, K, N = 0.7, 2.3, 3.0, 6.0  # a, b free; k, n fixed

#: (expression, value computed independently in Python with the math module)
OPERATORS = [
    ("a + b", A + B),
    ("a - b", A - B),
    ("a * b", A * B),
    ("a / b", A / B),
    ("a ** b", A**B),
    ("(int(n) & 3) * a", (6 & 3) * A),
    ("(int(n) | 1) + a", (6 | 1) + A),
    ("(int(n) ^ 3) * a", (6 ^ 3) * A),
    ("(1 << int(k)) * a", (1 << 3) * A),
    ("(int(n) >> 1) * a", (6 >> 1) * A),
    ("b % a", B % A),
    ("a and b", B),
    ("(a - a) and b", 0.0),
    ("a or b", A),
    ("(a - a) or b", B),
    ("(a == 0.7) * b", B),
    ("(a > b) + 2 * (b > a)", 2.0),
    ("(a >= 0.7) + 2 * (a >= b)", 1.0),
    ("(a < b) * 5", 5.0),
    ("(a <= 0.7) + (b <= a)", 1.0),
    ("(a != b) * a", A),
    ("~int(k) * a", ~3 * A),
    ("(not a) + b", B),
    ("(not (a > b)) * a", A),
    ("b if a is not None else -b", B),
    ("b if None is None else -b", B),
    ("a if 3 in (1, 2, 3) else b", A),
    ("a if 4 not in (1, 2, 3) else b", A),
    ("-a + +b", -A + B),
    ("(a + b) * (a - b) / (k ** 2)", (A + B) * (A - B) / K**2),
]

#: every function of the manual's list (``loglp`` there is ``log1p``), and the constants e and pi
FUNCTIONS = [
    ("abs(-a)", abs(-A)),
    ("acos(a / b)", math.acos(A / B)),
    ("acosh(b)", math.acosh(B)),
    ("asin(a / b)", math.asin(A / B)),
    ("asinh(a)", math.asinh(A)),
    ("atan(a)", math.atan(A)),
    ("atan2(a, -b)", math.atan2(A, -B)),
    ("atanh(a / b)", math.atanh(A / B)),
    ("ceil(b)", math.ceil(B)),
    ("copysign(a, -1)", math.copysign(A, -1)),
    ("cos(a)", math.cos(A)),
    ("cosh(a)", math.cosh(A)),
    ("degrees(a)", math.degrees(A)),
    ("exp(a)", math.exp(A)),
    ("fabs(-b)", math.fabs(-B)),
    ("factorial(int(k)) * a", math.factorial(3) * A),
    ("floor(b)", math.floor(B)),
    ("fmod(b, a)", math.fmod(B, A)),
    ("frexp(b)[0] * 2 ** frexp(b)[1]", B),
    ("frexp(b)[0]", math.frexp(B)[0]),
    ("fsum([a, b, a])", math.fsum([A, B, A])),
    ("hypot(a, b)", math.hypot(A, B)),
    ("isinf(a) + a", A),
    ("isnan(a) + b", B),
    ("ldexp(a, int(k))", math.ldexp(A, 3)),
    ("log(b)", math.log(B)),
    ("log10(b)", math.log10(B)),
    ("log1p(a)", math.log1p(A)),
    ("max(a, b)", B),
    ("min(a, b)", A),
    ("modf(b)[0]", math.modf(B)[0]),
    ("modf(b)[1]", math.modf(B)[1]),
    ("pow(a, b)", math.pow(A, B)),
    ("radians(b)", math.radians(B)),
    ("sin(a)", math.sin(A)),
    ("sinh(a)", math.sinh(A)),
    ("sqrt(b)", math.sqrt(B)),
    ("tan(a)", math.tan(A)),
    ("tanh(a)", math.tanh(A)),
    ("trunc(b)", math.trunc(B)),
    ("e * a", math.e * A),
    ("pi * b", math.pi * B),
    ("e", 2.718281828459045),
    ("pi", 3.141592653589793),
]


def _params(expr: str) -> Parameters:
    p = Parameters()
    p.add("a", value=A)
    p.add("b", value=B)
    p.add("k", value=K, vary=False)
    p.add("n", value=N, vary=False)
    p.add("r", expr=expr)
    return p


def _evaluate(expr: str) -> float:
    p = _params(expr)
    Minimizer(lambda q: np.zeros(3), p).prepare_fit()
    return p["r"].value


@pytest.mark.parametrize("expr, expected", OPERATORS + FUNCTIONS, ids=[e for e, _ in OPERATORS + FUNCTIONS])
def test_expression_value(expr, expected):
    """Each operator, function and constant of the manual gives the value Python's math gives."""
    assert _evaluate(expr) == pytest.approx(float(expected), rel=1e-14, abs=1e-15)


@pytest.mark.parametrize("expr, expected", OPERATORS + FUNCTIONS, ids=[e for e, _ in OPERATORS + FUNCTIONS])
def test_asteval_agrees_with_fast_path(expr, expected):
    """The asteval interpreter (Minimizer.asteval) evaluates every expression to the same value."""
    interp = make_interpreter()
    interp.symtable.update(a=A, b=B, k=K, n=N)
    assert float(interp.eval(expr, raise_errors=True)) == pytest.approx(_evaluate(expr), rel=1e-15, abs=1e-15)


def test_loglp_spelling_gets_a_did_you_mean():
    """The manual's misprint 'loglp' is an unknown name, and the error suggests log1p."""
    with pytest.raises(ConstraintError, match=r"unknown name 'loglp'.*Did you mean 'log1p'\?"):
        _evaluate("loglp(a)")


@pytest.mark.parametrize("test_val, expected", [(300.0, 1.5), (100.0, -4.0)])
def test_one_line_if_expression(test_val, expected):
    """bounded = param_a if test_val/2. > 100 else param_b takes the branch the condition selects."""
    p = Parameters()
    p.add("param_a", value=1.5)
    p.add("param_b", value=-4.0)
    p.add("test_val", value=test_val, vary=False)
    p.add("bounded", expr="param_a if test_val/2. > 100 else param_b")
    Minimizer(lambda q: np.zeros(2), p).prepare_fit()
    assert p["bounded"].value == expected


def test_expressions_reference_free_fixed_and_other_expressions_in_dependency_order():
    """Expressions may use free, fixed and expression parameters, whatever their insertion order."""
    p = Parameters()
    p.add("total", expr="half * 2 + offset")  # refers to two parameters defined later
    p.add("half", expr="wid / 2")
    p.add("wid", value=3.0)  # free
    p.add("offset", value=10.0, vary=False)  # fixed
    p.add("ratio", expr="total / half")
    m = Minimizer(lambda q: np.zeros(2), p)
    m.prepare_fit()
    assert (p["half"].value, p["total"].value, p["ratio"].value) == (1.5, 13.0, 13.0 / 1.5)


def test_expressions_are_updated_at_every_step_of_a_fit():
    """During a fit every residual call sees frac_curve2 == 1 - frac_curve1 (section 5.1)."""
    x = np.linspace(-5, 5, 201)
    g1, g2 = np.exp(-((x + 1) ** 2)), np.exp(-((x - 1.5) ** 2) / 2)
    data = 0.3 * g1 + 0.7 * g2
    seen = []

    def resid(p):
        f1, f2 = p["frac_curve1"].value, p["frac_curve2"].value
        seen.append((f1, f2))
        return f1 * g1 + f2 * g2 - data

    pars = Parameters()
    pars.add("frac_curve1", value=0.5, min=0, max=1)
    pars.add("frac_curve2", expr="1-frac_curve1")
    fit = minimize(resid, pars)
    assert fit.success
    assert len(seen) > 3 and len({f1 for f1, _ in seen}) > 2
    assert all(f2 == pytest.approx(1 - f1, abs=1e-15) for f1, f2 in seen)
    assert pars["frac_curve1"].value == pytest.approx(0.3, abs=1e-7)
    assert pars["frac_curve2"].value == pytest.approx(0.7, abs=1e-7)


def _counting(params):
    calls = []

    def resid(p):
        calls.append(1)
        return np.array([p["a"].value - 1.0, 0.0])

    return resid, calls


@pytest.mark.parametrize("exprs, pattern", [
    ({"c1": "c2+1", "c2": "c1*2"}, r"cycle c1 -> c2 -> c1"),
    ({"c1": "c2+1", "c2": "c3*2", "c3": "a + c1"}, r"cycle c1 -> c2 -> c3 -> c1"),
    ({"c1": "c1 + a"}, r"'c1' refers to itself"),
])
def test_cycles_are_errors_before_the_fit_naming_the_cycle(exprs, pattern):
    """a = b+1, b = a*2 (and longer cycles, and self-reference) fail before any evaluation."""
    p = Parameters()
    p.add("a", value=0.5)
    for name, expr in exprs.items():
        p.add(name, expr=expr)
    resid, calls = _counting(p)
    with pytest.raises(ConstraintError, match=pattern):
        minimize(resid, p)
    assert calls == [] and p["a"].value == 0.5


def test_manual_cycle_a_b():
    """The issue's own example a = b+1, b = a*2 names both parameters in the cycle."""
    p = Parameters()
    p.add("x0", value=1.0)
    p.add("a", expr="b+1")
    p.add("b", expr="a*2")
    with pytest.raises(ConstraintError, match=r"a -> b -> a") as info:
        Minimizer(lambda q: np.zeros(2), p).prepare_fit()
    assert info.value.name == "a" and info.value.expr == "b+1"


@pytest.mark.parametrize("expr, symbol, hint", [
    ("amp * zork", "zork", None),
    ("amp * ampp", "ampp", "amp"),
    ("sqr(amp)", "sqr", "sqrt"),
])
def test_unknown_name_is_an_error_before_the_fit_naming_the_symbol(expr, symbol, hint):
    """An unknown symbol fails before any evaluation, naming it (with a did-you-mean when close)."""
    p = Parameters()
    p.add("a", value=0.5)
    p.add("amp", value=2.0)
    p.add("bad", expr=expr)
    resid, calls = _counting(p)
    with pytest.raises(ConstraintError, match=f"'bad': unknown name '{symbol}'") as info:
        minimize(resid, p)
    assert calls == [] and info.value.name == "bad"
    if hint:
        assert f"Did you mean '{hint}'?" in str(info.value)


@pytest.mark.parametrize("expr, pattern", [
    ("a +", "invalid expression"),
    ("x = a + 1", "not a single expression"),
    ("a; b", "not a single expression"),
])
def test_syntax_errors_and_statements_are_refused_naming_the_parameter(expr, pattern):
    """Invalid syntax and statements fail before the fit, naming the parameter."""
    p = Parameters()
    p.add("a", value=1.0)
    p.add("b", value=1.0)
    p.add("r", expr=expr)
    with pytest.raises(ConstraintError, match=f"'r'.*{pattern}"):
        Minimizer(lambda q: np.zeros(2), p).prepare_fit()


def test_expression_with_vary_true_is_refused():
    """Setting vary=True on an expression parameter is an error, not silently ignored."""
    p = Parameters()
    p.add("a", value=1.0)
    p.add("b", expr="2*a")
    p["b"].vary = True
    with pytest.raises(ConstraintError, match="'b'.*vary=True"):
        minimize(lambda q: np.array([q["a"].value, 0.0]), p)


def test_non_finite_expression_value_names_parameter_and_inputs():
    """An expression evaluating to NaN/inf is an error naming the parameter and the inputs."""
    p = Parameters()
    p.add("a", value=-1.0)
    p.add("r", expr="1 / (a + 1)")
    with pytest.raises(ConstraintError, match=r"'r'.*(ZeroDivisionError|inf).*a=-1\.0"):
        Minimizer(lambda q: np.zeros(2), p).prepare_fit()


def lorentzian(x, amp, cen, wid):
    "lorentzian function: wid = half-width at half-max"
    return amp / (1 + ((x - cen) / wid) ** 2)


def test_user_function_through_asteval_symtable():
    """Section 5.3: a function put in Minimizer.asteval.symtable is usable in constraints."""
    x = np.linspace(-3, 3, 121)
    truth = {"amp": 2.0, "cen": 0.4, "wid": 0.7}
    data = lorentzian(x, **truth) + 0.5 * lorentzian(x, 1.0, 1.1, 0.3)

    def resid(p):
        model = lorentzian(x, p["amp"].value, p["cen"].value, p["wid"].value)
        return model + p["h2"].value * lorentzian(x, 1.0, 1.1, 0.3) - data

    p = Parameters()
    p.add("amp", value=1.5)
    p.add("cen", value=0.0)
    p.add("wid", value=1.0, min=0.01)
    p.add("peak_at_1", expr="lorentzian(1.0, amp, cen, wid)")
    p.add("h2", expr="peak_at_1 / 2.0 / lorentzian(1.0, 2.0, 0.4, 0.7)")  # 0.5 at the truth
    fitter = Minimizer(resid, p)
    fitter.asteval.symtable["lorentzian"] = lorentzian
    assert fitter.leastsq()
    for name, val in truth.items():
        assert p[name].value == pytest.approx(val, rel=1e-6)
    assert p["peak_at_1"].value == pytest.approx(lorentzian(1.0, **truth), rel=1e-6)
    assert p["h2"].value == pytest.approx(0.5, rel=1e-6)


def test_user_function_not_installed_is_an_unknown_name():
    """Without the symtable entry, lorentzian is an unknown name raised before the fit."""
    p = Parameters()
    p.add("amp", value=1.0)
    p.add("h", expr="lorentzian(1.0, amp, 0, 1)")
    with pytest.raises(ConstraintError, match="unknown name 'lorentzian'"):
        Minimizer(lambda q: np.zeros(2), p).prepare_fit()


def test_symtable_entries_added_after_prepare_are_seen_by_a_refit():
    """Replacing a user function in the symtable changes the next fit's expression values."""
    p = Parameters()
    p.add("a", value=2.0)
    p.add("r", expr="scale(a)")
    m = Minimizer(lambda q: np.array([q["a"].value - 3.0, 0.0]), p)
    m.asteval.symtable["scale"] = lambda v: 10 * v
    m.leastsq()
    assert p["r"].value == pytest.approx(30.0, rel=1e-9)
    m.asteval.symtable["scale"] = lambda v: -v
    m.leastsq()
    assert p["r"].value == pytest.approx(-3.0, rel=1e-9)
