"""Untrusted constraint expressions: escapes, writes and denial-of-service attempts are refused, not run.

Every entry of BATTERY is fitted in a forked child process with a memory limit (address space
at most MEMORY_LIMIT bytes above the parent's), a CPU-time limit and a timeout, so a regression
that computes (or hangs on, or fills memory with) a malicious expression fails the test instead
of hanging the suite. The fit's symbol table holds arrays of the user's (XDATA, a column, an
object array, masked arrays) and a raw numpy function the user added; after each attempt XDATA must be
unchanged. ``python tests/test_expressions_security.py`` rewrites the table in
docs/robustness.md from the same data; ``test_docs_list_the_battery`` keeps the two in sync.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import sys
import warnings
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fitcore
from fitcore.sandbox import (
    MAX_ELEMENTS,
    MAX_EXPR_LENGTH,
    SAFE_SYMBOLS,
    base_symtable,
    check_expression,
    show_expression,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "robustness.md"
TIMEOUT = 60.0  # seconds of wall time per attempt: a hang guard on a shared machine, not a speed target
CPU_LIMIT = 20  # seconds of CPU time an attempt may use before the kernel stops it
MEMORY_LIMIT = 512 * 2**20  # bytes of address space an attempt may add to what the process holds
XDATA = np.linspace(0.0, 1.0, 2048)  # the user's data, placed in the symbol table

#: (id, kind, expression, fragment the error message must contain)
BATTERY: list[tuple[str, str, str, str]] = [
    # -- escapes: imports, dunders, builtins, introspection, file access ------------------
    ("import-call", "escape", "__import__('os').system('echo pwned')", "only named functions may be called"),
    ("dunder-name", "escape", "__builtins__", "names starting with '_'"),
    ("dunder-attr", "escape", "a.__class__", "attribute access"),
    ("subclasses-walk", "escape", "().__class__.__bases__[0].__subclasses__()", "only named functions"),
    ("func-globals", "escape", "sqrt.__self__", "attribute access"),
    ("plain-attr", "escape", "a.real", "attribute access"),
    ("getattr-call", "escape", "getattr(a, '__class__')", "not allowed"),
    ("getattr-name", "escape", "getattr(a, a)", "unknown name 'getattr'"),
    ("open-file", "escape", "open('/etc/passwd')", "not allowed"),
    ("open-name", "escape", "open(a)", "unknown name 'open'"),
    ("eval-string", "escape", "eval('1+1')", "not allowed"),
    ("exec-name", "escape", "exec(a)", "unknown name 'exec'"),
    ("compile-name", "escape", "compile(a)", "unknown name 'compile'"),
    ("globals", "escape", "globals()", "unknown name 'globals'"),
    ("vars", "escape", "vars()", "unknown name 'vars'"),
    ("type-call", "escape", "type(a)", "unknown name 'type'"),
    ("chr-loadtxt", "escape", "loadtxt(chr(47) + chr(101))", "unknown name"),
    ("fromfile", "escape", "fromfile(a)", "unknown name 'fromfile'"),
    ("numpy-seterr", "escape", "seterr(a)", "unknown name 'seterr'"),
    ("vectorize", "escape", "vectorize(sqrt)", "unknown name 'vectorize'"),
    ("guard-name", "escape", "_fc_pow(2, 3)", "names starting with '_'"),
    ("lambda", "escape", "(lambda: 0)()", "only named functions"),
    ("lambda-arg", "escape", "max(a, key=lambda x: x)", "a lambda is not allowed"),
    ("list-comp", "escape", "[c for c in (1, 2)]", "a comprehension is not allowed"),
    ("generator", "escape", "sum(x for x in (1, 2))", "a generator expression is not allowed"),
    ("f-string", "escape", "f'{a}'", "an f-string is not allowed"),
    ("walrus", "escape", "(y := a)", "an assignment expression"),
    ("two-statements", "escape", "a; b", "not a single expression"),
    ("import-stmt", "escape", "import os", "not a single expression"),
    ("assignment", "escape", "a = 1", "not a single expression"),
    ("def", "escape", "def f(): pass", "not a single expression"),
    ("starred", "escape", "max(*(a, b))", "a starred argument"),
    ("kw-unpack", "escape", "max(a, **b)", "keyword unpacking"),
    ("out-keyword", "escape", "sqrt(a, out=b)", "out= (writing into an existing array)"),
    ("dict-display", "escape", "{1: a}", "a dict display"),
    ("set-display", "escape", "{a, b}", "a set display"),
    ("bytes", "escape", "b'abc'", "bytes constants are not allowed"),
    ("ellipsis", "escape", "...", "ellipsis constants are not allowed"),
    ("slice", "escape", "(a, b)[0:1]", "subscript index"),
    ("newaxis", "escape", "sqrt((a, b))[None]", "subscript index"),
    ("method-call", "escape", "sqrt(a).conjugate()", "only named functions"),
    # -- denial of service: huge numbers, sequences, nesting, work -------------------------
    ("power-tower", "dos", "10**10**10", "integer power"),
    ("power-of-huge", "dos", "(10**9999)**9999", "integer power"),
    ("power-chain", "dos", "2**2**2**2**2", "integer power"),
    ("nine-nines", "dos", "9**9**9", "integer power"),
    ("power-in-subscript", "dos", "(1, 2)[0] + (10**9999)**9999", "integer power"),
    ("shift", "dos", "1 << 10**9", "left shift"),
    ("shift-chain", "dos", "(1 << 19000) << 19000", "left shift"),
    ("big-product", "dos", "(10**5000) * (10**5000)", "integer product"),
    ("big-literal", "dos", "1" + "0" * 7000, "Exceeds the limit"),
    ("list-repeat", "dos", "sum([0] * 10**9)", "repeating a sequence"),
    ("tuple-repeat", "dos", "sum((1,) * 10**8)", "repeating a sequence"),
    ("repeat-twice", "dos", "sum([1] * 1000 * 1000)", "repeating a sequence"),
    ("string-repeat", "dos", "'a' * 10**9", "str constants are not allowed"),
    ("factorial", "dos", "factorial(10**6)", "factorial"),
    ("factorial-nested", "dos", "factorial(factorial(20))", "factorial"),
    ("numpy-bigint-square", "dos", "square(square(square(square(10**3000))))", "too large for array arithmetic"),
    ("broadcast-bomb", "dos", "sum(sqrt([[1]] * 1000) + sqrt([1] * 1000))", "inside a list or tuple"),
    ("conditional-tower", "dos", "1 if 10**10**10 else 0", "integer power"),
    ("call-tower", "dos", "max(10**10**10, a)", "integer power"),
    ("deep-unary", "dos", "-" * 500 + "a", "nesting deeper"),
    ("deep-calls", "dos", "sqrt(" * 250 + "a" + ")" * 250, "too many nested parentheses"),
    ("deep-power", "dos", "a**" * 300 + "a", "nesting deeper"),
    ("deep-not", "dos", "not " * 300 + "a", "nesting deeper"),
    ("deep-parens", "dos", "(" * 300 + "a" + ")" * 300, "invalid expression"),
    ("long-sum", "dos", "+".join(["a"] * 5001), "characters long"),
    ("float-overflow", "dos", "pow(10, 10**10)", "OverflowError"),
    ("non-finite", "dos", "1e308 * 10", "evaluated to inf"),
    # -- object arrays, shift counts, nesting that doubles, costly arguments -----------------
    ("object-array-power", "dos", "sum(add([2**70], 0) ** 10**9)", "evaluated to inf"),
    ("object-where-tower", "dos", "sum((where(1, [2**70], 0)**20000)**20000)", "evaluated to inf"),
    ("user-object-array", "dos", "sum(objs ** 10**9)", "arrays of object"),
    ("user-object-call", "dos", "sum(square(objs))", "arrays of object"),
    ("object-shift", "dos", "sum(where(1, [2**70], 0) << 10**9)", "left_shift"),
    ("array-shift-count", "dos", "sum(10**4000 << add([0], 19000))", "too large for array arithmetic"),
    ("frexp-nesting", "dos", "sum(" + "frexp(" * 16 + "xdata" + ")" * 17, "array elements"),
    ("modf-nesting", "dos", "sum(" + "modf(" * 40 + "a" + ")" * 41, "array elements"),
    ("outer-broadcast", "dos", "sum(col * xdata + col * xdata)", "array elements"),
    ("list-of-arrays", "dos", "sum(add([xdata] * 1000, [xdata] * 1000) * 2 * 2)", "array elements"),
    ("round-huge-decimals", "dos", "round(a, -2147483647)", "outside [-308, 308]"),
    ("round-int-decimals", "dos", "round(1, -10**7)", "outside [-308, 308]"),
    ("round-array-decimals", "dos", "sum(round(xdata, 2147483647))", "outside [-308, 308]"),
    ("float-decimals", "dos", "round(a, 0.5)", "decimals must be an integer"),
    ("array-index", "dos", "sum(xdata[xdata])", "subscript index must be an integer"),
    # -- writing into the user's data: positional out, overwrite_input, any keyword --------------
    ("out-positional-multiply", "write", "sum(multiply(xdata, 0, xdata))", "takes at most 2 positional"),
    ("out-positional-negative", "write", "sum(negative(xdata, xdata))", "takes at most 1 positional"),
    ("out-positional-round", "write", "sum(round(xdata, 0, xdata))", "takes at most 2 positional"),
    ("out-positional-around", "write", "sum(around(xdata, 0, xdata))", "takes at most 2 positional"),
    ("overwrite-input", "write", "median(xdata, overwrite_input=True)", "takes no argument 'overwrite_input'"),
    ("out-positional-sum", "write", "sum(xdata, 0, None, xdata)", "takes at most 2 positional"),
    ("out-positional-mean", "write", "mean(xdata, 0, None, xdata)", "takes at most 2 positional"),
    ("out-positional-std", "write", "std(xdata, 0, None, xdata)", "takes at most 2 positional"),
    ("out-positional-amax", "write", "amax(xdata, 0, xdata)", "takes at most 2 positional"),
    ("out-positional-median", "write", "median(xdata, 0, xdata)", "takes at most 2 positional"),
    ("out-positional-clip", "write", "sum(clip(xdata, 0, 0, xdata))", "takes at most 3 positional"),
    ("out-positional-fix", "write", "sum(fix(xdata, xdata))", "takes at most 1 positional"),
    ("out-positional-isposinf", "write", "sum(isposinf(xdata, xdata))", "takes at most 1 positional"),
    ("out-positional-frexp", "write", "sum(frexp(xdata, xdata, xdata))", "takes at most 1 positional"),
    ("out-positional-modf", "write", "sum(modf(xdata, xdata, xdata))", "takes at most 1 positional"),
    ("out-keyword-ufunc", "write", "sum(add(xdata, 1, where=xdata))", "takes no argument 'where'"),
    ("dtype-keyword", "write", "sum(add(xdata, 1, dtype=int))", "takes no argument 'dtype'"),
    ("raw-user-ufunc", "write", "sum(rawadd(xdata, 0, xdata))", "read-only"),
    ("raw-ufunc-masked", "write", "sum(rawadd(mdata, 0, mdata))", "read-only"),
    ("masked-object-array", "dos", "sum(mobjs ** 10**9)", "arrays of object"),
    ("user-fraction-power", "dos", "(third + 1) ** 10**9", "OverflowError"),
]


def battery_fit(expr: str, xdata: np.ndarray, residual=None) -> fitcore.Minimizer:
    """A fit of a, b and ``c = expr`` whose symbol table holds the user's arrays and a raw numpy function."""
    p = fitcore.Parameters()
    p.add("a", value=1.0)
    p.add("b", value=2.0)
    p.add("c", expr=expr)
    fit = fitcore.Minimizer(residual or (lambda q: np.zeros(2)), p)
    fit.asteval.symtable.update(
        xdata=xdata,
        col=xdata.reshape(-1, 1),
        objs=np.array([2**70, 3], dtype=object),
        mdata=np.ma.masked_array(xdata),  # a view of the user's data (a subclass of ndarray)
        mobjs=np.ma.masked_array(np.array([2**70, 3], dtype=object)),
        third=Fraction(1, 3),
        rawadd=np.add,
    )
    return fit


