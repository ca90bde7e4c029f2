"""Constraint expressions: parse once per fit, evaluate in dependency order every step.

Expressions are parsed by asteval (the manual's interpreter, which also holds
the symbol table users extend through ``Minimizer.asteval.symtable``). A parsed
expression that uses only arithmetic, comparisons, conditionals and calls of
plain names is then compiled once to a Python code object and evaluated with
no builtins and guarded power/shift/repeat operators: about ten times faster
than walking the tree, and it cannot reach attributes or dunder names because
such nodes are refused before compilation. Expressions with subscripts are
evaluated by asteval itself, whose ``**``, ``<<`` and ``*`` carry the same guards.

Expressions may come from files written by other people, so every expression
is checked against a whitelist of syntax before anything else happens (see
:func:`check_expression`): one expression of numbers, names, operators,
conditionals, calls of named functions, flat lists/tuples and simple
subscripts. Attribute access, names starting with ``_``, strings, lambdas,
comprehensions, f-strings, starred arguments and nesting deeper than
:data:`MAX_DEPTH` are refused with a :class:`ConstraintError` before any
evaluation. The symbol table offers only numeric functions (no file access,
no introspection, no array constructors), and every operation or function
that could build an unboundedly large number, string or array is guarded.
"""

from __future__ import annotations

import ast
import copy
import math
import numbers
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConstraintError, did_you_mean

if TYPE_CHECKING:
    from asteval import Interpreter

    from .parameters import Parameter, Parameters

__all__ = [
    "make_interpreter",
    "base_symtable",
    "parse",
    "check_expression",
    "Constraints",
    "UNSAFE_SYMBOLS",
    "SAFE_SYMBOLS",
]

#: Symbols removed from every constraint interpreter: they reach files, the
#: interpreter or introspection, none of which an expression needs.
UNSAFE_SYMBOLS = frozenset({"open", "print", "dir", "help", "input", "exit", "quit", "locals", "globals", "vars"})

#: The only names of asteval's symbol table that constraint expressions see: numeric
#: functions and constants. Array constructors (``ones``, ``arange``, ``outer``...),
#: file readers (``loadtxt``, ``fromfile``...), introspection (``type``, ``id``...)
#: and iterators (``range``, ``map``...) are left out. Functions added by the user to
#: ``Minimizer.asteval.symtable`` are the user's own and are available too.
SAFE_SYMBOLS = frozenset("""
    e pi inf nan
    abs max min round around fsum sum mean average median std var amax amin nanmax nanmin nansum
    float int bool factorial pow power sqrt square exp exp2 expm1 log ln log10 log1p log2
    logaddexp logaddexp2 sin cos tan asin acos atan atan2 arcsin arccos arctan arctan2
    sinh cosh tanh asinh acosh atanh arcsinh arccosh arctanh hypot degrees radians deg2rad rad2deg
    ceil floor trunc rint fix fabs sign signbit copysign fmod mod remainder modf frexp ldexp
    nextafter spacing sinc clip where maximum minimum fmax fmin add subtract multiply divide
    true_divide floor_divide negative reciprocal isfinite isinf isnan isposinf isneginf
    real imag conjugate angle greater greater_equal less less_equal equal not_equal
    logical_and logical_or logical_not logical_xor all any
""".split())

#: numpy functions that, handed Python big integers, compute in object mode with unbounded growth
#: (``square(square(...(10**300)))``); only these are wrapped, the others cost nothing extra
_GROWING = frozenset({"square", "multiply", "power"})
MAX_INT_BITS = 20_000  #: largest integer an expression may build (about 6,000 digits; floats end at 1024 bits)
MAX_SEQ_LEN = 1_000  #: largest list or tuple an expression may build by repetition
MAX_DEPTH = 200  #: deepest nesting of an expression's syntax tree
MAX_FACTORIAL = 1_000  #: largest argument of factorial()
_INT64 = 2**63


def _show(expr: Any, limit: int = 80) -> str:
    """``repr(expr)``, shortened for error messages (expressions may be up to 10,000 characters)."""
    text = repr(expr)
    return text if len(text) <= limit else text[: limit - 5] + "...'" + f" ({len(expr)} characters)"


def _refuse(message: str) -> ConstraintError:
    return ConstraintError("refused: " + message)


