"""Parameter and Parameters: named fit variables with bounds and constraints.

A :class:`Parameter` is a number with attributes saying how a fit may change it
(``vary``, ``min``, ``max``, ``expr``) and, after a fit, what the fit learnt
about it (``stderr``, ``correl``). :class:`Parameters` is an ordered dict of
them, keyed by valid Python identifiers so that constraint expressions can
refer to them by name.
"""

from __future__ import annotations

import copy
import keyword
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from .errors import ParameterError

__all__ = ["Parameter", "Parameters", "create_params", "restored_on_error", "write_values"]

_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
#: positional order of the manual's form ``Parameter(value, vary, min, max, name, expr)``
_MANUAL_ORDER = ("value", "vary", "min", "max", "name", "expr")
#: positional order of lmfit 1.x's form ``Parameter(name, value, vary, min, max, expr)``
_LMFIT_ORDER = ("name", "value", "vary", "min", "max", "expr")


def check_name(name: Any) -> str:
    """Return ``name`` if it is a valid parameter name, else raise ParameterError."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or keyword.iskeyword(name):
        raise ParameterError(
            f"invalid parameter name {name!r}: names must match [a-zA-Z_][a-zA-Z0-9_]* "
            "and must not be a Python keyword (they are used as symbols in constraint expressions)",
            name if isinstance(name, str) else None,
        )
    return name


def _shown(value: Any) -> str:
    """``repr(value)``, shortened for error messages (an integer may have thousands of digits)."""
    if isinstance(value, int) and value.bit_length() > 200:
        return f"{'-' if value < 0 else ''}<an integer of {value.bit_length()} bits>"
    text = repr(value)
    return text if len(text) <= 80 else text[:75] + "..."


def _bound(value: Any, which: str, name: str | None) -> float:
    default = -math.inf if which == "min" else math.inf
    if value is None:
        return default
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ParameterError(
            f"parameter {name!r}: {which}={value!r} is not a number (use None for no bound)", name
        ) from None
    except OverflowError:
        raise ParameterError(f"parameter {name!r}: {which}={_shown(value)} is too large for a float "
                             "(use None for no bound)", name) from None
    if math.isnan(out):
        raise ParameterError(f"parameter {name!r}: {which} is NaN (use None for no bound)", name)
    if which == "min" and out == math.inf or which == "max" and out == -math.inf:
        raise ParameterError(f"parameter {name!r}: {which}={out} excludes every value", name)
    return out


class Parameter:
    """A fit variable: a value plus how a fit may change it.

    Parameters
    ----------
    value : float, optional
        Starting value (the best-fit value after a fit). May be None for a
        parameter defined by ``expr``.
    vary : bool, default True
        Whether the fit varies this parameter. A parameter with ``expr`` is
        never varied; giving ``expr`` sets ``vary`` to False (also when both
        are given here: the expression wins). Setting ``vary = True`` later
        removes the expression, as in lmfit 1.3.
    min, max : float, optional
        Bounds; None means unbounded on that side.
    name : str, optional
        Set by :class:`Parameters` when the parameter is added.
    expr : str, optional
        A constraint expression of other parameters (see :mod:`fitcore.constraints`).

    Attributes
    ----------
    stderr : float or None
        Estimated standard error after a fit, None when not estimated.
    correl : dict or None
        Correlation coefficients with the other varied parameters.
    init_value : float or None
        The value this parameter had when the last fit started. A refit by the
        same Minimizer from the value its previous fit left (``mi.leastsq()``
        after ``mi = minimize(...)``, manual section 4.2) keeps the original
        start; setting the value yourself starts anew.

    Examples
    --------
    >>> p = Parameter(value=2.0, min=0)
    >>> p.value, p.min, p.max
    (2.0, 0.0, inf)
    """

    __slots__ = ("name", "_value", "_vary", "_min", "_max", "_expr", "stderr", "correl", "init_value",
                 "brute_step", "user_data")

    def __init__(
        self,
        *args: Any,
        value: float | None = None,
        vary: bool = True,
        min: float | None = None,
        max: float | None = None,
        name: str | None = None,
        expr: str | None = None,
        brute_step: float | None = None,
        user_data: Any = None,
    ) -> None:
        given: dict[str, Any] = {"value": value, "vary": vary, "min": min, "max": max, "name": name, "expr": expr}
        if args:
            order = _LMFIT_ORDER if isinstance(args[0], str) else _MANUAL_ORDER
            if len(args) > len(order):
                raise TypeError(f"Parameter takes at most {len(order)} positional arguments "
                                f"({', '.join(order)}), got {len(args)}")
            defaults = {"value": None, "vary": True, "min": None, "max": None, "name": None, "expr": None}
            for key, arg in zip(order, args):
                if given[key] is not defaults[key]:
                    raise TypeError(f"Parameter got {key!r} both by position and by keyword")
                given[key] = arg
        name = given["name"]
        self.name = None if name is None else check_name(name)
        self._value: float | None = None
        self._min = _bound(given["min"], "min", name)
        self._max = _bound(given["max"], "max", name)
        self._check_bounds(self._min, self._max)
        self._expr: str | None = None
        self._vary = bool(given["vary"])
        self.value = given["value"]  # validated by the property
        self.expr = given["expr"]
        self.stderr: float | None = None
        self.correl: dict[str, float] | None = None
        self.init_value: float | None = self._value
        self.brute_step = brute_step
        self.user_data = user_data

    # -- validated attributes ---------------------------------------------------------------
    @property
    def value(self) -> float | None:
        """The parameter's current value."""
        return self._value

    @value.setter
    def value(self, val: float | None) -> None:
        if val is None:
            self._value = None
            return
        if isinstance(val, Parameter):
            raise ParameterError(
                f"parameter {self.name!r}: value is the Parameter {val.name!r}; its bounds, vary and expression "
                "would be lost. Add the Parameter itself (params.add(par)) or give its number (float(par))",
                self.name,
            )
        try:
            fval = float(val)
        except (TypeError, ValueError):
            raise ParameterError(f"parameter {self.name!r}: value {val!r} is not a number", self.name) from None
        except OverflowError:
            raise ParameterError(f"parameter {self.name!r}: value {_shown(val)} is too large for a float "
                                 "(the largest is about 1.8e308)", self.name) from None
        if not math.isfinite(fval):
            raise ParameterError(
                f"parameter {self.name!r}: value {fval} is not finite; give a finite starting value", self.name
            )
        self._value = fval

    @property
    def vary(self) -> bool:
        """Whether a fit varies this parameter; setting it True removes any expression."""
        return self._vary

    @vary.setter
    def vary(self, val: bool) -> None:
        # As in lmfit 1.3: varying an expression parameter frees it from its
        # expression; it starts the next fit from its current value.
        self._vary = bool(val)
        if self._vary:
            self._expr = None

    @property
    def min(self) -> float:
        """Lower bound (``-inf`` when unbounded)."""
        return self._min

    @min.setter
    def min(self, val: float | None) -> None:
        new = _bound(val, "min", self.name)
        self._check_bounds(new, self._max)
        self._min = new

    @property
    def max(self) -> float:
        """Upper bound (``inf`` when unbounded)."""
        return self._max

    @max.setter
    def max(self, val: float | None) -> None:
        new = _bound(val, "max", self.name)
        self._check_bounds(self._min, new)
        self._max = new

    @property
    def expr(self) -> str | None:
        """Constraint expression, or None."""
        return self._expr

    @expr.setter
    def expr(self, val: str | None) -> None:
        if val is not None:
            if not isinstance(val, str):
                raise ParameterError(
                    f"parameter {self.name!r}: expr must be a string, not {type(val).__name__}", self.name
                )
            val = val.strip()
            if not val:
                val = None
        self._expr = val
        if val is not None:
            self._vary = False

    def _check_bounds(self, lo: float, hi: float) -> None:
        if lo >= hi:
            raise ParameterError(
                f"parameter {self.name!r}: min ({lo}) must be less than max ({hi}); "
                "to fix a parameter use vary=False, and to change both bounds at once use "
                "Parameter.set(min=..., max=...)",
                self.name,
            )

    def set(
        self,
        value: float | None = None,
        vary: bool | None = None,
        min: float | None = None,
        max: float | None = None,
        expr: str | None = None,
    ) -> None:
        """Update several attributes at once; arguments left as None are unchanged.

        Bounds are checked together, so ``set(min=5, max=6)`` works whatever the
        old bounds were. Use ``expr=""`` to remove an expression. ``vary=True``
        also removes it (as setting :attr:`vary` does), unless ``expr`` is given
        too: then ``vary`` is applied first and the new expression wins, so
        ``set(vary=True, expr="2*a")`` leaves a computed parameter (lmfit's order).
        """
        lo = self._min if min is None else _bound(min, "min", self.name)
        hi = self._max if max is None else _bound(max, "max", self.name)
        self._check_bounds(lo, hi)
        self._min, self._max = lo, hi
        if value is not None:
            self.value = value
        if vary is not None:
            self.vary = vary
        if expr is not None:
            self.expr = expr

    # -- a Parameter acts as its value in arithmetic (as lmfit's does) ------------------------
    def _num(self) -> float:
        if self._value is None:
            raise ParameterError(f"parameter {self.name!r} has no value", self.name)
        return self._value

    def __float__(self) -> float:
        return self._num()

    def __int__(self) -> int:
        return int(self._num())

    def __index__(self) -> int:
        val = self._num()
        if not val.is_integer():
            raise TypeError(f"parameter {self.name!r} has the non-integer value {val} and cannot be used as an index")
        return int(val)

    def __trunc__(self) -> int:
        return math.trunc(self._num())

    def __floor__(self) -> int:
        return math.floor(self._num())

    def __ceil__(self) -> int:
        return math.ceil(self._num())

    def __round__(self, ndigits: int | None = None) -> float:
        return round(self._num(), ndigits)

    def __bool__(self) -> bool:
        return self._value != 0

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> Any:
        import numpy as np

        return np.array(self._num(), dtype=dtype)

    def __abs__(self) -> float:
        return abs(self._num())

    def __neg__(self) -> float:
        return -self._num()

    def __pos__(self) -> float:
        return +self._num()

    def __add__(self, other: Any) -> Any:
        return self._num() + other

    def __radd__(self, other: Any) -> Any:
        return other + self._num()

    def __sub__(self, other: Any) -> Any:
        return self._num() - other

    def __rsub__(self, other: Any) -> Any:
        return other - self._num()

    def __mul__(self, other: Any) -> Any:
        return self._num() * other

    def __rmul__(self, other: Any) -> Any:
        return other * self._num()

    def __truediv__(self, other: Any) -> Any:
        return self._num() / other

    def __rtruediv__(self, other: Any) -> Any:
        return other / self._num()

    def __floordiv__(self, other: Any) -> Any:
        return self._num() // other

    def __rfloordiv__(self, other: Any) -> Any:
        return other // self._num()

    def __mod__(self, other: Any) -> Any:
        return self._num() % other

    def __rmod__(self, other: Any) -> Any:
        return other % self._num()

    def __divmod__(self, other: Any) -> Any:
        return divmod(self._num(), other)

    def __rdivmod__(self, other: Any) -> Any:
        return divmod(other, self._num())

    def __pow__(self, other: Any) -> Any:
        return self._num() ** other

    def __rpow__(self, other: Any) -> Any:
        return other ** self._num()

    def __lt__(self, other: Any) -> Any:
        return self._num() < other

    def __le__(self, other: Any) -> Any:
        return self._num() <= other

    def __gt__(self, other: Any) -> Any:
        return self._num() > other

    def __ge__(self, other: Any) -> Any:
        return self._num() >= other

    def __eq__(self, other: object) -> Any:
        """Two Parameters are equal when every attribute is; against anything else the value is compared."""
        if isinstance(other, Parameter):
            return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)
        return self._value == other

    def __ne__(self, other: object) -> Any:
        eq = self.__eq__(other)
        return not eq if isinstance(eq, bool) else ~eq

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        bits = [repr(self._value)]
        if self._expr is not None:
            bits.append(f"expr={self._expr!r}")
        elif not self._vary:
            bits.append("fixed")
        if self.stderr is not None:
            bits.append(f"+/- {self.stderr:.3g}")
        if self._min != -math.inf or self._max != math.inf:
            bits.append(f"bounds=[{self._min}:{self._max}]")
        return f"<Parameter {self.name!r}, {', '.join(bits)}>"

    def __getstate__(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        for k in self.__slots__:
            object.__setattr__(self, k, state.get(k))  # brute_step, user_data: None in older pickles



class Parameters(dict):
    """An ordered dict of :class:`Parameter`, keyed by name.

    Keys must be valid Python identifiers that are not keywords; values must be
    :class:`Parameter`. Insertion order is kept and is part of the API.
    ``params[key] = par`` stores ``par`` itself when it has no name or is
    named ``key``; a Parameter already named otherwise (one of another set,
    say) is stored as a copy named ``key``, and the original keeps its name.
    Saving and loading as JSON is :mod:`fitcore.serialize`.

    Examples
    --------
    >>> p = Parameters()
    >>> p.add('amp', value=10)
    >>> p.add_many(('cen', 1.2, True, 0.5, 2.0), ('wid', 0.8))
    >>> list(p)
    ['amp', 'cen', 'wid']
    """

    def __setitem__(self, key: str, par: Parameter) -> None:
        check_name(key)
        if not isinstance(par, Parameter):
            raise ParameterError(
                f"Parameters[{key!r}] must be a Parameter, not {type(par).__name__}; "
                f"use params.add({key!r}, value=...)",
                key,
            )
        if par.name is not None and par.name != key:
            # a Parameter has one name: renaming it would rename it in the set it already belongs to
            par = copy.deepcopy(par)
        par.name = key
        dict.__setitem__(self, key, par)

    def update(self, other: Any = (), /, **kw: Parameter) -> None:
        """Add or replace parameters, validating each like ``params[name] = par``."""
        items = other.items() if isinstance(other, Mapping) else other
        for key, par in items:
            self[key] = par
        for key, par in kw.items():
            self[key] = par

    def setdefault(self, key: str, default: Parameter | None = None) -> Parameter:
        """Return ``self[key]``, adding ``default`` first if the key is missing."""
        if key not in self:
            self[key] = default if default is not None else Parameter()
        return self[key]

    def add(
        self,
        name: str | Parameter,
        value: float | None = None,
        vary: bool = True,
        min: float | None = None,
        max: float | None = None,
        expr: str | None = None,
        brute_step: float | None = None,
    ) -> None:
        """Add a parameter.

        Parameters
        ----------
        name : str or Parameter
            The new parameter's name (the other arguments go to :class:`Parameter`), or a
            named :class:`Parameter`, added as it is (bounds, ``vary`` and ``expr`` kept).
        value, vary, min, max, expr, brute_step
            As for :class:`Parameter`; not allowed together with a Parameter.
        """
        if isinstance(name, Parameter):
            if (value, vary, min, max, expr, brute_step) != (None, True, None, None, None, None):
                raise ParameterError(
                    f"add: a Parameter ({name.name!r}) was given with other arguments; set its attributes "
                    "on the Parameter itself, or give a name instead",
                    name.name,
                )
            if name.name is None:
                raise ParameterError("add: a Parameter given without a name; give it one: Parameter('a', 1.0)")
            self[name.name] = name
            return
        check_name(name)
        self[name] = Parameter(value=value, vary=vary, min=min, max=max, name=name, expr=expr,
                               brute_step=brute_step)

    def set(self, **kws: Any) -> None:
        """Set or add several parameters by keyword: ``params.set(amp=5, cen={'value': 1, 'min': 0})``.

        A number sets the value (adding the parameter when it is missing); a dict sets the
        attributes it names (``value``, ``vary``, ``min``, ``max``, ``expr``, ``brute_step``,
        ``is_init_value``); a :class:`Parameter` is added as it is.
        """
        allowed = ("value", "vary", "min", "max", "expr", "brute_step", "is_init_value")
        for name, spec in kws.items():
            if isinstance(spec, Parameter):
                self[name] = spec
                continue
            if not isinstance(spec, Mapping):
                spec = {"value": spec}
            unknown = sorted(set(spec) - set(allowed))
            if unknown:
                raise ParameterError(
                    f"parameter {name!r}: unknown attribute {unknown[0]!r}; allowed: {', '.join(allowed)}", name
                )
            spec = dict(spec)
            is_init = bool(spec.pop("is_init_value", True))
            brute = spec.pop("brute_step", None)
            if name not in self:
                self.add(name, **{k: v for k, v in spec.items() if k in ("value", "vary", "min", "max", "expr")})
            else:
                par = self[name]
                init = par.init_value
                if "expr" in spec:
                    par.expr = spec["expr"] if spec["expr"] is not None else ""
                par.set(value=spec.get("value"), vary=spec.get("vary"), min=spec.get("min"), max=spec.get("max"))
                par.init_value = par.value if is_init else init
            if brute is not None:
                self[name].brute_step = brute

    def add_many(self, *parlist: tuple[Any, ...] | Parameter) -> None:
        """Add several parameters from tuples ``(name, value, vary, min, max, expr)``.

        Trailing entries may be left out and take :meth:`add`'s defaults, so
        ``('a', 0.1)`` is a free parameter ``a`` starting at 0.1. A
        :class:`Parameter` with a name may be given instead of a tuple.
        """
        for entry in parlist:
            if isinstance(entry, Parameter):
                if entry.name is None:
                    raise ParameterError("add_many: a Parameter given without a name; give it name=...")
                self[entry.name] = entry
                continue
            if not isinstance(entry, (tuple, list)) or not 1 <= len(entry) <= 6:
                raise ParameterError(
                    f"add_many: each entry must be a tuple (name, value, vary, min, max, expr) "
                    f"with 1 to 6 items, got {entry!r}"
                )
            self.add(*entry)

    def __add__(self, other: Parameters) -> Parameters:
        """Return a copy of these parameters with copies of ``other``'s added (replacing equal names)."""
        if not isinstance(other, Parameters):
            raise TypeError(f"can only add Parameters to Parameters, not {type(other).__name__}")
        out = self.copy()
        out.update(other.copy())
        return out

    def __iadd__(self, other: Parameters) -> Parameters:
        """Add ``other``'s parameters to these (replacing equal names)."""
        if not isinstance(other, Parameters):
            raise TypeError(f"can only add Parameters to Parameters, not {type(other).__name__}")
        self.update(other)
        return self

    # -- copies, state ------------------------------------------------------------------------
    def copy(self) -> Parameters:
        """Return a deep copy (of the same class): changing the copy's parameters leaves these untouched."""
        return self.__deepcopy__({})

    def __copy__(self) -> Parameters:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> Parameters:
        import copy

        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for key, par in self.items():
            # every attribute is immutable (numbers, strings, None) except correl (floats) and user_data
            dup = Parameter.__new__(Parameter)
            dup.__setstate__({k: getattr(par, k) for k in Parameter.__slots__})
            if par.correl is not None:
                dup.correl = dict(par.correl)
            if par.user_data is not None:
                dup.user_data = copy.deepcopy(par.user_data, memo)
            dict.__setitem__(new, key, dup)
        if self.__dict__:  # a subclass's own attributes
            new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    def __reduce__(self) -> tuple[Any, ...]:
        state = self.__dict__ or None  # a subclass's own attributes
        return (_new_parameters, (type(self),), state, None, iter(self.items()))

    def valuesdict(self) -> dict[str, float | None]:
        """Return ``{name: value}`` for every parameter, in order."""
        return {k: p._value for k, p in self.items()}

    # -- display ------------------------------------------------------------------------------
    def __repr__(self) -> str:
        inner = ", ".join(repr(p) for p in self.values())
        return f"Parameters([{inner}])"

    def _rows(self) -> list[list[str]]:
        rows = [["name", "value", "stderr", "vary", "min", "max", "expr"]]
        for name, p in self.items():
            rows.append([
                name,
                "None" if p.value is None else f"{p.value:.7g}",
                "None" if p.stderr is None else f"{p.stderr:.4g}",
                str(p.vary),
                f"{p.min:.7g}",
                f"{p.max:.7g}",
                p.expr or "",
            ])
        return rows

    def pretty_repr(self) -> str:
        """Return the table that :meth:`pretty_print` prints."""
        rows = self._rows()
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)

    def pretty_print(self) -> None:
        """Print a table of name, value, stderr, vary, bounds and expression."""
        print(self.pretty_repr())

    def _repr_html_(self) -> str:
        import html

        rows = self._rows()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
        return f"<table><tr>{head}</tr>{body}</table>"