def _limit_resources() -> None:
    """In the child: at most MEMORY_LIMIT more bytes of address space and CPU_LIMIT more CPU seconds."""
    with open("/proc/self/status") as status:
        vm_size = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm_size + MEMORY_LIMIT, resource.RLIM_INFINITY))
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = int(used.ru_utime + used.ru_stime) + CPU_LIMIT
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, resource.RLIM_INFINITY))


def _child(queue: mp.Queue[Any], target: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        _limit_resources()
        queue.put(("returned", target(*args)))
    except BaseException as exc:  # MemoryError too: the limit was reached, which the test reports
        queue.put(("raised", f"{type(exc).__name__}: {str(exc)[:3000]}"))


def in_child(target: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    """Run ``target(*args)`` in a forked child under the memory and CPU limits and the timeout.

    Returns ``("returned", value)``, ``("raised", "Type: message")`` or ``("killed", why)``.
    """
    fitcore.list_engines()  # load plugins and the symbol table once, in the parent, before forking
    base_symtable()
    ctx = mp.get_context("fork")
    queue: mp.Queue[Any] = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, target, args))
    proc.start()
    try:
        result = queue.get(timeout=TIMEOUT)
    except Exception:
        result = ("killed", f"no answer within {TIMEOUT} s (exit code {proc.exitcode})")
    proc.join(timeout=5)
    if proc.is_alive():
        proc.kill()
        proc.join()
    return result


