"""Saving and loading Parameters as JSON.

The format is a JSON object::

    {"format": "fitcore.parameters", "version": 1,
     "parameters": [{"name": "amp", "value": 13.9, "vary": true, "min": 0.0, "max": "inf",
                     "expr": null, "stderr": 0.05, "correl": {"decay": 0.58}, "init_value": 10.0},
                    ...]}

Floats are written with Python's shortest round-trip representation, so a
round trip is exact; infinite and NaN values are written as the strings
``"inf"``, ``"-inf"`` and ``"nan"`` so that the file stays standard JSON.

Parameter files may come from other people. :func:`loads` checks everything
before it creates anything: the format header, every key, every name, every
number, the bounds, and every expression (parsed and checked against the
constraint whitelist of :func:`fitcore.sandbox.check_expression`; names in
expressions are resolved when a fit starts), and that every name in a
``correl`` entry is a parameter of the file. Any problem raises
:class:`~fitcore.errors.ParameterError` (or its subclass
:class:`~fitcore.errors.ConstraintError`) naming the entry and the field.
"""

from __future__ import annotations

import json
import math
from typing import IO, Any

from .errors import ConstraintError, ParameterError
from .parameters import Parameter, Parameters, check_name
from .sandbox import check_expression, show_expression

__all__ = ["dumps", "loads", "dump", "load", "FORMAT", "VERSION"]

FORMAT = "fitcore.parameters"
VERSION = 1
_FIELDS = ("name", "value", "vary", "min", "max", "expr", "stderr", "correl", "init_value")
_SPECIAL = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}
MAX_PARAMETERS = 100_000  #: most parameters one file may hold


def _number_out(x: float | None) -> float | str | None:
    if x is None:
        return None
    x = float(x)
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def dumps(params: Parameters, indent: int | None = None) -> str:
    """Return ``params`` as a JSON string (see the module docstring for the format).

    Parameters
    ----------
    params : Parameters
        The parameters to save, with their bounds, expressions and fit results.
    indent : int, optional
        Indentation for a human-readable file; None writes one line.

    Correlations with names that are not parameters of ``params`` (one deleted
    after the fit) are not written.
    """
    records = []
    for name, p in params.items():
        correl = None
        if p.correl is not None:  # correlations with parameters no longer in the set went with them
            correl = {str(k): _number_out(v) for k, v in p.correl.items() if k in params and k != name}
        records.append({
            "name": name,
            "value": _number_out(p.value),
            "vary": bool(p.vary),
            "min": _number_out(p.min),
            "max": _number_out(p.max),
            "expr": p.expr,
            "stderr": _number_out(p.stderr),
            "correl": correl,
            "init_value": _number_out(p.init_value),
        })
    doc = {"format": FORMAT, "version": VERSION, "parameters": records}
    return json.dumps(doc, indent=indent, allow_nan=False)


def dump(params: Parameters, fp: IO[str], indent: int | None = None) -> None:
    """Write ``params`` as JSON to the text file ``fp``."""
    fp.write(dumps(params, indent=indent))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, val in pairs:
        if key in out:
            raise ParameterError(f"parameter file: key {key!r} appears twice in one object")
        out[key] = val
    return out


def _number_in(val: Any, where: str, allow_none: bool = True) -> float | None:
    if val is None:
        if allow_none:
            return None
        raise ParameterError(f"{where} is missing (null)")
    if isinstance(val, bool) or not isinstance(val, (int, float, str)):
        raise ParameterError(f"{where} must be a number, 'inf', '-inf' or 'nan', not {type(val).__name__} {val!r}")
    if isinstance(val, str):
        if val not in _SPECIAL:
            raise ParameterError(
                f"{where} is the string {val[:40]!r}; numbers are JSON numbers, or 'inf', '-inf', 'nan'"
            )
        return _SPECIAL[val]
    try:
        return float(val)
    except OverflowError:
        raise ParameterError(f"{where} is an integer of {len(str(val))} digits, too large for a float "
                             "(largest about 1.8e308)") from None


