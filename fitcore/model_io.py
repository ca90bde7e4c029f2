"""Saving and loading Models and ModelResults as JSON.

A model is written as the import path of its function (``"package.module:function"``)
or, for a model class such as :class:`fitcore.models.GaussianModel`, of its class with
the constructor's keywords; a composite as its operator and both sides. Nothing is
pickled, so a file from someone else runs no code of theirs beyond importing the
functions it names; ``funcdefs`` supplies functions that cannot be imported (defined
in a script or a notebook), by name.

A result adds the parameters (the :mod:`fitcore.serialize` format), the starting
parameters, the data, weights and independent variables (arrays as lists, complex
numbers as ``[re, im]`` pairs) and the statistics; :func:`loads_result` rebuilds a
:class:`~fitcore.model_result.ModelResult` whose ``eval``, reports and plots work
without refitting.
"""

from __future__ import annotations

import importlib
import json
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .errors import FitcoreError

__all__ = ["ModelFileError", "encode", "decode", "model_state", "model_from_state", "dumps_model", "loads_model",
           "save_model", "load_model", "check_header", "RESULT_FORMAT", "VERSION"]

MODEL_FORMAT = "fitcore.model"
RESULT_FORMAT = "fitcore.modelresult"
VERSION = 1
_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


class ModelFileError(FitcoreError, ValueError):
    """A model or result file that cannot be read: the message says which entry and why."""


# -- values --------------------------------------------------------------------------------------
def encode(value: Any) -> Any:
    """JSON-safe form of numbers, arrays (as ``{"array": ..., "dtype": ...}``), strings, lists and dicts."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, (complex, np.complexfloating)):
        return {"complex": [encode(value.real), encode(value.imag)]}
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "c":
            return {"array": [encode(v) for v in value.real.ravel().tolist()],
                    "imag": [encode(v) for v in value.imag.ravel().tolist()], "shape": list(value.shape)}
        if value.dtype.kind in "biuf":
            return {"array": [encode(v) for v in value.astype(float).ravel().tolist()], "shape": list(value.shape)}
        raise ModelFileError(f"cannot save an array of dtype {value.dtype} as JSON")
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {"dict": {str(k): encode(v) for k, v in value.items()}}
    raise ModelFileError(f"cannot save a {type(value).__name__} as JSON (numbers, strings, arrays, lists and "
                         "dicts can be saved)")


def decode(value: Any, where: str) -> Any:
    """Return the value :func:`encode` wrote; ``where`` names the entry in error messages."""
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, list):
        return [decode(v, where) for v in value]
    if isinstance(value, dict):
        if set(value) == {"float"}:
            text = value["float"]
            if text not in ("inf", "-inf", "nan"):
                raise ModelFileError(f"{where}: {text!r} is not a special float (inf, -inf, nan)")
            return float(text)
        if set(value) == {"complex"}:
            re, im = (decode(v, where) for v in value["complex"])
            return complex(re, im)
        if "array" in value and set(value) <= {"array", "imag", "shape"}:
            arr = np.array(decode(value["array"], where), dtype=float)
            if "imag" in value:
                arr = arr + 1j * np.array(decode(value["imag"], where), dtype=float)
            return arr.reshape(value.get("shape", arr.shape))
        if set(value) == {"dict"} and isinstance(value["dict"], dict):
            return {k: decode(v, where) for k, v in value["dict"].items()}
    raise ModelFileError(f"{where}: unexpected value {str(value)[:60]!r}")


# -- functions and classes by import path --------------------------------------------------------
def _path_of(obj: Any, what: str) -> str:
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        raise ModelFileError(f"{what} {qualname or obj!r} cannot be saved by import path (it is a lambda or "
                             "defined inside a function); define it at the top level of a module or script")
    return f"{module}:{qualname}"  # a script's own functions: '__main__:name', found again by name or funcdefs


def _resolve(path: str, funcdefs: Mapping[str, Any] | None, where: str) -> Any:
    if not isinstance(path, str):
        raise ModelFileError(f"{where}: expected an import path string, not {type(path).__name__}")
    short = path.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
    if funcdefs:
        for key in (path, short):
            if key in funcdefs:
                return funcdefs[key]
    module, _, qualname = path.partition(":")
    if not module or not qualname or not all(p.isidentifier() for p in module.split(".") + qualname.split(".")):
        raise ModelFileError(f"{where}: {path!r} is not an import path 'module:name'")
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ModelFileError(f"{where}: cannot import {path!r} ({exc}); pass funcdefs={{{short!r}: function}}") \
            from None
    return obj


# -- models --------------------------------------------------------------------------------------
#: import paths of fitcore's own model classes, used for models saved by their function
_MODEL_CLASS = "fitcore.model:Model"
_COMPOSITE_CLASS = "fitcore.model:CompositeModel"


def model_state(model: Any) -> dict[str, Any]:
    """Return the JSON-ready description of ``model`` (a Model, a built-in model or a composite)."""
    if hasattr(model, "left") and hasattr(model, "right"):
        ops = {v: k for k, v in _OPS.items()}
        if model.op not in ops:
            raise ModelFileError("only composites made with + - * / can be saved")
        return {"composite": ops[model.op], "left": model_state(model.left), "right": model_state(model.right),
                "hints": encode(model.param_hints)}
    state: dict[str, Any] = {"hints": encode(model.param_hints), "opts": encode(model.opts),
                             "init": encode(model.init_kws())}
    cls = _path_of(type(model), "model class")
    if cls == _MODEL_CLASS:
        state["function"] = _path_of(model.func, "model function")
    else:
        state["class"] = cls
    return state


def _model_class(path: str, funcdefs: Mapping[str, Any] | None, where: str) -> Any:
    cls = _resolve(path, funcdefs, where)
    if not (isinstance(cls, type) and callable(getattr(cls, "make_params", None))
            and callable(getattr(cls, "eval", None))):
        raise ModelFileError(f"{where}: {path!r} is not a Model class")
    return cls


def model_from_state(state: Any, funcdefs: Mapping[str, Any] | None, where: str = "model") -> Any:
    """Rebuild a model from :func:`model_state`'s description (classes and functions found by import path)."""
    if not isinstance(state, dict):
        raise ModelFileError(f"{where}: expected an object")
    if "composite" in state:
        op = _OPS.get(state["composite"])
        if op is None:
            raise ModelFileError(f"{where}: unknown operator {state['composite']!r}; expected one of + - * /")
        composite = _model_class(_COMPOSITE_CLASS, None, where)
        out = composite(model_from_state(state.get("left"), funcdefs, where + ".left"),
                        model_from_state(state.get("right"), funcdefs, where + ".right"), op)
    else:
        init = decode(state.get("init"), where + ".init")
        init = init if isinstance(init, dict) else {}
        opts = decode(state.get("opts"), where + ".opts") or {}
        if "function" in state:
            func = _resolve(state["function"], funcdefs, where + ".function")
            if not callable(func):
                raise ModelFileError(f"{where}: {state['function']!r} is not callable")
            out = _model_class(_MODEL_CLASS, None, where)(func, **init, **opts)
        elif "class" in state:
            out = _model_class(state["class"], funcdefs, where + ".class")(**init)
            out.opts.update(opts)
        else:
            raise ModelFileError(f"{where}: needs 'function', 'class' or 'composite'")
    hints = decode(state.get("hints"), where + ".hints") or {}
    for name, hint in hints.items():
        out.param_hints[name] = dict(hint)
    return out