def _attempt(expr: str) -> tuple[str, str, int, bool]:
    """Fit with ``c = expr``; return (error type, message, residual calls, XDATA intact)."""
    calls = [0]

    def residual(p):
        calls[0] += 1
        return np.array([p["a"].value - 1.0, p["b"].value - 2.0])

    xdata = XDATA.copy()
    try:
        battery_fit(expr, xdata, residual).minimize()
    except Exception as exc:
        return type(exc).__name__, str(exc), calls[0], bool(np.array_equal(xdata, XDATA))
    return "no error", "fit finished", calls[0], bool(np.array_equal(xdata, XDATA))


def run_attempt(expr: str) -> tuple[str, str, int, bool]:
    """Run one attempt in a resource-limited child; return (error type, message, residual calls, data intact)."""
    how, result = in_child(_attempt, expr)
    return result if how == "returned" else (how, result, -1, False)


@pytest.mark.parametrize("case", BATTERY, ids=[c[0] for c in BATTERY])
def test_malicious_expression_is_refused(case):
    """Each attempt raises ConstraintError naming the problem, before the residual runs, within the
    memory and CPU limits, and leaves the user's array unchanged."""
    _, _, expr, fragment = case
    kind, message, calls, intact = run_attempt(expr)
    assert kind == "ConstraintError", (kind, message)
    assert fragment in message, message
    assert calls == 0
    assert intact