def _correl_in(val: Any, where: str) -> float:
    number = _number_in(val, where, allow_none=False)
    assert number is not None  # allow_none=False raised for null
    return number


def loads(text: str | bytes) -> Parameters:
    """Build a new Parameters from a JSON string written by :func:`dumps`.

    Raises
    ------
    ParameterError
        When the text is not valid JSON in this format, or an entry has a bad
        name, value, bound or flag (the message names the entry and field).
    ConstraintError
        When an expression is invalid or unsafe.
    """
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates)
    except ParameterError:
        raise
    except (ValueError, TypeError, RecursionError) as exc:
        raise ParameterError(f"parameter file is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ParameterError(f"not a fitcore parameter file: expected a JSON object with \"format\": {FORMAT!r}")
    if doc.get("version") != VERSION:
        raise ParameterError(
            f"parameter file version {doc.get('version')!r} is not supported (this fitcore reads {VERSION})"
        )
    extra = sorted(set(doc) - {"format", "version", "parameters"})
    if extra:
        raise ParameterError(f"parameter file: unknown top-level key {extra[0]!r}")
    records = doc.get("parameters")
    if not isinstance(records, list):
        raise ParameterError("parameter file: \"parameters\" must be a list of objects")
    if len(records) > MAX_PARAMETERS:
        raise ParameterError(f"parameter file holds {len(records)} parameters; the limit is {MAX_PARAMETERS}")
    built: dict[str, Parameter] = {}
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise ParameterError(f"parameter file: entry {i} must be an object, not {type(rec).__name__}")
        unknown = sorted(set(rec) - set(_FIELDS))
        if unknown:
            raise ParameterError(
                f"parameter file: entry {i} has unknown key {unknown[0]!r}; keys are {', '.join(_FIELDS)}"
            )
        name = check_name(rec.get("name"))
        if name in built:
            raise ParameterError(f"parameter file: parameter {name!r} appears twice", name)
        where = f"parameter {name!r}:"
        vary = rec.get("vary", True)
        if not isinstance(vary, bool):
            raise ParameterError(f"{where} vary must be true or false, not {vary!r}", name)
        expr = rec.get("expr")
        if expr is not None:
            if not isinstance(expr, str):
                raise ParameterError(f"{where} expr must be a string or null, not {type(expr).__name__}", name)
            if vary:
                raise ConstraintError(f"{where} has expr={show_expression(expr)} and vary=true; an expression "
                                      "parameter is computed, not fitted", name, expr)
            try:
                check_expression(expr)
            except ConstraintError as exc:
                raise ConstraintError(f"{where} {exc}", name, expr) from None
        value = _number_in(rec.get("value"), f"{where} value")
        lo = _number_in(rec.get("min"), f"{where} min")
        hi = _number_in(rec.get("max"), f"{where} max")
        par = Parameter(value=value, vary=vary, min=lo, max=hi, name=name, expr=expr)
        par.stderr = _number_in(rec.get("stderr"), f"{where} stderr")
        correl = rec.get("correl")
        if correl is not None:
            if not isinstance(correl, dict):
                raise ParameterError(f"{where} correl must be an object of name: number, or null", name)
            for other in correl:
                check_name(other)
            par.correl = {k: _correl_in(v, f"{where} correl[{k!r}]") for k, v in correl.items()}
        par.init_value = _number_in(rec.get("init_value"), f"{where} init_value")
        built[name] = par
    for name, par in built.items():
        for other in par.correl or ():
            if other not in built or other == name:
                what = "itself" if other == name else f"{other!r}, which is not a parameter in this file"
                raise ParameterError(f"parameter {name!r}: correl names {what}; correlations are with "
                                     "the other parameters", name)
    params = Parameters()
    for name, par in built.items():
        params[name] = par
    return params


def load(fp: IO[str] | IO[bytes]) -> Parameters:
    """Build a new Parameters from a JSON file written by :func:`dump`."""
    return loads(fp.read())
