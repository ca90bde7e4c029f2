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


def test_expression_with_vary_true_is_fitted_freely():
    """Setting vary=True on an expression parameter frees it (lmfit 1.3): it is fitted, not computed."""
    p = Parameters()
    p.add("a", value=1.0)
    p.add("b", expr="2*a")
    Minimizer(lambda q: np.zeros(2), p).prepare_fit()  # computes b = 2
    p["b"].vary = True
    result = minimize(lambda q: np.array([q["a"].value - 1.0, q["b"].value - 5.0]), p)
    assert result.params["b"].expr is None
    assert result.params["b"].value == pytest.approx(5.0) and result.params["a"].value == pytest.approx(1.0)


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


# -- names the sandbox uses internally, removed parameters, long chains --------------------------
INTERNAL_LOOKING = ["_fc_pow", "_fc_Pow", "_fc_Mult", "_fc_LShift", "_fc_call", "_fc_item", "_fc_ns", "_fc_t1",
                    "_fc_make", "__builtins__", "_"]


def test_parameters_named_like_sandbox_internals_change_no_operator():
    """Parameters named _fc_pow, _fc_ns, __builtins__... (loadable from a file) leave **, *, <<, calls intact."""
    p = Parameters()
    p.add("a", value=3.0)
    for name in INTERNAL_LOOKING:
        p.add(name, value=7.0, vary=False)
    p.add("r1", expr="a**2 + 2**3")
    p.add("r2", expr="a * 2 + (1 << 4)")
    p.add("r3", expr="sqrt(a**2 + 16) + (1, 2, 3)[1] + (0 < a < 5)")
    p.add("r4", expr="max(a, r1) * -a")
    Minimizer(lambda q: np.zeros(2), p).prepare_fit()
    assert (p["r1"].value, p["r2"].value, p["r3"].value, p["r4"].value) == (17.0, 22.0, 8.0, -51.0)


@pytest.mark.parametrize("how", ["del", "prepare_fit", "loads"])
def test_removed_parameter_is_an_unknown_name_on_refit(how):
    """After an expression's input is removed, a refit says "unknown name 'b'" as a fresh Minimizer does."""
    from fitcore.serialize import dumps, loads

    p = Parameters()
    p.add("a", value=1.0)
    p.add("b", value=2.0, vary=False)
    p.add("c", expr="a + b")
    fit = Minimizer(lambda q: np.array([q["a"].value - 1.0, q["c"].value - 4.0]), p)
    fit.leastsq()
    assert p["c"].value == p["a"].value + 2.0
    other = Parameters()
    other.add("a", value=1.0)
    other.add("c", expr="a + b")
    if how == "del":
        del p["b"]
    elif how == "prepare_fit":
        p = other
    else:
        p = loads(dumps(other))
    with pytest.raises(ConstraintError, match="unknown name 'b'"):
        fit.prepare_fit(p)
    with pytest.raises(ConstraintError, match="unknown name 'b'"):
        Minimizer(fit.userfcn, p).prepare_fit()
    assert "b" not in fit.asteval.symtable  # parameter values never go into the user's symbol table


@pytest.mark.parametrize("reverse", [True, False], ids=["reverse", "forward"])
def test_chain_of_a_thousand_expressions(reverse):
    """e999 = e998 + 1, ..., e1 = e0 + 1 evaluates (no recursion limit), in either insertion order."""
    names = [f"e{i}" for i in range(1, 1000)]
    p = Parameters()
    if not reverse:
        p.add("e0", value=0.5)
    for name in reversed(names) if reverse else names:
        p.add(name, expr=f"e{int(name[1:]) - 1} + 1")
    if reverse:
        p.add("e0", value=0.5)
    Minimizer(lambda q: np.array([q["e0"].value, q["e999"].value]), p).prepare_fit()
    assert all(p[f"e{i}"].value == i + 0.5 for i in range(1000))
    p["e0"].expr = "e999 - 999"
    with pytest.raises(ConstraintError, match=r"is in a cycle e\d+ -> e\d+ -> .* \(1000 parameters\)"):
        Minimizer(lambda q: np.zeros(2), p).prepare_fit()