def test_battery_is_large_enough():
    """The battery holds distinct attempts, escapes, DoS and writes all well represented."""
    assert len({c[2] for c in BATTERY}) == len(BATTERY) >= 100
    kinds = [c[1] for c in BATTERY]
    assert kinds.count("escape") >= 30 and kinds.count("dos") >= 30 and kinds.count("write") >= 15


def test_process_survives_the_whole_battery_in_process():
    """Run every attempt in this very process: each raises, the user's data is intact, and fits work after."""
    xdata = XDATA.copy()
    for _, _, expr, _ in BATTERY:
        with pytest.raises(fitcore.ConstraintError):
            battery_fit(expr, xdata).prepare_fit()
    assert np.array_equal(xdata, XDATA)
    p = fitcore.Parameters()
    p.add("a", value=3.0)
    p.add("c", expr="sqrt(a**2 + 16)")
    fitcore.Minimizer(lambda q: np.zeros(2), p).prepare_fit()
    assert p["c"].value == 5.0


@pytest.mark.parametrize("case", [c for c in BATTERY if "unknown name" not in c[3] and c[1] == "escape"],
                         ids=lambda c: c[0])
def test_check_expression_refuses_syntax_without_parameters(case):
    """check_expression (used when loading files) refuses unsafe syntax with no Parameters at hand."""
    with pytest.raises(fitcore.ConstraintError):
        check_expression(case[2])


MANUAL_EXPRESSIONS = [
    ("1-frac_curve1", 0.75),
    ("(2.0 - amp_1**2)", 2.0 - 0.5**2),
    ("cen_1 * wid_1 / max(wid_1, 0.001)", 2.2),
    ("sqrt(pi)*wid_1", np.sqrt(np.pi) * 0.2),
    ("cen_1 if wid_1/2. > 100 else amp_1", 0.5),
    ("log1p(amp_1) + atan2(amp_1, 1) - hypot(3, 4)", np.log1p(0.5) + np.arctan2(0.5, 1) - 5.0),
    ("2**10 + (1 << 3) + 7 // 2 % 5 - (3 & 1 | 4 ^ 2) + ~1", 1024 + 8 + 3 - 7 - 2),
    ("sum([amp_1, cen_1, wid_1]) + mean((1, 3)) + fsum([0.1] * 10)", 2.9 + 2.0 + 1.0),
    ("(1, 2, 3)[1] * amp_1 + factorial(5)", 121.0),
    ("e + exp(0) + 10**30 / 10**30", np.e + 2.0),
]


