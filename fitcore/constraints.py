"""Constraint expressions: parse once per fit, evaluate in dependency order every step.

Expressions are parsed by asteval (the manual's interpreter, which also holds
the symbol table users extend through ``Minimizer.asteval.symtable``). A parsed
expression that uses only arithmetic, comparisons, conditionals and calls of
plain names is then compiled once to a Python code object and evaluated with
no builtins and guarded power/shift/repeat operators: about ten times faster
than walking the tree, and it cannot reach attributes or dunder names because
such nodes are refused before compilation. Anything else asteval accepts is
evaluated by asteval itself.
"""

from __future__ import annotations

import ast
import copy
import math
import numbers
from typing import TYPE_CHECKING, Any, Callable, Iterable

import numpy as np

from .errors import ConstraintError, did_you_mean

if TYPE_CHECKING:
    from asteval import Interpreter

    from .parameters import Parameter, Parameters

__all__ = ["make_interpreter", "base_symtable", "parse", "Constraints", "UNSAFE_SYMBOLS"]

#: Symbols removed from every constraint interpreter: they reach files, the
#: interpreter or introspection, none of which an expression needs.
UNSAFE_SYMBOLS = frozenset({"open", "print", "dir", "help", "input", "exit", "quit", "locals", "globals", "vars"})

MAX_INT_BITS = 100_000  #: largest integer an expression may build with ** or << (about 30,000 digits)
MAX_SEQ_LEN = 1_000_000  #: largest string/list an expression may build by repetition


def safe_pow(base: Any, exp: Any) -> Any:
    """``base ** exp``, refusing integer results too large to compute quickly."""
    if isinstance(base, numbers.Integral) and isinstance(exp, numbers.Integral) and exp > 0:
        if abs(int(base)) > 1 and int(exp) * int(base).bit_length() > MAX_INT_BITS:
            raise ConstraintError(f"refused: {base}**{exp} would build an integer of more than {MAX_INT_BITS} bits")
    elif isinstance(exp, np.ndarray) and exp.dtype.kind in "iu" and exp.size and np.max(exp) > MAX_INT_BITS:
        raise ConstraintError("refused: integer power with an exponent array too large")
    return base**exp


def safe_lshift(a: Any, b: Any) -> Any:
    """``a << b``, refusing shifts that build huge integers."""
    if isinstance(b, numbers.Integral) and b > MAX_INT_BITS:
        raise ConstraintError(f"refused: left shift by {b} bits (limit {MAX_INT_BITS})")
    return a << b


def safe_mult(a: Any, b: Any) -> Any:
    """``a * b``, refusing repetition of a sequence into a huge one."""
    for seq, n in ((a, b), (b, a)):
        if isinstance(seq, (str, bytes, list, tuple)) and isinstance(n, numbers.Integral):
            if len(seq) * int(n) > MAX_SEQ_LEN:
                raise ConstraintError(f"refused: repeating a sequence to more than {MAX_SEQ_LEN} items")
    if isinstance(a, numbers.Integral) and isinstance(b, numbers.Integral):
        if int(a).bit_length() + int(b).bit_length() > MAX_INT_BITS:
            raise ConstraintError(f"refused: integer product of more than {MAX_INT_BITS} bits")
    return a * b


_GUARDS = {ast.Pow: "_fc_pow", ast.LShift: "_fc_lshift", ast.Mult: "_fc_mult"}
_GLOBALS: dict[str, Any] = {"__builtins__": {}, "_fc_pow": safe_pow, "_fc_lshift": safe_lshift, "_fc_mult": safe_mult}

_ALLOWED = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call, ast.Name,
    ast.Constant, ast.Tuple, ast.List, ast.Load, ast.keyword,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift, ast.RShift,
    ast.BitOr, ast.BitXor, ast.BitAnd, ast.UAdd, ast.USub, ast.Not, ast.Invert, ast.And, ast.Or,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
)  # fmt: skip


_TEMPLATE: dict[str, Any] | None = None
_PARSED: dict[str, tuple[ast.Module, Any]] = {}
_PARSED_MAX = 4096
MAX_EXPR_LENGTH = 10_000  #: longest constraint expression accepted, in characters


def base_symtable() -> dict[str, Any]:
    """Return a fresh copy of the constraint symbol table (math, numpy, constants).

    The template is built once per process; copying it is cheap, so every fit
    gets its own table and concurrent fits share no state.
    """
    global _TEMPLATE
    if _TEMPLATE is None:
        from asteval import make_symbol_table

        table = make_symbol_table(use_numpy=True)
        for name in UNSAFE_SYMBOLS:
            table.pop(name, None)
        _TEMPLATE = table
    return dict(_TEMPLATE)


def make_interpreter(symtable: dict[str, Any] | None = None) -> "Interpreter":
    """Return an asteval Interpreter for constraint expressions.

    It has the math functions and constants of the manual (``sqrt``, ``exp``,
    ``log1p``, ``pi``, ``e``, ...) and numpy's, but none of the symbols in
    :data:`UNSAFE_SYMBOLS`.
    """
    from asteval import Interpreter

    interp = Interpreter(symtable=base_symtable() if symtable is None else symtable, use_numpy=True,
                         max_statement_length=MAX_EXPR_LENGTH)
    for name in UNSAFE_SYMBOLS:
        interp.symtable.pop(name, None)
    return interp