X_USER = np.array([1.0, 2.0, 4.0, 8.0])
ARRAY_EXPRESSIONS = [
    ("sum(x * a)", 15.0 * A),
    ("mean(x) + median(x) + std(x, ddof=1) - var(x, ddof=0)",
     np.mean(X_USER) + np.median(X_USER) + np.std(X_USER, ddof=1) - np.var(X_USER)),
    ("average(x, weights=x) + average(x, 0)", np.average(X_USER, weights=X_USER) + np.mean(X_USER)),
    ("amax(x) - amin(x) + nanmax(x) + nanmin(x) + nansum(x)", 7.0 + 9.0 + 15.0),
    ("sum(where(x > 3, x, -x)) + sum(clip(x, 2, 4))", 9.0 + 12.0),
    ("frexp(a)[0] * 2 ** frexp(a)[1] + modf(b)[0]", A + math.modf(B)[0]),
    ("round(12345, -3) + round(a, 1) + around(1.25, 1)", 12000.0 + 0.7 + 1.2),
    ("round(1e300, 300) / 1e300", 1.0),
    ("max(a, b, 3) + min([a, b]) + max(x) + fsum(x)", 3.0 + A + 8.0 + 15.0),
    ("x[2] + x[-1] + (a, b)[i] + x[i]", 4.0 + 8.0 + B + 2.0),
    ("(0 < a < b < k) + (a in (0.7, 1)) + (a not in x) + (a is a)", 4.0),
    ("-sum(-x) + sum(~(x > 1)) + sum(+x)", 15.0 + 1.0 + 15.0),
    ("sum(isposinf(x) + isneginf(x) + isfinite(x)) + real(a) + imag(a) + angle(-1)", 4.0 + A + math.pi),
    ("sum([a, b] * 2) + sum([a] + [b]) + len_of_list", 2 * (A + B) + A + B + 10.0),
    ("factorial(5) + pow(2, 0.5) + int(b) + float(a) + bool(a)", 120 + math.sqrt(2) + 2 + A + 1),
]


@pytest.mark.parametrize("expr, expected", ARRAY_EXPRESSIONS, ids=[e for e, _ in ARRAY_EXPRESSIONS])
def test_sandboxed_functions_on_user_arrays(expr, expected):
    """Reductions, where/clip, frexp/modf, round, subscripts and sequences on a user array give numpy's values."""
    p = _params(expr)
    x = X_USER.copy()
    fit = Minimizer(lambda q: np.zeros(3), p)
    fit.asteval.symtable.update(x=x, len_of_list=10.0, i=1)
    fit.prepare_fit()
    assert p["r"].value == pytest.approx(float(expected), rel=1e-14, abs=1e-15)
    assert np.array_equal(x, X_USER) and x.flags.writeable  # the user's array is untouched and still writable


def test_module_boundaries_have_no_import_cycle():
    """fitcore's modules import each other without a cycle (deferred and TYPE_CHECKING imports included),
    serialize depends on parameters and the sandbox, not the reverse, and no private name crosses modules."""
    import ast
    import graphlib
    from pathlib import Path

    import fitcore

    root = Path(fitcore.__file__).parent
    graph: dict[str, set[str]] = {}
    private = []
    for path in root.glob("*.py"):
        deps = graph.setdefault(path.stem, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                names = [a.name for a in node.names]
                if node.module:
                    deps.add(node.module.split(".")[0])
                    private += [f"{path.stem}: {node.module}.{n}" for n in names if n.startswith("_")
                                and not n.startswith("__")]
                else:
                    deps.update(names)
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError naming the cycle
    assert not private
    assert {"parameters", "sandbox"} <= graph["serialize"]
    assert "serialize" not in graph["parameters"] and "constraints" not in graph["parameters"]
    assert graph["sandbox"] <= {"errors"}  # the sandbox knows nothing of parameters or fits