@pytest.mark.parametrize("expr,expected", MANUAL_EXPRESSIONS)
def test_legitimate_expressions_still_work(expr, expected):
    """The manual's kinds of expressions, and the operators of section 5.2, evaluate to the right number."""
    p = fitcore.Parameters()
    p.add("frac_curve1", value=0.25)
    p.add("amp_1", value=0.5)
    p.add("cen_1", value=2.2)
    p.add("wid_1", value=0.2)
    p.add("out", expr=expr)
    fitcore.Minimizer(lambda q: np.zeros(5), p).prepare_fit()
    assert p["out"].value == pytest.approx(expected, rel=1e-12)


def test_user_functions_and_arrays_in_symtable():
    """Functions and arrays the user adds to Minimizer.asteval.symtable are usable (manual section 5.3)."""

    def lorentzian(x, amp, cen, wid):
        return amp / (1 + ((x - cen) / wid) ** 2)

    p = fitcore.Parameters()
    p.add("amp", value=2.0)
    p.add("peak", expr="lorentzian(1.0, amp, 1.0, 0.5)")
    p.add("third", expr="coeffs[2] * amp")
    fit = fitcore.Minimizer(lambda q: np.zeros(3), p)
    fit.asteval.symtable["lorentzian"] = lorentzian
    fit.asteval.symtable["coeffs"] = np.array([1.0, 2.0, 7.0])
    fit.prepare_fit()
    assert p["peak"].value == 2.0 and p["third"].value == 14.0


def test_interpreted_path_recovers_after_an_error():
    """After an expression fails in asteval, the next fit with the same Minimizer evaluates correctly."""
    p = fitcore.Parameters()
    p.add("a", value=0.0)
    p.add("b", expr="(10.0, 20.0)[0] / a")
    fit = fitcore.Minimizer(lambda q: np.zeros(2), p)
    with pytest.raises(fitcore.ConstraintError, match="ZeroDivisionError"):
        fit.prepare_fit()
    p["a"].value = 2.0
    fit.prepare_fit()
    assert p["b"].value == 5.0


def test_symbol_table_offers_no_unsafe_names():
    """The constraint symbol table holds no file, import, introspection or array-constructor names."""
    st = fitcore.Minimizer(lambda q: q, fitcore.Parameters()).asteval.symtable
    for name in ("open", "loadtxt", "genfromtxt", "fromfile", "type", "getattr", "eval", "exec", "range",
                 "arange", "ones", "zeros", "outer", "repeat", "tile", "vectorize", "seterr", "print", "id"):
        assert name not in st, name


def test_check_expression_returns_the_names_used():
    """check_expression returns every name an expression refers to, for resolving later."""
    assert check_expression("a + sqrt(b) * c[0]") == {"a", "b", "c", "sqrt"}
    with pytest.raises(fitcore.ConstraintError, match="characters long"):
        check_expression("a" * (MAX_EXPR_LENGTH + 1))


# -- growth per nesting level, and a fuzz of random expressions -------------------------------------
def _nesting(func: str, levels: range) -> list[str]:
    """Evaluate sum(func(func(...(a)...))) for each depth; return 'value' or the refusal's message per depth."""
    out = []
    for n in levels:
        try:
            battery_fit("sum(" + f"{func}(" * n + "a" + ")" * (n + 1), XDATA.copy()).prepare_fit()
            out.append("value")
        except fitcore.ConstraintError as exc:
            out.append(str(exc))
    return out


@pytest.mark.parametrize("func", ["frexp", "modf"])
def test_growth_per_nesting_level_is_refused_before_it_is_built(func):
    """Each nested frexp/modf doubles the array; the depth whose result would exceed its share of
    MAX_ELEMENTS is refused before it is built (in a child with memory and CPU limits), all depths below
    evaluate."""
    levels = range(1, 41)
    how, outcomes = in_child(_nesting, func, levels)
    assert how == "returned", outcomes
    for n, outcome in zip(levels, outcomes):
        too_big = 2**n > MAX_ELEMENTS // (n + 1)  # n calls of func and one of sum share the budget
        if too_big:
            assert "refused: an operation on" in outcome and "array elements" in outcome, (n, outcome)
        else:
            assert outcome == "value", (n, outcome)
    assert outcomes.count("value") >= 15


_ATOMS = ["a", "b", "xdata", "col", "objs", "0", "1", "-1", "0.5", "2**70", "10**300", "-2147483647", "10**9",
          "[2**70]", "[a, b]", "(xdata, xdata)", "None", "True", "[xdata] * 3", "(1, 2)"]
_FUNCTIONS = sorted(SAFE_SYMBOLS - {"e", "pi", "inf", "nan"}) + ["rawadd"]
_KEYWORDS = ["", "", "", ", out=xdata", ", overwrite_input=True", ", axis=0", ", axis=xdata", ", dtype=int",
             ", decimals=-10**7", ", ddof=1", ", where=xdata", ", weights=xdata", ", casting=1"]