def write_values(pars: Sequence[Parameter], values: Iterable[float]) -> None:
    """Set the values of ``pars`` during a fit, unchecked.

    The fit loop writes the engine's trial values here, which may be NaN
    under ``nan_policy='propagate'``; the ``value`` property would refuse them.
    """
    for par, val in zip(pars, values):
        par._value = val


@contextmanager
def restored_on_error(params: Parameters) -> Iterator[None]:
    """Put back every parameter's value, stderr, correl and init_value if the block raises.

    A fit that raises (the user's function, the engine, ``KeyboardInterrupt``)
    leaves the user's Parameters as they were before it started.
    """
    saved = [(par, par._value, par.stderr, par.correl, par.init_value) for par in params.values()]
    try:
        yield
    except BaseException:
        for par, value, stderr, correl, init_value in saved:
            par._value, par.stderr, par.correl, par.init_value = value, stderr, correl, init_value
        raise


def _new_parameters(cls: type[Parameters]) -> Parameters:
    """Create an empty ``cls`` without calling its ``__init__`` (unpickling; items follow)."""
    return cls.__new__(cls)


def create_params(**kws: Any) -> Parameters:
    """Return new :class:`Parameters` from keywords: ``create_params(amp=dict(value=1, min=0), cen=2)``.

    Parameters
    ----------
    **kws
        Parameter names; each value is a number (the starting value), a dict of
        :class:`Parameter` attributes (``value``, ``vary``, ``min``, ``max``, ``expr``,
        ``brute_step``) or a :class:`Parameter`.

    Examples
    --------
    >>> p = create_params(amp=dict(value=1, min=0), cen=2, wid={'expr': 'cen/4'})
    >>> p['amp'].min, p['cen'].value, p['wid'].expr
    (0.0, 2.0, 'cen/4')
    """
    params = Parameters()
    params.set(**kws)
    return params
