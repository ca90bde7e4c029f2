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
from typing import TYPE_CHECKING, Any

import numpy as np

from . import serialize
from .errors import FitcoreError

if TYPE_CHECKING:
    from .model import Model
    from .model_result import ModelResult

__all__ = ["dumps_model", "loads_model", "dumps_result", "loads_result", "ModelFileError", "save_model", "load_model",
           "save_modelresult", "load_modelresult"]

MODEL_FORMAT = "fitcore.model"
RESULT_FORMAT = "fitcore.modelresult"
VERSION = 1
_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
_STATS = ("success", "message", "aborted", "nfev", "nfev_errorbars", "ier", "lmdif_message", "nit", "errorbars",
          "errorbars_reason", "nvarys", "ndata", "nfree", "chisqr", "redchi", "aic", "bic", "engine")


class ModelFileError(FitcoreError, ValueError):
    """A model or result file that cannot be read: the message says which entry and why."""


# -- values --------------------------------------------------------------------------------------
def _encode(value: Any) -> Any:
    """JSON-safe form of numbers, arrays (as ``{"array": ..., "dtype": ...}``), strings, lists and dicts."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, (complex, np.complexfloating)):
        return {"complex": [_encode(value.real), _encode(value.imag)]}
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "c":
            return {"array": [_encode(v) for v in value.real.ravel().tolist()],
                    "imag": [_encode(v) for v in value.imag.ravel().tolist()], "shape": list(value.shape)}
        if value.dtype.kind in "biuf":
            return {"array": [_encode(v) for v in value.astype(float).ravel().tolist()], "shape": list(value.shape)}
        raise ModelFileError(f"cannot save an array of dtype {value.dtype} as JSON")
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return {"dict": {str(k): _encode(v) for k, v in value.items()}}
    raise ModelFileError(f"cannot save a {type(value).__name__} as JSON (numbers, strings, arrays, lists and "
                         "dicts can be saved)")


def _decode(value: Any, where: str) -> Any:
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, list):
        return [_decode(v, where) for v in value]
    if isinstance(value, dict):
        if set(value) == {"float"}:
            text = value["float"]
            if text not in ("inf", "-inf", "nan"):
                raise ModelFileError(f"{where}: {text!r} is not a special float (inf, -inf, nan)")
            return float(text)
        if set(value) == {"complex"}:
            re, im = (_decode(v, where) for v in value["complex"])
            return complex(re, im)
        if "array" in value and set(value) <= {"array", "imag", "shape"}:
            arr = np.array(_decode(value["array"], where), dtype=float)
            if "imag" in value:
                arr = arr + 1j * np.array(_decode(value["imag"], where), dtype=float)
            return arr.reshape(value.get("shape", arr.shape))
        if set(value) == {"dict"} and isinstance(value["dict"], dict):
            return {k: _decode(v, where) for k, v in value["dict"].items()}
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
def model_state(model: Model) -> dict[str, Any]:
    """The JSON-ready description of ``model``."""
    from .model import CompositeModel, Model

    if isinstance(model, CompositeModel):
        ops = {v: k for k, v in _OPS.items()}
        if model.op not in ops:
            raise ModelFileError("only composites made with + - * / can be saved")
        return {"composite": ops[model.op], "left": model_state(model.left), "right": model_state(model.right),
                "hints": _encode(model.param_hints)}
    state: dict[str, Any] = {"hints": _encode(model.param_hints), "opts": _encode(model.opts)}
    if type(model) is Model:
        state["function"] = _path_of(model.func, "model function")
        state["init"] = _encode(model._init_kws())
    else:
        state["class"] = _path_of(type(model), "model class")
        state["init"] = _encode(model._init_kws())
    return state


def model_from_state(state: Any, funcdefs: Mapping[str, Any] | None, where: str = "model") -> Model:
    """Rebuild a model from :func:`model_state`'s description."""
    from .model import CompositeModel, Model

    if not isinstance(state, dict):
        raise ModelFileError(f"{where}: expected an object")
    if "composite" in state:
        op = _OPS.get(state["composite"])
        if op is None:
            raise ModelFileError(f"{where}: unknown operator {state['composite']!r}; expected one of + - * /")
        out: Model = CompositeModel(model_from_state(state.get("left"), funcdefs, where + ".left"),
                                    model_from_state(state.get("right"), funcdefs, where + ".right"), op)
    else:
        init = _decode(state.get("init"), where + ".init")
        init = init if isinstance(init, dict) else {}
        opts = _decode(state.get("opts"), where + ".opts") or {}
        if "function" in state:
            func = _resolve(state["function"], funcdefs, where + ".function")
            if not callable(func):
                raise ModelFileError(f"{where}: {state['function']!r} is not callable")
            out = Model(func, **init, **opts)
        elif "class" in state:
            cls = _resolve(state["class"], funcdefs, where + ".class")
            if not (isinstance(cls, type) and issubclass(cls, Model)):
                raise ModelFileError(f"{where}: {state['class']!r} is not a Model class")
            out = cls(**init)
            out.opts.update(opts)
        else:
            raise ModelFileError(f"{where}: needs 'function', 'class' or 'composite'")
    hints = _decode(state.get("hints"), where + ".hints") or {}
    for name, hint in hints.items():
        out.param_hints[name] = dict(hint)
    return out