_OPERATORS = ["+", "-", "*", "/", "//", "%", "**", "<<", ">>", "&", "|", "^", "<", "==", "in", "is", "and", "or"]


def _expressions() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        call = st.tuples(st.sampled_from(_FUNCTIONS), st.lists(inner, max_size=4), st.sampled_from(_KEYWORDS)).map(
            lambda t: f"{t[0]}({', '.join(t[1])}{t[2] if t[1] else ''})")
        binop = st.tuples(inner, st.sampled_from(_OPERATORS), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
        unary = st.tuples(st.sampled_from(["-", "~", "not ", "+"]), inner).map(lambda t: f"({t[0]}{t[1]})")
        index = st.tuples(inner, st.sampled_from(["0", "-1", "a", "b"])).map(lambda t: f"({t[0]})[{t[1]}]")
        nested = st.tuples(st.sampled_from(["frexp", "modf", "square", "negative", "sum"]), st.integers(1, 30),
                           inner).map(lambda t: f"{t[0]}(" * t[1] + t[2] + ")" * t[1])
        choice = st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})")
        return st.one_of(call, binop, unary, index, nested, choice)

    return st.recursive(st.sampled_from(_ATOMS), extend, max_leaves=12)


def _fuzz(examples: int) -> str:
    """Evaluate random expressions; return 'ok' or what went wrong (hypothesis's falsifying example)."""
    warnings.simplefilter("ignore")  # numpy's overflow warnings are part of the game
    seen = [0]

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(_expressions())
    def check(expr):
        xdata = XDATA.copy()
        seen[0] += 1
        try:
            battery_fit(expr, xdata).prepare_fit()
        except fitcore.ConstraintError as exc:
            assert "MemoryError" not in str(exc) and "RecursionError" not in str(exc), (expr, str(exc))
        assert np.array_equal(xdata, XDATA), expr
        assert xdata.flags.writeable

    try:
        check()
    except BaseException as exc:
        notes = "; ".join(getattr(exc, "__notes__", []))
        return f"{type(exc).__name__}: {exc} {notes}"
    return f"ok ({seen[0]} expressions)"


def test_fuzz_random_expressions_write_nothing_and_stay_bounded():
    """Random expressions over the user's arrays, object arrays, big integers, out/overwrite/dtype keywords,
    deep nesting and every sandboxed function: each evaluates or raises ConstraintError (never a
    MemoryError), the user's array is unchanged, and the whole run stays within the child's memory and
    CPU limits."""
    how, result = in_child(_fuzz, 400)
    assert how == "returned", result
    assert result.startswith("ok"), result


# -- the table in docs/robustness.md -------------------------------------------------------
START, END = "<!-- battery:start -->", "<!-- battery:end -->"


def _cell(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text.replace("|", "\\|")


def render_table() -> str:
    """The battery as a markdown table: each attempt and the error it produces (run in-process)."""
    rows = ["| # | id | kind | expression | error |", "|---|---|---|---|---|"]
    for i, (cid, kind, expr, _) in enumerate(BATTERY, 1):
        try:
            battery_fit(expr, XDATA.copy()).prepare_fit()
            error = "NOT REFUSED"
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}".replace(show_expression(expr), "<expr>")
        rows.append(f"| {i} | {cid} | {kind} | `{_cell(expr, 50)}` | {_cell(error, 200)} |")
    return "\n".join(rows)


def test_docs_list_the_battery():
    """docs/robustness.md has one row per attempt, in order, with its expression and the refusal's words."""
    text = DOC.read_text()
    rows = text[text.index(START) + len(START): text.index(END)].strip().splitlines()[2:]
    assert len(rows) == len(BATTERY), "run: python tests/test_expressions_security.py"
    for row, (cid, kind, expr, fragment) in zip(rows, BATTERY):
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        assert cells[1:4] == [cid, kind, f"`{_cell(expr, 50)}`"], "run: python tests/test_expressions_security.py"
        assert cells[4].startswith("ConstraintError:") and _cell(fragment) in cells[4], cid


if __name__ == "__main__":
    text = DOC.read_text()
    new = text[: text.index(START) + len(START)] + "\n" + render_table() + "\n" + text[text.index(END):]
    DOC.write_text(new)
    print(f"wrote {len(BATTERY)} rows to {DOC}", file=sys.stderr)