def parse(expr: str) -> tuple[ast.Module, Any]:
    """Parse ``expr`` (cached per process) into its AST and, for plain arithmetic, compiled code.

    Raises
    ------
    SyntaxError
        When ``expr`` is not valid Python.
    ValueError
        When ``expr`` is longer than :data:`MAX_EXPR_LENGTH`.
    """
    hit = _PARSED.get(expr)
    if hit is not None:
        return hit
    if len(expr) > MAX_EXPR_LENGTH:
        raise ValueError(f"expression is {len(expr)} characters long; the limit is {MAX_EXPR_LENGTH}")
    tree = ast.fix_missing_locations(ast.parse(expr))
    code = None
    if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
        code = _fast_code(copy.deepcopy(tree.body[0].value))
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[expr] = (tree, code)
    return tree, code


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

    def __init__(self, name: str, par: "Parameter", expr: str, tree: ast.Module, code: Any, deps: set[str]) -> None:
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

    def __init__(self, params: "Parameters", symtable: dict[str, Any],
                 interpreter: "Callable[[], Interpreter]") -> None:
        self.symtable = symtable
        self._interpreter = interpreter
        self.interp: "Interpreter | None" = None
        compiled: dict[str, _Compiled] = {}
        inputs: set[str] = set()
        for name, par in params.items():
            if par.expr is None:
                continue
            if par.vary:
                raise ConstraintError(
                    f"parameter {name!r} has expr={par.expr!r} and vary=True: an expression parameter is "
                    "computed, not fitted; set vary=False or remove the expression",
                    name,
                    par.expr,
                )
            tree, code = self._parse(name, par.expr)
            symbols = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
            for sym in sorted(symbols):
                if sym not in params and sym not in self.symtable:
                    known = list(params) + [k for k in self.symtable if not k.startswith("_")]
                    raise ConstraintError(
                        f"parameter {name!r}: unknown name {sym!r} in expression {par.expr!r}."
                        f"{did_you_mean(sym, known)} Parameters are: {', '.join(params)}",
                        name,
                        par.expr,
                    )
            deps = {s for s in symbols if s in params}
            inputs |= {s for s in deps if params[s].expr is None}
            compiled[name] = _Compiled(name, par, par.expr, tree, code, deps)
        self.ordered: list[_Compiled] = self._order(compiled, params)
        self.inputs: list[tuple[str, "Parameter"]] = [(n, params[n]) for n in params if n in inputs]
        if any(c.code is None for c in self.ordered):
            self.interp = interpreter()

    def _parse(self, name: str, expr: str) -> tuple[ast.Module, Any]:
        try:
            tree, code = parse(expr)
        except SyntaxError as exc:
            raise ConstraintError(f"parameter {name!r}: invalid expression {expr!r}: {exc.msg}", name, expr) from None
        except Exception as exc:  # over-long, or too deeply nested for the parser
            raise ConstraintError(f"parameter {name!r}: expression {expr!r} refused: {exc}", name, expr) from None
        if not isinstance(tree, ast.Module) or len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
            raise ConstraintError(
                f"parameter {name!r}: {expr!r} is not a single expression (statements, assignments and "
                "definitions belong in Minimizer.asteval, not in a constraint)",
                name,
                expr,
            )
        return tree, code

    @staticmethod
    def _order(compiled: dict[str, _Compiled], params: "Parameters") -> list[_Compiled]:
        order: list[_Compiled] = []
        state: dict[str, int] = {}  # 1 = visiting, 2 = done

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = path[path.index(name):] + [name]
                what = "refers to itself" if len(cycle) == 2 else "is in a cycle " + " -> ".join(cycle)
                raise ConstraintError(
                    f"parameter {name!r} {what}: {compiled[name].expr!r}; expressions must form no cycle",
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
                    val = self.interp.run(c.tree, with_raise=True)  # type: ignore[union-attr]
                fval = float(val)
            except ConstraintError as exc:
                raise ConstraintError(f"parameter {c.name!r}: {exc} in {c.expr!r}", c.name, c.expr) from None
            except Exception as exc:
                raise ConstraintError(
                    f"parameter {c.name!r}: evaluating {c.expr!r} failed with {type(exc).__name__}: {exc} "
                    f"(inputs: {self._input_values()})",
                    c.name,
                    c.expr,
                ) from None
            if not math.isfinite(fval):
                raise ConstraintError(
                    f"parameter {c.name!r}: {c.expr!r} evaluated to {fval} (inputs: {self._input_values()})",
                    c.name,
                    c.expr,
                )
            c.par._value = fval
            st[c.name] = fval

    def _input_values(self) -> str:
        return ", ".join(f"{n}={p._value!r}" for n, p in self.inputs)

    def names(self) -> Iterable[str]:
        """Names of the expression parameters, in evaluation order."""
        return [c.name for c in self.ordered]