def safe_pow(base: Any, exp: Any) -> Any:
    """``base ** exp``, refusing integer results too large to compute quickly."""
    if type(base) is float or type(exp) is float:  # the common case: a float result cannot grow unboundedly
        return base**exp
    if isinstance(base, numbers.Integral) and isinstance(exp, numbers.Integral) and exp > 0:
        if abs(int(base)) > 1 and int(exp) * int(base).bit_length() > MAX_INT_BITS:
            raise _refuse(f"an integer power would build an integer of more than {MAX_INT_BITS} bits")
    elif isinstance(exp, np.ndarray) and exp.dtype.kind in "iu" and exp.size and np.max(exp) > MAX_INT_BITS:
        raise _refuse("integer power with an exponent array too large")
    return base**exp


def safe_lshift(a: Any, b: Any) -> Any:
    """``a << b``, refusing shifts that build huge integers."""
    if isinstance(b, numbers.Integral) and b > 0:
        bits = int(a).bit_length() if isinstance(a, numbers.Integral) else 64
        if bits + int(b) > MAX_INT_BITS:
            raise _refuse(f"a left shift would build an integer of more than {MAX_INT_BITS} bits")
    return a << b


def safe_mult(a: Any, b: Any) -> Any:
    """``a * b``, refusing repetition of a sequence into a huge one."""
    if type(a) is float or type(b) is float:  # the common case: no sequence repetition, no integer growth
        return a * b
    for seq, n in ((a, b), (b, a)):
        if isinstance(seq, (str, bytes, list, tuple)) and isinstance(n, numbers.Integral):
            if len(seq) * int(n) > MAX_SEQ_LEN:
                raise _refuse(f"repeating a sequence to more than {MAX_SEQ_LEN} items")
    if isinstance(a, numbers.Integral) and isinstance(b, numbers.Integral):
        if int(a).bit_length() + int(b).bit_length() > MAX_INT_BITS:
            raise _refuse(f"an integer product of more than {MAX_INT_BITS} bits")
    return a * b


def safe_factorial(n: Any) -> Any:
    """``math.factorial(n)`` for ``n <= MAX_FACTORIAL`` (anything above 170 overflows a float anyway)."""
    if isinstance(n, numbers.Number) and not n <= MAX_FACTORIAL:
        raise _refuse(f"factorial({n}) (limit {MAX_FACTORIAL})")
    return math.factorial(n)


def _tame(arg: Any) -> Any:
    """Hand numpy only machine numbers: big ints become floats, object arrays are refused."""
    kind = type(arg)
    if kind is int:
        return arg if -_INT64 <= arg < _INT64 else float(arg)
    if kind is list or kind is tuple:
        return [_tame(a) if type(a) is int else a for a in arg]
    if kind is np.ndarray and arg.dtype.kind == "O":
        raise _refuse("arrays of Python objects")
    return arg