def dumps_model(model: Any, **kws: Any) -> str:
    """Return ``model`` as JSON text; ``kws`` go to :func:`json.dumps` (e.g. ``indent``)."""
    return json.dumps({"format": MODEL_FORMAT, "version": VERSION, "model": model_state(model)}, **kws)


def check_header(text: str | bytes, fmt: str) -> dict[str, Any]:
    """Parse ``text`` and check it is a fitcore file of format ``fmt`` and this version; return it."""
    try:
        doc = json.loads(text)
    except (ValueError, TypeError, RecursionError) as exc:
        raise ModelFileError(f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise ModelFileError(f"not a fitcore file of format {fmt!r}")
    if doc.get("version") != VERSION:
        raise ModelFileError(f"version {doc.get('version')!r} is not supported (this fitcore reads {VERSION})")
    return doc


def loads_model(text: str | bytes, funcdefs: Mapping[str, Callable[..., Any]] | None = None) -> Any:
    """Build a model from :func:`dumps_model` text."""
    return model_from_state(check_header(text, MODEL_FORMAT).get("model"), funcdefs)


# -- lmfit's file functions ----------------------------------------------------------------------
def save_model(model: Any, fname: str) -> None:
    """Write ``model`` as JSON to the file ``fname``."""
    with open(fname, "w") as fp:
        fp.write(dumps_model(model))


def load_model(fname: str, funcdefs: Mapping[str, Callable[..., Any]] | None = None) -> Any:
    """Read a model written by :func:`save_model`."""
    with open(fname) as fp:
        return loads_model(fp.read(), funcdefs)
