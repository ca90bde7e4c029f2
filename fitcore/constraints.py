"""Constraint expressions of a Parameters set: parse once per fit, evaluate in dependency order every step.

:class:`Constraints` is the plan of one fit: which parameters have expressions,
the order that evaluates each after everything it reads, the parameters without
expressions that they read, and every name resolved. What an expression may use
and how it is evaluated safely is :mod:`fitcore.sandbox`; the sandbox's
:func:`~fitcore.sandbox.base_symtable`, :func:`~fitcore.sandbox.make_interpreter`
and :func:`~fitcore.sandbox.check_expression` are re-exported here.

Expressions are evaluated in a namespace of the plan's own: the values of the
parameters the expressions read, and the symbols they use, taken from the
symbol table (``Minimizer.asteval.symtable``) when the plan is made. Parameter
values are never written into the symbol table, so a parameter removed since
an earlier fit is an unknown name, as it is for a fresh Minimizer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .errors import ConstraintError, did_you_mean
from .sandbox import (
    SAFE_SYMBOLS,
    UNSAFE_SYMBOLS,
    CompiledExpression,
    base_symtable,
    check_expression,
    compile_expression,
    make_interpreter,
    needs_guards,
    readonly,
    show_expression,
)

if TYPE_CHECKING:
    from .parameters import Parameter, Parameters

__all__ = [
    "Constraint",
    "Constraints",
    "SAFE_SYMBOLS",
    "UNSAFE_SYMBOLS",
    "base_symtable",
    "check_expression",
    "make_interpreter",
]


@dataclass(frozen=True)
class _Plan:
    """What depends only on the parameter names and expressions (cached per process)."""

    order: tuple[tuple[str, str], ...]  # (name, expression) of the expression parameters, inputs first
    inputs: tuple[str, ...]  # parameters without an expression that expressions read, in parameter order
    symbols: tuple[tuple[str, str, str], ...]  # (symbol, parameter, expression) for every non-parameter name


def _parse_for(name: str, expr: str) -> frozenset[str]:
    """Return the names ``expr`` uses, or raise a ConstraintError naming the parameter."""
    try:
        return check_expression(expr)
    except ConstraintError as exc:
        raise ConstraintError(f"parameter {name!r}: {exc}", name, expr) from None


def _cycle_error(compiled: Mapping[str, tuple[str, frozenset[str]]], cycle: list[str]) -> ConstraintError:
    name = cycle[0]
    expr = compiled[name][0]
    shown = cycle if len(cycle) <= 12 else cycle[:5] + ["..."] + cycle[-5:]
    what = "refers to itself" if len(cycle) == 2 else "is in a cycle " + " -> ".join(shown)
    if len(cycle) > 12:
        what += f" ({len(cycle) - 1} parameters)"
    return ConstraintError(
        f"parameter {name!r} {what}: {show_expression(expr)}; expressions must form no cycle", name, expr
    )


def _order(names: tuple[str, ...], compiled: Mapping[str, tuple[str, frozenset[str]]]) -> list[str]:
    """Expression parameters in an order that evaluates each after what it reads (depth first, no recursion)."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in names:
        if root not in compiled or state.get(root) == 2:
            continue
        path: list[str] = [root]
        pending: list[list[str]] = [sorted(d for d in compiled[root][1] if d in compiled)]
        state[root] = 1
        while path:
            if pending[-1]:
                dep = pending[-1].pop(0)
                if state.get(dep) == 2:
                    continue
                if state.get(dep) == 1:
                    raise _cycle_error(compiled, path[path.index(dep):] + [dep])
                state[dep] = 1
                path.append(dep)
                pending.append(sorted(d for d in compiled[dep][1] if d in compiled))
            else:
                done = path.pop()
                pending.pop()
                state[done] = 2
                order.append(done)
    return order


@lru_cache(maxsize=1024)
def _plan(names: tuple[str, ...], exprs: tuple[tuple[str, str], ...]) -> _Plan:
    """Parse, check and order the expressions of a parameter set with these names."""
    compiled: dict[str, tuple[str, frozenset[str]]] = {}
    for name, expr in exprs:
        compiled[name] = (expr, _parse_for(name, expr))
    known = frozenset(names)
    read: set[str] = set()
    symbols = []
    for name, (expr, used) in compiled.items():
        for sym in sorted(used):
            if sym in known:
                read.add(sym)
            else:
                symbols.append((sym, name, expr))
    order = tuple((n, compiled[n][0]) for n in _order(names, compiled))
    inputs = tuple(n for n in names if n in read and n not in compiled)
    return _Plan(order, inputs, tuple(symbols))