def _numeric(func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a numpy function so Python big integers never reach its object-dtype loops.

    Calls with plain float arguments (parameter values) go straight through.
    """
    name = getattr(func, "__name__", "function")

    def checked(args: tuple[Any, ...], kws: dict[str, Any]) -> Any:
        out = func(*map(_tame, args), **{k: _tame(v) for k, v in kws.items()})
        if type(out) is np.ndarray and out.dtype.kind == "O":
            raise _refuse(f"{name}() built an array of Python objects")
        return out

    def guarded(*args: Any, **kws: Any) -> Any:
        if kws:
            return checked(args, kws)
        for a in args:
            if type(a) is not float:
                return checked(args, kws)
        return func(*args)

    guarded.__name__ = name
    guarded.__doc__ = getattr(func, "__doc__", None)
    guarded.__wrapped__ = func  # type: ignore[attr-defined]
    return guarded


_GUARDS = {ast.Pow: "_fc_pow", ast.LShift: "_fc_lshift", ast.Mult: "_fc_mult"}
_GLOBALS: dict[str, Any] = {"__builtins__": {}, "_fc_pow": safe_pow, "_fc_lshift": safe_lshift, "_fc_mult": safe_mult}
_BINOP_GUARDS = {ast.Pow: safe_pow, ast.LShift: safe_lshift, ast.Mult: safe_mult}

_ALLOWED = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call, ast.Name,
    ast.Constant, ast.Tuple, ast.List, ast.Load, ast.keyword,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift, ast.RShift,
    ast.BitOr, ast.BitXor, ast.BitAnd, ast.UAdd, ast.USub, ast.Not, ast.Invert, ast.And, ast.Or,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
)  # fmt: skip

#: syntax a constraint expression may use at all (the fast path's plus subscripts)
_SAFE = _ALLOWED + (ast.Module, ast.Expr, ast.Subscript)

#: what the refusal of each other node says
_REFUSED = {
    ast.Attribute: "attribute access (x.attr)",
    ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator expression",
    ast.NamedExpr: "an assignment expression (:=)",
    ast.JoinedStr: "an f-string",
    ast.FormattedValue: "an f-string",
    ast.Starred: "a starred argument (*x)",
    ast.Dict: "a dict display",
    ast.Set: "a set display",
    ast.Slice: "a slice",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}


def check_expression(expr: str) -> frozenset[str]:
    """Check that ``expr`` is a safe constraint expression; return the names it uses.

    Parses ``expr`` (cached) and applies the same checks as a fit, except that
    names are not resolved (that needs the Parameters and the symbol table).
    Use it to vet expressions from untrusted files before building Parameters.

    Raises
    ------
    ConstraintError
        When ``expr`` is not one valid expression, is too long or too deep, or
        uses syntax a constraint may not use (the message says which).
    """
    if not isinstance(expr, str):
        raise ConstraintError(f"an expression must be a string, not {type(expr).__name__}", None, None)
    try:
        tree, _ = parse(expr)
    except ConstraintError as exc:
        raise ConstraintError(f"expression {_show(expr)} {exc}", None, expr) from None
    except SyntaxError as exc:
        raise ConstraintError(f"invalid expression {_show(expr)}: {exc.msg}", None, expr) from None
    except Exception as exc:
        raise ConstraintError(f"expression {_show(expr)} refused: {exc}", None, expr) from None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        raise ConstraintError(f"{_show(expr)} is not a single expression", None, expr)
    return frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))


def _validate(tree: ast.Module) -> None:
    """Refuse any syntax a constraint expression has no use for (see the module docstring)."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return  # reported as "not a single expression" by the caller
    stack: list[tuple[ast.AST, int, bool]] = [(tree.body[0].value, 1, False)]
    while stack:
        node, depth, in_seq = stack.pop()
        if depth > MAX_DEPTH:
            raise _refuse(f"nesting deeper than {MAX_DEPTH} levels")
        if not isinstance(node, _SAFE):
            what = _REFUSED.get(type(node), f"{type(node).__name__} syntax")
            raise _refuse(f"{what} is not allowed in a constraint expression")
        if isinstance(node, ast.Name):
            if node.id.startswith("_"):
                raise _refuse(f"name {node.id!r}: names starting with '_' are not allowed")
            if not isinstance(node.ctx, ast.Load):
                raise _refuse("assignment is not allowed in a constraint expression")
        elif isinstance(node, ast.Constant):
            val = node.value
            if isinstance(val, bool) or val is None or isinstance(val, (float, complex)):
                pass
            elif isinstance(val, int):
                if val.bit_length() > MAX_INT_BITS:
                    raise _refuse(f"an integer literal of more than {MAX_INT_BITS} bits")
            else:
                raise _refuse(f"{type(val).__name__} constants are not allowed (a constraint computes a number)")
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise _refuse("only named functions may be called, as in sqrt(x)")
            if any(k.arg is None for k in node.keywords):
                raise _refuse("**keyword unpacking is not allowed")
            if any(k.arg == "out" for k in node.keywords):
                raise _refuse("out= (writing into an existing array) is not allowed")
        elif isinstance(node, (ast.List, ast.Tuple)):
            if in_seq:
                raise _refuse("a list or tuple inside a list or tuple is not allowed")
            if not isinstance(node.ctx, ast.Load):
                raise _refuse("assignment is not allowed in a constraint expression")
        elif isinstance(node, ast.Subscript):
            index = node.slice
            if isinstance(index, ast.UnaryOp) and isinstance(index.op, ast.USub):
                index = index.operand
            simple = isinstance(index, ast.Name) or (
                isinstance(index, ast.Constant) and type(index.value) is int
            )
            if not simple:
                raise _refuse("a subscript index must be an integer or a name, as in x[0]")
        child_in_seq = in_seq or isinstance(node, (ast.List, ast.Tuple))
        for child in ast.iter_child_nodes(node):
            stack.append((child, depth + 1, child_in_seq))


_TEMPLATE: dict[str, Any] | None = None
_PARSED: dict[str, tuple[ast.Module, Any]] = {}
_PARSED_MAX = 4096
MAX_EXPR_LENGTH = 10_000  #: longest constraint expression accepted, in characters


def base_symtable() -> dict[str, Any]:
    """Return a fresh copy of the constraint symbol table (numeric functions and constants).

    Only the names in :data:`SAFE_SYMBOLS` are kept from asteval's table;
    the numpy functions that could grow Python big integers without bound
    (``square``, ``multiply``, ``power``) are wrapped so that big integers
    never reach their object loops, and ``factorial`` and ``pow`` are bounded. The template is
    built once per process; copying it is cheap, so every fit gets its own
    table and concurrent fits share no state.
    """
    global _TEMPLATE
    if _TEMPLATE is None:
        from asteval import make_symbol_table

        full = make_symbol_table(use_numpy=True)
        table: dict[str, Any] = {}
        for name in sorted(SAFE_SYMBOLS & set(full)):
            val = full[name]
            if name in _GROWING:
                val = _numeric(val)
            table[name] = val
        table["factorial"] = safe_factorial
        table["pow"] = math.pow
        _TEMPLATE = table
    return dict(_TEMPLATE)


def make_interpreter(symtable: dict[str, Any] | None = None) -> Interpreter:
    """Return an asteval Interpreter for constraint expressions.

    It has the math functions and constants of the manual (``sqrt``, ``exp``,
    ``log1p``, ``pi``, ``e``, ...) and numpy's elementwise functions, none of the
    symbols in :data:`UNSAFE_SYMBOLS`, and the same guarded ``**``, ``<<`` and
    ``*`` as compiled expressions.
    """
    from asteval import Interpreter

    interp = Interpreter(symtable=base_symtable() if symtable is None else symtable, use_numpy=True,
                         max_statement_length=MAX_EXPR_LENGTH)
    for name in UNSAFE_SYMBOLS:
        interp.symtable.pop(name, None)
    plain = interp.node_handlers["binop"]

    def on_binop(node: ast.BinOp) -> Any:
        guard = _BINOP_GUARDS.get(type(node.op))
        if guard is None:
            return plain(node)
        return guard(interp.run(node.left), interp.run(node.right))

    interp.node_handlers["binop"] = on_binop
    return interp


def parse(expr: str) -> tuple[ast.Module, Any]:
    """Parse and check ``expr`` (cached per process) into its AST and, for plain arithmetic, compiled code.

    Raises
    ------
    SyntaxError
        When ``expr`` is not valid Python.
    ValueError
        When ``expr`` is longer than :data:`MAX_EXPR_LENGTH`.
    ConstraintError
        When ``expr`` uses syntax a constraint may not use (see :func:`check_expression`).
    """
    hit = _PARSED.get(expr)
    if hit is not None:
        return hit
    if len(expr) > MAX_EXPR_LENGTH:
        raise ValueError(f"expression is {len(expr)} characters long; the limit is {MAX_EXPR_LENGTH}")
    tree = ast.parse(expr)
    _validate(tree)
    tree = ast.fix_missing_locations(tree)
    code = None
    if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
        code = _fast_code(copy.deepcopy(tree.body[0].value))
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[expr] = (tree, code)
    return tree, code


_NAMES: dict[str, frozenset[str]] = {}
#: (parameter names, (name, expr) of the expression parameters) -> parse, order and inputs (see Constraints)
_PLANS: dict[Any, Any] = {}


def _names(expr: str, tree: ast.AST) -> frozenset[str]:
    """The names ``expr`` uses (cached per process with its parse: a fit re-walks no tree)."""
    hit = _NAMES.get(expr)
    if hit is None:
        if len(_NAMES) >= _PARSED_MAX:
            _NAMES.clear()
        hit = _NAMES[expr] = frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))
    return hit