def dumps_model(model: Model, **kws: Any) -> str:
    """Return ``model`` as JSON text; ``kws`` go to :func:`json.dumps` (e.g. ``indent``)."""
    return json.dumps({"format": MODEL_FORMAT, "version": VERSION, "model": model_state(model)}, **kws)


def _header(text: str | bytes, fmt: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except (ValueError, TypeError, RecursionError) as exc:
        raise ModelFileError(f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise ModelFileError(f"not a fitcore file of format {fmt!r}")
    if doc.get("version") != VERSION:
        raise ModelFileError(f"version {doc.get('version')!r} is not supported (this fitcore reads {VERSION})")
    return doc


def loads_model(text: str | bytes, funcdefs: Mapping[str, Callable[..., Any]] | None = None) -> Model:
    """Build a model from :func:`dumps_model` text."""
    return model_from_state(_header(text, MODEL_FORMAT).get("model"), funcdefs)


# -- results -------------------------------------------------------------------------------------
def dumps_result(result: ModelResult, **kws: Any) -> str:
    """Return a ModelResult as JSON text (model, parameters, data, statistics)."""
    doc = {
        "format": RESULT_FORMAT, "version": VERSION,
        "model": model_state(result.model),
        "params": json.loads(serialize.dumps(result.params)),
        "init_params": json.loads(serialize.dumps(result.init_params)),
        "data": _encode(None if result.data is None else np.asarray(result.data)),
        "weights": _encode(None if result.weights is None else np.asarray(result.weights)),
        "userkws": {k: _encode(np.asarray(v) if isinstance(v, (list, tuple)) else v)
                    for k, v in result.userkws.items()},
        "method": result.method,
        "nan_policy": result.nan_policy,
        "scale_covar": result.scale_covar,
        "statistics": {k: _encode(getattr(result, k)) for k in _STATS},
        "var_names": list(result.var_names),
        "init_vals": _encode(list(result.init_vals)),
        "covar": _encode(None if result.covar is None else np.asarray(result.covar)),
        "residual": _encode(None if result.residual is None else np.asarray(result.residual)),
    }
    return json.dumps(doc, **kws)


def loads_result(text: str | bytes, funcdefs: Mapping[str, Callable[..., Any]] | None = None) -> ModelResult:
    """Rebuild a ModelResult from :func:`dumps_result` text; it is not refitted."""
    from .model_result import ModelResult, _all_args, _rsquared
    from .result import FitResult

    doc = _header(text, RESULT_FORMAT)
    model = model_from_state(doc.get("model"), funcdefs)
    params = serialize.loads(json.dumps(doc.get("params")))
    init_params = serialize.loads(json.dumps(doc.get("init_params")))
    userkws = {str(k): _decode(v, f"userkws[{k!r}]") for k, v in (doc.get("userkws") or {}).items()}
    data = _decode(doc.get("data"), "data")
    weights = _decode(doc.get("weights"), "weights")
    stats = {k: _decode(v, f"statistics.{k}") for k, v in (doc.get("statistics") or {}).items() if k in _STATS}
    engine = doc.get("method") or "leastsq"
    out = ModelResult(model, init_params, data=data, weights=weights, engine=engine, fcn_kws=userkws,
                      nan_policy=doc.get("nan_policy", "raise"), scale_covar=bool(doc.get("scale_covar", True)))
    out.params = params
    covar = _decode(doc.get("covar"), "covar")
    residual = _decode(doc.get("residual"), "residual")
    out.result = FitResult(params=params.copy(), var_names=tuple(doc.get("var_names") or ()),
                           init_vals=tuple(_decode(doc.get("init_vals"), "init_vals") or ()),
                           covar=covar, residual=residual, **{k: v for k, v in stats.items() if k != "engine"},
                           engine=stats.get("engine", engine))
    out.init_fit = model.eval(init_params, **userkws)
    out.best_fit = model.eval(params, **userkws)
    out.init_values = _all_args(model, init_params)
    out.best_values = _all_args(model, params)
    out.rsquared = _rsquared(data, out.best_fit)
    return out


# -- lmfit's file functions ----------------------------------------------------------------------
def save_model(model: Model, fname: str) -> None:
    """Write ``model`` as JSON to the file ``fname``."""
    with open(fname, "w") as fp:
        fp.write(dumps_model(model))


def load_model(fname: str, funcdefs: Mapping[str, Callable[..., Any]] | None = None) -> Model:
    """Read a model written by :func:`save_model`."""
    with open(fname) as fp:
        return loads_model(fp.read(), funcdefs)


def save_modelresult(result: ModelResult, fname: str) -> None:
    """Write a ModelResult as JSON to the file ``fname``."""
    with open(fname, "w") as fp:
        fp.write(dumps_result(result))


def load_modelresult(fname: str, funcdefs: Mapping[str, Callable[..., Any]] | None = None) -> ModelResult:
    """Read a ModelResult written by :func:`save_modelresult` (it is not refitted)."""
    with open(fname) as fp:
        return loads_result(fp.read(), funcdefs)
