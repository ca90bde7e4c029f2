"""The expression sandbox: what a constraint expression may use, and how it runs safely.

Constraint expressions may come from files written by other people, so nothing
in an expression is trusted:

* **Syntax** (:func:`check_expression`): one expression of numbers, names,
  operators, conditionals, calls of named functions, flat lists/tuples and
  simple subscripts. Attribute access, names starting with ``_``, strings,
  lambdas, comprehensions, f-strings, starred arguments and nesting deeper than
  :data:`MAX_DEPTH` are refused before anything is evaluated.
* **Names** resolve to parameters, to the functions and constants of
  :data:`SAFE_SYMBOLS` and to what the user put in ``Minimizer.asteval.symtable``.
  Arrays from the symbol table are seen through read-only views.
* **Functions** (:class:`SandboxFunction`): every function the sandbox offers has
  a fixed signature with no output buffer (no positional or keyword ``out``, no
  ``overwrite_input``), gets only machine numbers (Python integers beyond 64
  bits become floats, arrays of Python objects are refused) and checks the size
  of what it would build before building it.
* **Work** is bounded per evaluation: Python integers stay below
  :data:`MAX_INT_BITS`, sequence repetition below :data:`MAX_SEQ_LEN`, and the
  array elements an expression's operations handle below :data:`MAX_ELEMENTS`
  in total (each operation may handle its share; a larger one is refused
  before it runs).

An expression is compiled once (cached per process) to a Python function of one
namespace dict. Every name becomes a lookup in that dict and every operator
that could grow a value becomes a call of a guard held in the function's
closure, so no name in the namespace (a parameter called ``_fc_pow``, say) can
replace a guard.
"""

from __future__ import annotations

import ast
import copy
import math
import numbers
import operator
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConstraintError

if TYPE_CHECKING:
    from asteval import Interpreter

__all__ = [
    "MAX_DECIMALS",
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "MAX_EXPR_LENGTH",
    "MAX_FACTORIAL",
    "MAX_INT_BITS",
    "MAX_SEQ_LEN",
    "SAFE_SYMBOLS",
    "UNSAFE_SYMBOLS",
    "CompiledExpression",
    "SandboxFunction",
    "base_symtable",
    "check_expression",
    "compile_expression",
    "make_interpreter",
    "needs_guards",
    "readonly",
    "safe_factorial",
    "safe_lshift",
    "safe_mult",
    "safe_pow",
    "show_expression",
]

MAX_EXPR_LENGTH = 10_000  #: longest constraint expression accepted, in characters
MAX_DEPTH = 200  #: deepest nesting of an expression's syntax tree
MAX_INT_BITS = 20_000  #: largest integer an expression may build (about 6,000 digits; floats end at 1024 bits)
MAX_SEQ_LEN = 1_000  #: largest list or tuple an expression may build by repetition
MAX_FACTORIAL = 1_000  #: largest argument of factorial()
MAX_ELEMENTS = 10_000_000  #: array elements one evaluation of one expression may handle, over all its operations
MAX_DECIMALS = 308  #: largest number of decimals round() takes, either sign (10**308 is the largest power of ten)

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

_INT64 = 2**63
_NUMERIC_KINDS = frozenset("biufc")  # numpy dtype kinds of machine numbers: bool, int, uint, float, complex
_PY_NUMBERS = (int, float, complex)  # bool is an int
_SCALARS = (int, float, complex, np.number, np.bool_)  # a result of fixed size
_FLOATS = frozenset({float, np.float64})  # what parameter values and numpy results on them are


def show_expression(expr: Any, limit: int = 80) -> str:
    """Return ``repr(expr)`` shortened for error messages (expressions may be 10,000 characters long)."""
    text = repr(expr)
    if len(text) <= limit:
        return text
    size = f" ({len(expr)} characters)" if isinstance(expr, str) else ""
    return text[: limit - 5] + "...'" + size


def _refuse(message: str) -> ConstraintError:
    return ConstraintError("refused: " + message)


# -- Python integers and sequences: bounded growth -----------------------------------------------
def safe_pow(base: Any, exp: Any) -> Any:
    """Return ``base ** exp``, refusing integer results too large to compute quickly."""
    if type(base) is float or type(exp) is float:  # a float result cannot grow without bound
        return base**exp
    if isinstance(base, int) and isinstance(exp, int) and exp > 0:
        if abs(base) > 1 and exp * base.bit_length() > MAX_INT_BITS:
            raise _refuse(f"an integer power would build an integer of more than {MAX_INT_BITS} bits")
    return base**exp