class _Guard(ast.NodeTransformer):
    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        guard = _GUARDS.get(type(node.op))
        if guard is None:
            return node
        return ast.copy_location(ast.Call(ast.Name(guard, ast.Load()), [node.left, node.right], []), node)


def _fast_code(expr_node: ast.expr) -> Any | None:
    """Compile ``expr_node`` for direct evaluation, or return None if it is not plain arithmetic."""
    for node in ast.walk(expr_node):
        if not isinstance(node, _ALLOWED):
            return None
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            return None
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, complex, bool, type(None))):
            return None
        if isinstance(node, ast.Call) and not isinstance(node.func, ast.Name):
            return None
        if isinstance(node, ast.keyword) and node.arg is None:
            return None
    tree = ast.Expression(_Guard().visit(expr_node))
    ast.fix_missing_locations(tree)
    return compile(tree, "<constraint>", "eval")


class _Compiled:
    __slots__ = ("name", "par", "expr", "tree", "code", "deps")

    def __init__(self, name: str, par: Parameter, expr: str, tree: ast.Module, code: Any, deps: set[str]) -> None:
        self.name, self.par, self.expr, self.tree, self.code, self.deps = name, par, expr, tree, code, deps


class Constraints:
    """The constraint expressions of one Parameters set, compiled for one fit.

    Parameters
    ----------
    params : Parameters
        The parameter set; every parameter with ``expr`` is compiled.
    symtable : dict
        Functions and constants the expressions may use; parameter values are
        written into it at each evaluation.
    interpreter : callable
        Returns the asteval Interpreter (over ``symtable``) that evaluates
        expressions beyond plain arithmetic; called only if one needs it.

    Raises
    ------
    ConstraintError
        For a syntax error, an unknown symbol, a self-reference or a cycle,
        naming the parameter and the symbol or cycle.
    """

    def __init__(self, params: Parameters, symtable: dict[str, Any],
                 interpreter: Callable[[], Interpreter]) -> None:
        self.symtable = symtable
        self._interpreter = interpreter
        self.interp: Interpreter | None = None
        names = tuple(params)
        exprs_list = []  # plain loops here: this runs once per fit, when fitcore's code is out of the caches
        for name, par in params.items():
            if par._expr is None:
                continue
            exprs_list.append((name, par._expr))
            if par._vary:
                raise ConstraintError(
                    f"parameter {name!r} has expr={_show(par.expr)} and vary=True: an expression parameter is "
                    "computed, not fitted; set vary=False or remove the expression",
                    name,
                    par.expr,
                )
        exprs = tuple(exprs_list)
        key = (names, exprs)
        plan = _PLANS.get(key)
        if plan is None:
            plan = self._plan(params, exprs)
            if len(_PLANS) >= _PARSED_MAX:
                _PLANS.clear()
            _PLANS[key] = plan
        order, input_names, symbols, input_set = plan
        #: names of the non-expression parameters the expressions read
        self.input_set: frozenset[str] = input_set
        for sym, name, expr in symbols:  # the symbol table is the user's and may have changed since
            if sym not in self.symtable and sym not in params:
                known = list(params) + [k for k in self.symtable if not k.startswith("_")]
                raise ConstraintError(
                    f"parameter {name!r}: unknown name {sym!r} in expression {_show(expr)}."
                    f"{did_you_mean(sym, known)} Parameters are: {', '.join(params)}",
                    name,
                    expr,
                )
        self.ordered: list[_Compiled] = []
        interpreted = False
        for name, expr, tree, code, deps in order:
            self.ordered.append(_Compiled(name, params[name], expr, tree, code, deps))
            interpreted = interpreted or code is None
        self.inputs: list[tuple[str, Parameter]] = []
        for n in input_names:
            self.inputs.append((n, params[n]))
        if interpreted:
            self.interp = interpreter()

    def _plan(self, params: Parameters, exprs: tuple[tuple[str, str], ...]) -> tuple[Any, ...]:
        """Parse, check names, order: what depends only on the parameter names and expressions (cached)."""
        compiled: dict[str, _Compiled] = {}
        inputs: set[str] = set()
        symbols_used: list[tuple[str, str, str]] = []
        for name, expr in exprs:
            tree, code = self._parse(name, expr)
            symbols = _names(expr, tree)
            for sym in sorted(symbols):
                if sym not in params:
                    symbols_used.append((sym, name, expr))
            deps = {s for s in symbols if s in params}
            inputs |= {s for s in deps if params[s]._expr is None}
            compiled[name] = _Compiled(name, params[name], expr, tree, code, deps)
        order = [(c.name, c.expr, c.tree, c.code, c.deps) for c in self._order(compiled, params)]
        return order, [n for n in params if n in inputs], symbols_used, frozenset(inputs)

    def _parse(self, name: str, expr: str) -> tuple[ast.Module, Any]:
        try:
            tree, code = parse(expr)
        except SyntaxError as exc:
            raise ConstraintError(f"parameter {name!r}: invalid expression {_show(expr)}: {exc.msg}", name, expr) from None
        except ConstraintError as exc:  # unsafe syntax: the message starts with "refused:"
            raise ConstraintError(f"parameter {name!r}: expression {_show(expr)} {exc}", name, expr) from None
        except Exception as exc:  # over-long, or too deeply nested for the parser
            raise ConstraintError(f"parameter {name!r}: expression {_show(expr)} refused: {exc}", name, expr) from None
        if not isinstance(tree, ast.Module) or len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
            raise ConstraintError(
                f"parameter {name!r}: {_show(expr)} is not a single expression (statements, assignments and "
                "definitions belong in Minimizer.asteval, not in a constraint)",
                name,
                expr,
            )
        return tree, code

    @staticmethod
    def _order(compiled: dict[str, _Compiled], params: Parameters) -> list[_Compiled]:
        order: list[_Compiled] = []
        state: dict[str, int] = {}  # 1 = visiting, 2 = done

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = path[path.index(name):] + [name]
                what = "refers to itself" if len(cycle) == 2 else "is in a cycle " + " -> ".join(cycle)
                raise ConstraintError(
                    f"parameter {name!r} {what}: {_show(compiled[name].expr)}; expressions must form no cycle",
                    name,
                    compiled[name].expr,
                )
            state[name] = 1
            for dep in sorted(compiled[name].deps):
                if dep in compiled:
                    visit(dep, path + [name])
            state[name] = 2
            order.append(compiled[name])

        for name in params:
            if name in compiled:
                visit(name, [])
        visit = None  # type: ignore[assignment]  # break the closure's reference to itself (no cycle for the GC)
        return order

    def __len__(self) -> int:
        return len(self.ordered)

    def evaluate(self) -> None:
        """Evaluate every expression in dependency order, writing each parameter's value."""
        st = self.symtable
        for name, par in self.inputs:
            st[name] = par._value
        for c in self.ordered:
            try:
                if c.code is not None:
                    val = eval(c.code, _GLOBALS, st)
                else:
                    val = self._interpret(c)
                fval = float(val)
            except ConstraintError as exc:
                raise ConstraintError(f"parameter {c.name!r}: {exc} in {_show(c.expr)}", c.name, c.expr) from None
            except Exception as exc:
                raise ConstraintError(
                    f"parameter {c.name!r}: evaluating {_show(c.expr)} failed with {type(exc).__name__}: {exc} "
                    f"(inputs: {self._input_values()})",
                    c.name,
                    c.expr,
                ) from None
            if not math.isfinite(fval):
                raise ConstraintError(
                    f"parameter {c.name!r}: {_show(c.expr)} evaluated to {fval} (inputs: {self._input_values()})",
                    c.name,
                    c.expr,
                )
            c.par._value = fval
            st[c.name] = fval

    def _interpret(self, c: _Compiled) -> Any:
        """Evaluate one expression with asteval, from a clean error state, raising the original error."""
        interp = self.interp
        assert interp is not None
        interp.error, interp._interrupt, interp.retval, interp.expr = [], None, None, c.expr
        raised: BaseException | None = None
        try:
            val = interp.run(c.tree, with_raise=True)
        except Exception as exc:
            raised = exc
        errors, interp.error, interp._interrupt = interp.error, [], None
        if raised is None and not errors:
            return val
        for err in errors:
            original = err.exc_info[1] if err.exc_info else None
            if isinstance(original, Exception):
                raise original
        raise raised if raised is not None else RuntimeError(str(errors[0].msg))

    def _input_values(self) -> str:
        return ", ".join(f"{n}={p._value!r}" for n, p in self.inputs)

    def names(self) -> Iterable[str]:
        """Names of the expression parameters, in evaluation order."""
        return [c.name for c in self.ordered]