@lru_cache(maxsize=1024)
def _compiled(plan: _Plan, symbol_types: tuple[type, ...]) -> tuple[CompiledExpression, ...]:
    """The plan's expressions compiled for symbols of these types (in the order the plan names them)."""
    types = dict(zip(dict.fromkeys(sym for sym, _, _ in plan.symbols), symbol_types))
    return tuple(compile_expression(expr, needs_guards(expr, types)) for _, expr in plan.order)


class Constraint:
    """One expression parameter of a plan: its name, Parameter, expression and compiled form."""

    __slots__ = ("name", "par", "expr", "code")

    def __init__(self, name: str, par: Parameter, expr: str, code: CompiledExpression) -> None:
        self.name, self.par, self.expr, self.code = name, par, expr, code

    def __repr__(self) -> str:
        return f"<Constraint {self.name} = {show_expression(self.expr)}>"


class Constraints:
    """The constraint expressions of one Parameters set, compiled for one fit.

    Parameters
    ----------
    params : Parameters
        The parameter set; every parameter with ``expr`` is compiled.
    symtable : mapping
        Functions and constants the expressions may use (``Minimizer.asteval.symtable``);
        the names the expressions use are looked up here once, now. Parameter
        names take precedence over symbol names.

    Attributes
    ----------
    ordered : list of Constraint
        The expression parameters in evaluation order.
    inputs : list of (str, Parameter)
        The parameters without expression that the expressions read.
    input_set : frozenset of str
        Their names.

    Raises
    ------
    ConstraintError
        For a syntax error, an unknown symbol, a self-reference or a cycle,
        naming the parameter and the symbol or cycle.
    """

    def __init__(self, params: Parameters, symtable: Mapping[str, Any]) -> None:
        exprs = []
        for name, par in params.items():
            if par._expr is None:
                continue
            if par._vary:
                raise ConstraintError(
                    f"parameter {name!r} has expr={show_expression(par.expr)} and vary=True: an expression "
                    "parameter is computed, not fitted; set vary=False or remove the expression",
                    name,
                    par.expr,
                )
            exprs.append((name, par._expr))
        plan = _plan(tuple(params), tuple(exprs))
        namespace: dict[str, Any] = {}
        for sym, name, expr in plan.symbols:
            if sym in namespace:
                continue
            if sym not in symtable:
                known = list(params) + sorted(k for k in symtable if not k.startswith("_"))
                raise ConstraintError(
                    f"parameter {name!r}: unknown name {sym!r} in expression {show_expression(expr)}."
                    f"{did_you_mean(sym, known)} Parameters are: {', '.join(params)}",
                    name,
                    expr,
                )
            namespace[sym] = readonly(symtable[sym])
        #: the names and values the expressions read: symbols fixed now, parameter values written by evaluate()
        self.namespace = namespace
        codes = _compiled(plan, tuple(type(v) for v in namespace.values()))
        self.ordered = [Constraint(name, params[name], expr, code) for (name, expr), code in zip(plan.order, codes)]
        self.inputs: list[tuple[str, Parameter]] = [(n, params[n]) for n in plan.inputs]
        self.input_set: frozenset[str] = frozenset(plan.inputs)

    def __len__(self) -> int:
        return len(self.ordered)

    def evaluate(self) -> None:
        """Evaluate every expression in dependency order, writing each parameter's value.

        A value outside the expression parameter's own ``min``/``max`` is clipped onto
        the bound (lmfit's documented behaviour), and the clipped value is what later
        expressions read.
        """
        ns = self.namespace
        for name, par in self.inputs:
            ns[name] = par._value
        for c in self.ordered:
            try:
                fval = float(c.code.evaluate(ns))
            except ConstraintError as exc:
                raise ConstraintError(f"parameter {c.name!r}: {exc} in {show_expression(c.expr)}",
                                      c.name, c.expr) from None
            except Exception as exc:
                raise ConstraintError(
                    f"parameter {c.name!r}: evaluating {show_expression(c.expr)} failed with "
                    f"{type(exc).__name__}: {exc} (inputs: {self._input_values()})",
                    c.name,
                    c.expr,
                ) from None
            if not math.isfinite(fval):
                raise ConstraintError(
                    f"parameter {c.name!r}: {show_expression(c.expr)} evaluated to {fval} "
                    f"(inputs: {self._input_values()})",
                    c.name,
                    c.expr,
                )
            # bounds on an expression parameter clip its value, as lmfit documents
            par = c.par
            if fval < par._min:
                fval = par._min
            elif fval > par._max:
                fval = par._max
            par._value = fval
            ns[c.name] = fval

    def _input_values(self) -> str:
        return ", ".join(f"{n}={p._value!r}" for n, p in self.inputs)

    def names(self) -> Iterable[str]:
        """Names of the expression parameters, in evaluation order."""
        return [c.name for c in self.ordered]