def safe_lshift(a: Any, b: Any) -> Any:
    """Return ``a << b``, refusing shifts that build huge integers."""
    if isinstance(a, int) and isinstance(b, int) and b > 0 and a.bit_length() + b > MAX_INT_BITS:
        raise _refuse(f"a left shift would build an integer of more than {MAX_INT_BITS} bits")
    return a << b


def safe_mult(a: Any, b: Any) -> Any:
    """Return ``a * b``, refusing big-integer products and repetition of a sequence into a huge one."""
    if type(a) is float or type(b) is float:  # no sequence repetition, no integer growth
        return a * b
    for seq, n in ((a, b), (b, a)):
        if isinstance(seq, (list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_SEQ_LEN:
            raise _refuse(f"repeating a sequence to more than {MAX_SEQ_LEN} items")
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > MAX_INT_BITS:
        raise _refuse(f"an integer product of more than {MAX_INT_BITS} bits")
    return a * b


def safe_factorial(n: Any) -> Any:
    """Return ``math.factorial(n)`` for ``n <= MAX_FACTORIAL`` (anything above 170 overflows a float anyway)."""
    if isinstance(n, (int, float, np.number)) and not n <= MAX_FACTORIAL:
        raise _refuse(f"factorial({n}) (limit {MAX_FACTORIAL})")
    return math.factorial(n)


_PYTHON_GUARDS: dict[str, Callable[[Any, Any], Any]] = {"**": safe_pow, "<<": safe_lshift, "*": safe_mult}


# -- arrays: machine numbers only, size checked before the work ---------------------------------
def readonly(value: Any) -> Any:
    """Return ``value``, or a read-only view of it when it is a numpy array (the array itself is untouched)."""
    if isinstance(value, np.ndarray) and value.flags.writeable:
        view = value.view()
        view.flags.writeable = False
        return view
    return value


def _too_many(n: int, limit: int) -> ConstraintError:
    return _refuse(
        f"an operation on {n:,} array elements; this expression's operations may handle at most {limit:,} "
        f"each ({MAX_ELEMENTS:,} per evaluation, shared among them)"
    )


def _count(value: Any, limit: int) -> int:
    """Count the elements ``value`` holds as an array (without building it), refusing more than ``limit``."""
    if isinstance(value, np.ndarray):
        n = value.size
    elif type(value) is list or type(value) is tuple:
        n = 0
        for item in value:
            n += _count(item, limit)
    else:
        n = 1
    if n > limit:
        raise _too_many(n, limit)
    return n


def _machine_int(value: int) -> Any:
    """Return a Python int as numpy can hold it: unchanged within 64 bits, else a float (never an object array)."""
    if -_INT64 <= value < _INT64:
        return value
    try:
        return float(value)
    except OverflowError:
        raise _refuse(f"an integer of {value.bit_length()} bits is too large for array arithmetic") from None


def _operand(value: Any, limit: int) -> Any:
    """``value`` made safe for numpy: machine numbers only, read-only, at most ``limit`` elements."""
    kind = type(value)
    if kind is float or kind is bool or kind is complex:
        return value
    if kind is int:
        return _machine_int(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _NUMERIC_KINDS:
            raise _refuse(f"arrays of {value.dtype} (an expression computes with numbers only)")
        if value.size > limit:
            raise _too_many(value.size, limit)
        return readonly(value)
    if kind is list or kind is tuple:
        _count(value, limit)
        array = np.asarray([_operand(item, limit) for item in value])
        if array.dtype.kind not in _NUMERIC_KINDS:
            raise _refuse(f"a sequence of {array.dtype} (an expression computes with numbers only)")
        return readonly(array)
    if isinstance(value, np.generic):
        if value.dtype.kind not in _NUMERIC_KINDS:
            raise _refuse(f"a {value.dtype} value (an expression computes with numbers only)")
        return value
    if isinstance(value, numbers.Real):  # a Fraction of the user's, say: its exact arithmetic can grow
        return float(value)
    if isinstance(value, numbers.Complex):
        return complex(value)
    if hasattr(value, "__array__"):  # an array-like of the user's (a pandas Series, say): checked as its array
        return _operand(np.asarray(value), limit)
    return value


def _check_broadcast(limit: int, operands: Sequence[Any], factor: int = 1) -> None:
    """Refuse an elementwise operation whose result would hold more than ``limit`` elements."""
    try:
        shape = np.broadcast_shapes(*(np.shape(x) for x in operands))
    except ValueError:
        return  # numpy raises its own error when the operation runs, without building anything
    n = math.prod(shape) * factor
    if n > limit:
        raise _too_many(n, limit)


def _is_sequence(value: Any) -> bool:
    return type(value) is list or type(value) is tuple


def _binary(op: Callable[[Any, Any], Any], symbol: str, limit: int, a: Any, b: Any) -> Any:
    """Return ``op(a, b)`` with growth guarded: Python numbers, sequences or arrays."""
    if isinstance(a, _SCALARS) and isinstance(b, _SCALARS):
        if isinstance(a, np.generic) or isinstance(b, np.generic):
            return op(a, b)  # fixed-width numpy arithmetic (a Python int beyond 64 bits is an OverflowError)
        guard = _PYTHON_GUARDS.get(symbol)
        return op(a, b) if guard is None else guard(a, b)
    arrays = isinstance(a, (np.ndarray, np.generic)) or isinstance(b, (np.ndarray, np.generic))
    if not arrays and (_is_sequence(a) or _is_sequence(b)):  # Python's own sequence operations
        if symbol == "*":
            return safe_mult(a, b)
        if symbol == "+" and _is_sequence(a) and _is_sequence(b) and len(a) + len(b) > limit:
            raise _too_many(len(a) + len(b), limit)
        return op(a, b)
    a, b = _operand(a, limit), _operand(b, limit)
    _check_broadcast(limit, (a, b))
    return op(a, b)


def _unary(op: Callable[[Any], Any], limit: int, a: Any) -> Any:
    if isinstance(a, np.ndarray):
        a = _operand(a, limit)
    return op(a)


def _item(container: Any, index: Any) -> Any:
    """Return ``container[index]`` for an integer index only (no slices, masks or fancy indexing)."""
    if type(index) is not int and not isinstance(index, np.integer):
        raise _refuse(f"a subscript index must be an integer, not {type(index).__name__}")
    return container[index]


# -- the functions an expression may call -------------------------------------------------------
_REQUIRED = object()  # marks a parameter without a default


class SandboxFunction:
    """A function offered to constraint expressions: fixed signature, checked inputs, no output buffer.

    Parameters
    ----------
    name : str
        The name expressions call it by.
    func : callable
        The numpy, math or builtin function it runs.
    params : sequence of (name, default)
        Its parameters, passed to ``func`` by position in this order; a default of
        ``_REQUIRED`` marks a required one. Nothing else is accepted: no ``out``,
        no ``overwrite_input``, no ``**kwargs``.
    keyword_only : sequence of (name, default), optional
        Parameters passed to ``func`` by keyword.
    kind : {'ufunc', 'array', 'python'}
        ``'ufunc'`` (elementwise over broadcast arguments: the result's size is checked
        before it is built) and ``'array'`` (reductions and functions of one array: the
        result is no larger than the arguments) get their array arguments as read-only
        machine-number arrays of at most the limit's elements (Python integers beyond 64
        bits as floats); ``'python'`` functions (``max``, ``float``, ...) get their
        arguments as given, with their size checked.
    prepare : callable, optional
        ``prepare(args, kws, limit) -> (args, kws)`` validates and converts the
        arguments further (e.g. the ``decimals`` of ``round``).

    Calling the object itself applies the limit of :data:`MAX_ELEMENTS`; compiled
    expressions call :meth:`call` with their per-operation share.
    """

    __slots__ = ("name", "func", "params", "keyword_only", "kind", "prepare", "nout", "variadic")

    def __init__(self, name: str, func: Callable[..., Any], params: Sequence[tuple[str, Any]],
                 keyword_only: Sequence[tuple[str, Any]] = (), kind: str = "array",
                 prepare: Callable[..., tuple[list[Any], dict[str, Any]]] | None = None) -> None:
        self.name = name
        self.func = func
        self.params = tuple(params)
        self.keyword_only = tuple(keyword_only)
        self.kind = kind
        self.prepare = prepare
        self.nout = getattr(func, "nout", 1)
        self.variadic = kind == "python" and func in (max, min)

    def __repr__(self) -> str:
        return f"<sandboxed {self.name}({', '.join(n for n, _ in self.params)})>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_symbol, (self.name,))

    def __call__(self, *args: Any, **kws: Any) -> Any:
        """Call the function with at most :data:`MAX_ELEMENTS` array elements per input and result."""
        return self.call(MAX_ELEMENTS, args, kws)

    def _signature(self) -> str:
        parts = [n if d is _REQUIRED else f"{n}={d!r}" for n, d in self.params]
        if self.keyword_only:
            parts += ["*"] + [f"{n}={d!r}" for n, d in self.keyword_only]
        return f"{self.name}({', '.join(parts)})"

    def _bind(self, args: tuple[Any, ...], kws: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Match the arguments to the signature, refusing any extra positional or unknown keyword."""
        if self.variadic:  # max(a, b, ...) or max(iterable), nothing by keyword
            if kws or not args:
                raise _refuse(f"{self.name}() takes one or more positional arguments and no keywords")
            return list(args), {}
        if len(args) > len(self.params):
            raise _refuse(f"{self.name}() takes at most {len(self.params)} positional arguments, "
                          f"{len(args)} given; its signature is {self._signature()}")
        values = list(args) + [d for _, d in self.params[len(args):]]
        extra: dict[str, Any] = {}
        names = [n for n, _ in self.params]
        for key, val in kws.items():
            if key in names[len(args):]:
                values[names.index(key)] = val
            elif key in names:
                raise _refuse(f"{self.name}() got {key!r} both by position and by keyword")
            elif any(key == n for n, _ in self.keyword_only):
                extra[key] = val
            else:
                raise _refuse(f"{self.name}() takes no argument {key!r}; its signature is {self._signature()}")
        missing = [n for n, v in zip(names, values) if v is _REQUIRED]
        if missing:
            raise _refuse(f"{self.name}() is missing argument {missing[0]!r}; its signature is {self._signature()}")
        while values and len(values) > 1 and values[-1] is None and self.params[len(values) - 1][1] is None:
            values.pop()  # leave numpy's own defaults to numpy
        return values, extra

    def call(self, limit: int, args: tuple[Any, ...], kws: dict[str, Any]) -> Any:
        """Run the function on ``args``/``kws`` with at most ``limit`` array elements per input and result."""
        if not kws and (len(args) == len(self.params) or self.variadic) and self.kind != "array":
            for a in args:
                if type(a) not in _FLOATS:
                    break
            else:  # parameter values and functions of them: nothing to check
                return self.func(*args)
        values, extra = self._bind(args, kws)
        if self.kind == "python":
            for v in values:
                _count(v, limit)
            for v in extra.values():
                _count(v, limit)
        else:
            values = [_operand(v, limit) for v in values]
            if self.kind == "ufunc":
                _check_broadcast(limit, values, self.nout)
        if self.prepare is not None:
            values, extra = self.prepare(values, extra, limit)
        return self.func(*values, **extra)


def _prepare_round(values: list[Any], extra: dict[str, Any], limit: int) -> tuple[list[Any], dict[str, Any]]:
    """round(a, decimals): a bounded integer number of decimals; integers are rounded as floats.

    numpy scales by ``10**decimals`` in the argument's own type, which overflows int64
    for 19 decimals or more and costs seconds for a huge count.
    """
    a = values[0]
    decimals = values[1] if len(values) > 1 else 0
    if isinstance(decimals, (bool, np.bool_)) or not isinstance(decimals, (int, np.integer)):
        raise _refuse(f"round(): decimals must be an integer, not {type(decimals).__name__}")
    if not -MAX_DECIMALS <= decimals <= MAX_DECIMALS:
        raise _refuse(f"round(): decimals={decimals} is outside [-{MAX_DECIMALS}, {MAX_DECIMALS}]")
    if not np.iscomplexobj(a):
        a = np.asarray(a, dtype=float)
    return [a, int(decimals)], extra


def _round(a: Any, decimals: int = 0) -> Any:
    """Round like numpy, returning ``a`` itself where scaling by 10**decimals overflowed (it has no such digits)."""
    if decimals <= 0:
        return np.round(a, decimals)
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.round(a, decimals)
        bad = ~np.isfinite(out) & np.isfinite(a)
    return np.where(bad, a, out) if np.any(bad) else out


def _prepare_axis(values: list[Any], extra: dict[str, Any], limit: int) -> tuple[list[Any], dict[str, Any]]:
    if len(values) > 1 and values[1] is not None and not isinstance(values[1], (int, np.integer)):
        raise _refuse(f"axis must be an integer or None, not {type(values[1]).__name__}")
    return values, extra


_A = (("a", _REQUIRED),)
_REDUCTION = (("a", _REQUIRED), ("axis", None))

#: the functions of SAFE_SYMBOLS that are not numpy ufuncs: (function, parameters, keyword-only, kind, prepare)
_SIGNATURES: dict[str, tuple[Callable[..., Any], Any, Any, str, Any]] = {
    "sum": (np.sum, _REDUCTION, (), "array", _prepare_axis),
    "nansum": (np.nansum, _REDUCTION, (), "array", _prepare_axis),
    "mean": (np.mean, _REDUCTION, (), "array", _prepare_axis),
    "average": (np.average, _REDUCTION + (("weights", None),), (), "array", _prepare_axis),
    "median": (np.median, _REDUCTION, (), "array", _prepare_axis),
    "std": (np.std, _REDUCTION, (("ddof", 0),), "array", _prepare_axis),
    "var": (np.var, _REDUCTION, (("ddof", 0),), "array", _prepare_axis),
    "amax": (np.amax, _REDUCTION, (), "array", _prepare_axis),
    "amin": (np.amin, _REDUCTION, (), "array", _prepare_axis),
    "nanmax": (np.nanmax, _REDUCTION, (), "array", _prepare_axis),
    "nanmin": (np.nanmin, _REDUCTION, (), "array", _prepare_axis),
    "all": (np.all, _REDUCTION, (), "array", _prepare_axis),
    "any": (np.any, _REDUCTION, (), "array", _prepare_axis),
    "round": (_round, (("a", _REQUIRED), ("decimals", 0)), (), "array", _prepare_round),
    "around": (_round, (("a", _REQUIRED), ("decimals", 0)), (), "array", _prepare_round),
    "clip": (np.clip, (("a", _REQUIRED), ("a_min", _REQUIRED), ("a_max", _REQUIRED)), (), "ufunc", None),
    "where": (np.where, (("condition", _REQUIRED), ("x", _REQUIRED), ("y", _REQUIRED)), (), "ufunc", None),
    "fix": (np.fix, (("x", _REQUIRED),), (), "array", None),
    "isposinf": (np.isposinf, (("x", _REQUIRED),), (), "array", None),
    "isneginf": (np.isneginf, (("x", _REQUIRED),), (), "array", None),
    "real": (np.real, (("val", _REQUIRED),), (), "array", None),
    "imag": (np.imag, (("val", _REQUIRED),), (), "array", None),
    "sinc": (np.sinc, (("x", _REQUIRED),), (), "array", None),
    "angle": (np.angle, (("z", _REQUIRED), ("deg", False)), (), "array", None),
    "max": (max, (("args", _REQUIRED),), (), "python", None),
    "min": (min, (("args", _REQUIRED),), (), "python", None),
    "float": (float, (("x", 0.0),), (), "python", None),
    "int": (int, (("x", 0),), (), "python", None),
    "bool": (bool, (("x", False),), (), "python", None),
    "pow": (math.pow, (("x", _REQUIRED), ("y", _REQUIRED)), (), "python", None),
    "fsum": (math.fsum, (("iterable", _REQUIRED),), (), "python", None),
    "factorial": (safe_factorial, (("n", _REQUIRED),), (), "python", None),
}


def _sandboxed(name: str, value: Any) -> Any:
    """Return the sandbox's version of asteval's symbol ``name``."""
    if isinstance(value, np.ufunc):
        params = tuple((f"x{i + 1}", _REQUIRED) for i in range(value.nin))
        return SandboxFunction(name, value, params, kind="ufunc")
    if name in _SIGNATURES:
        func, params, keyword_only, kind, prepare = _SIGNATURES[name]
        return SandboxFunction(name, func, params, keyword_only, kind, prepare)
    if isinstance(value, (int, float, complex)):
        return value
    raise RuntimeError(f"no sandbox signature for {name!r}")  # a SAFE_SYMBOLS entry without one: a bug here


@lru_cache(maxsize=1)
def _template() -> dict[str, Any]:
    from asteval import make_symbol_table

    full = make_symbol_table(use_numpy=True)
    return {name: _sandboxed(name, full[name]) for name in sorted(SAFE_SYMBOLS & set(full))}


def _symbol(name: str) -> Any:
    """Return the sandbox's symbol ``name`` (how a pickled :class:`SandboxFunction` finds itself again)."""
    return _template()[name]


def base_symtable() -> dict[str, Any]:
    """Return a fresh copy of the constraint symbol table (sandboxed numeric functions and constants).

    Only the names in :data:`SAFE_SYMBOLS` are kept from asteval's table, each
    function wrapped in a :class:`SandboxFunction`. The template is built once per
    process; copying it is cheap, so every fit gets its own table and concurrent
    fits share no state.
    """
    return dict(_template())


_BINOP_GUARDS = {ast.Pow: safe_pow, ast.LShift: safe_lshift, ast.Mult: safe_mult}


def make_interpreter(symtable: dict[str, Any] | None = None) -> Interpreter:
    """Return an asteval Interpreter over ``symtable`` (or a fresh :func:`base_symtable`).

    This is ``Minimizer.asteval``, where users add their own functions
    (manual section 5.3). It has the sandboxed functions and constants, none of
    the symbols in :data:`UNSAFE_SYMBOLS`, and the same guarded ``**``, ``<<``
    and ``*`` for Python integers as compiled expressions. Constraint
    expressions themselves are evaluated by :func:`compile_expression`.
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


# -- syntax --------------------------------------------------------------------------------------
_ALLOWED = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call, ast.Name,
    ast.Constant, ast.Tuple, ast.List, ast.Load, ast.keyword, ast.Subscript,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift, ast.RShift,
    ast.BitOr, ast.BitXor, ast.BitAnd, ast.UAdd, ast.USub, ast.Not, ast.Invert, ast.And, ast.Or,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
)  # fmt: skip

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


def _validate(node: ast.expr) -> None:
    """Refuse any syntax a constraint expression has no use for (see the module docstring)."""
    stack: list[tuple[ast.AST, int, bool]] = [(node, 1, False)]
    while stack:
        current, depth, in_seq = stack.pop()
        node = current  # type: ignore[assignment]  # any syntax node; checked below
        if depth > MAX_DEPTH:
            raise _refuse(f"nesting deeper than {MAX_DEPTH} levels")
        if not isinstance(node, _ALLOWED):
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
            simple = isinstance(index, ast.Name) or (isinstance(index, ast.Constant) and type(index.value) is int)
            if not simple:
                raise _refuse("a subscript index must be an integer or a name, as in x[0]")
        child_in_seq = in_seq or isinstance(node, (ast.List, ast.Tuple))
        for child in ast.iter_child_nodes(node):
            stack.append((child, depth + 1, child_in_seq))


@lru_cache(maxsize=4096)
def _parse(expr: str) -> tuple[ast.expr, frozenset[str], bool]:
    """Return the checked syntax tree of ``expr``, the names it uses, and whether it builds sequences.

    The flag is True when the expression has calls, subscripts, lists or tuples
    (values other than Python numbers may occur). Cached; the tree is never changed.
    """
    if len(expr) > MAX_EXPR_LENGTH:
        raise _refuse(f"expression is {len(expr)} characters long; the limit is {MAX_EXPR_LENGTH}")
    try:
        module = ast.parse(expr)
    except SyntaxError as exc:
        raise ConstraintError(f"invalid expression {show_expression(expr)}: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:  # too deeply nested for the parser, NUL bytes...
        raise ConstraintError(f"invalid expression {show_expression(expr)}: {exc}") from None
    if len(module.body) != 1 or not isinstance(module.body[0], ast.Expr):
        raise ConstraintError(
            f"{show_expression(expr)} is not a single expression (statements, assignments and definitions "
            "belong in Minimizer.asteval, not in a constraint)"
        )
    node = module.body[0].value
    _validate(node)
    nodes = list(ast.walk(node))
    names = frozenset(n.id for n in nodes if isinstance(n, ast.Name))
    return node, names, any(isinstance(n, (ast.Call, ast.Subscript, ast.List, ast.Tuple)) for n in nodes)


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
        return _parse(expr)[1]
    except ConstraintError as exc:
        text = str(exc)
        if text.startswith("refused:"):
            text = f"expression {show_expression(expr)} {text}"
        raise ConstraintError(text, None, expr) from None


# -- compilation ---------------------------------------------------------------------------------
_BINARY = {
    ast.Add: (operator.add, "+"), ast.Sub: (operator.sub, "-"), ast.Mult: (operator.mul, "*"),
    ast.Div: (operator.truediv, "/"), ast.FloorDiv: (operator.floordiv, "//"), ast.Mod: (operator.mod, "%"),
    ast.Pow: (operator.pow, "**"), ast.LShift: (operator.lshift, "<<"), ast.RShift: (operator.rshift, ">>"),
    ast.BitOr: (operator.or_, "|"), ast.BitXor: (operator.xor, "^"), ast.BitAnd: (operator.and_, "&"),
    ast.Eq: (operator.eq, "=="), ast.NotEq: (operator.ne, "!="), ast.Lt: (operator.lt, "<"),
    ast.LtE: (operator.le, "<="), ast.Gt: (operator.gt, ">"), ast.GtE: (operator.ge, ">="),
    ast.In: (lambda a, b: a in b, "in"), ast.NotIn: (lambda a, b: a not in b, "not in"),
    ast.Is: (operator.is_, "is"), ast.IsNot: (operator.is_not, "is not"),
}  # fmt: skip
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert,
}
_GROWING = (ast.Pow, ast.LShift, ast.Mult)  # the only operators that grow Python numbers
_NS = "_fc_ns"  # the namespace argument of a compiled expression


def _gate_name(op: type) -> str:
    return f"_fc_{op.__name__}"


def _make_binary_gate(op: Callable[[Any, Any], Any], symbol: str, limit: int) -> Callable[[Any, Any], Any]:
    def gate(a: Any, b: Any) -> Any:
        if type(a) in _FLOATS and type(b) in _FLOATS:  # parameter values and functions of them: nothing can grow
            return op(a, b)
        return _binary(op, symbol, limit, a, b)

    return gate


def _make_unary_gate(op: Callable[[Any], Any], limit: int) -> Callable[[Any], Any]:
    def gate(a: Any) -> Any:
        if type(a) in _FLOATS:
            return op(a)
        return _unary(op, limit, a)

    return gate


def _make_call_gate(limit: int) -> Callable[..., Any]:
    def call(func: Any, /, *args: Any, **kws: Any) -> Any:
        if type(func) is SandboxFunction:
            return func.call(limit, args, kws)
        return func(*args, **kws)  # a function the user added to the symbol table: the user's own code

    return call


class _Rewrite(ast.NodeTransformer):
    """Turn names into namespace lookups and operators into guard calls (every operator when ``full``)."""

    def __init__(self, full: bool) -> None:
        self.full = full
        self.temps = 0

    def _call(self, name: str, args: list[ast.expr], node: ast.AST) -> ast.Call:
        return ast.copy_location(ast.Call(ast.Name(name, ast.Load()), args, []), node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        lookup = ast.Subscript(ast.Name(_NS, ast.Load()), ast.Constant(node.id), ast.Load())
        return ast.copy_location(lookup, node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if not self.full and not isinstance(node.op, _GROWING):
            return node
        return self._call(_gate_name(type(node.op)), [node.left, node.right], node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if not self.full or isinstance(node.op, ast.Not):
            return node
        return self._call(_gate_name(type(node.op)), [node.operand], node)

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if not self.full:
            return node
        # a < b < c is (a < b) and (b < c) with b evaluated once: held in a temporary of the lambda
        parts: list[ast.expr] = []
        left = node.left
        for i, (op, right) in enumerate(zip(node.ops, node.comparators)):
            if i < len(node.ops) - 1:
                self.temps += 1
                temp = f"_fc_t{self.temps}"
                right_value: ast.expr = ast.NamedExpr(ast.Name(temp, ast.Store()), right)
                parts.append(self._call(_gate_name(type(op)), [left, right_value], node))
                left = ast.Name(temp, ast.Load())
            else:
                parts.append(self._call(_gate_name(type(op)), [left, right], node))
        return parts[0] if len(parts) == 1 else ast.copy_location(ast.BoolOp(ast.And(), parts), node)

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        self.generic_visit(node)
        return self._call("_fc_item", [node.value, node.slice], node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        call = ast.Call(ast.Name("_fc_call", ast.Load()), [node.func, *node.args], node.keywords)
        return ast.copy_location(call, node)


def _operations(node: ast.expr) -> int:
    """How many operations of ``node`` may handle arrays: they share :data:`MAX_ELEMENTS`."""
    count = 0
    for n in ast.walk(node):
        if isinstance(n, (ast.BinOp, ast.Call)) or isinstance(n, ast.UnaryOp) and not isinstance(n.op, ast.Not):
            count += 1
        elif isinstance(n, ast.Compare):
            count += len(n.ops)
    return max(count, 1)


class CompiledExpression:
    """A checked constraint expression compiled to a function of one namespace dict.

    Attributes
    ----------
    text : str
        The expression.
    names : frozenset of str
        The names it reads from the namespace.
    full : bool
        True when every operator is guarded (arrays may occur); False when only
        the operators that grow Python integers are (all values are Python numbers).
    limit : int
        Array elements each of its operations may handle.
    evaluate : callable
        ``evaluate(namespace) -> value``; every name must be in ``namespace``.
    """

    __slots__ = ("text", "names", "full", "limit", "evaluate")

    def __init__(self, text: str, names: frozenset[str], full: bool, limit: int,
                 evaluate: Callable[[dict[str, Any]], Any]) -> None:
        self.text, self.names, self.full, self.limit, self.evaluate = text, names, full, limit, evaluate

    def __repr__(self) -> str:
        return f"<CompiledExpression {show_expression(self.text)}{' (guarded)' if self.full else ''}>"


def needs_guards(expr: str, symbol_types: Mapping[str, type]) -> bool:
    """Whether ``expr`` must be compiled with every operator guarded, given the types of its non-parameter names.

    Only expressions of Python numbers alone (no calls, subscripts, lists or
    tuples, parameters, and every other name a Python int, float, complex or
    bool) may skip the guards of the operators that cannot grow a number.
    """
    _, names, structural = _parse(expr)
    if structural:
        return True
    for name in names:
        kind = symbol_types.get(name, float)  # a name not given is a parameter: a float
        if not issubclass(kind, _PY_NUMBERS) or issubclass(kind, np.generic):
            return True
    return False


@lru_cache(maxsize=4096)
def compile_expression(expr: str, full: bool = True) -> CompiledExpression:
    """Check and compile ``expr`` (cached per process).

    Parameters
    ----------
    expr : str
        The expression.
    full : bool, default True
        Guard every operator. False is only valid when every value the
        expression sees is a Python number (see :func:`needs_guards`).

    Raises
    ------
    ConstraintError
        As :func:`check_expression`.
    """
    node, names, structural = _parse(expr)
    full = full or structural
    limit = MAX_ELEMENTS // _operations(node)
    rewrite = _Rewrite(full)
    body = rewrite.visit(copy.deepcopy(node))
    gates: dict[str, Any] = {"_fc_call": _make_call_gate(limit), "_fc_item": _item}
    for op, (func, symbol) in _BINARY.items():
        if full or op in _GROWING:
            gates[_gate_name(op)] = _make_binary_gate(func, symbol, limit) if full else _PYTHON_GUARDS[symbol]
    for uop, ufunc in _UNARY.items():
        gates[_gate_name(uop)] = _make_unary_gate(ufunc, limit)
    # def _fc_make(<gates>): return lambda _fc_ns: <body>  -- the gates are closure cells, not names to look up.
    # The frame is parsed from source (so its nodes suit this Python version), then given the checked body.
    module = ast.parse(f"def _fc_make({', '.join(gates)}):\n    return lambda {_NS}: None")
    maker = module.body[0]
    assert isinstance(maker, ast.FunctionDef) and isinstance(maker.body[0], ast.Return)
    lam = maker.body[0].value
    assert isinstance(lam, ast.Lambda)
    lam.body = body
    ast.fix_missing_locations(module)
    scope: dict[str, Any] = {"__builtins__": {}}
    exec(compile(module, "<constraint>", "exec"), scope)  # noqa: S102 - the body is checked and rewritten above
    return CompiledExpression(expr, names, full, limit, scope["_fc_make"](**gates))
