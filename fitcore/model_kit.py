"""Conformance checks of a model plugin (``fitcore check --model NAME``; :func:`fitcore.testing.check_model`).

A model registered through the ``fitcore_models`` hook must build with no
arguments, name its parameters validly, make Parameters for exactly those
names, and, when its :class:`~fitcore.specs.ModelSpec` gives ``example`` values:
recover them by fitting from its own ``guess`` on data made from them, and have
analytic derivatives (when it declares any) that match central differences.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .parameters import check_name
from .plugins import get_model_info
from .specs import ModelSpec

__all__ = ["model_checks", "ModelKitWarning", "GUESS_RTOL", "DERIVATIVE_RTOL"]

#: a fit from ``guess`` recovers an example value within this fraction (or this much of its scale, near 0)
GUESS_RTOL = 2e-2
#: analytic derivatives agree with central differences within this fraction of each column's largest value
DERIVATIVE_RTOL = 1e-5


class ModelKitWarning(UserWarning):
    """A model check passed with a reservation (no example values, no guess, no analytic derivatives)."""


def _spec(name: str) -> ModelSpec:
    return get_model_info(name).spec


def _model(name: str) -> Any:
    cls = get_model_info(name).load()
    return cls()


def _example(name: str) -> tuple[Any, dict[str, float], np.ndarray] | None:
    spec = _spec(name)
    if spec.example is None:
        return None
    start, stop, num = spec.x
    return _model(name), dict(spec.example), np.linspace(float(start), float(stop), int(num))


def _say(message: str) -> None:
    warnings.warn(message, ModelKitWarning, stacklevel=3)


def check_model_builds(name: str) -> None:
    """The registered class builds with no arguments into a Model with an independent variable."""
    info = get_model_info(name)
    cls = info.load()
    assert isinstance(cls, type), f"{info.spec.model!r} is {cls!r}, not a class"
    model = cls()
    for attr in ("make_params", "eval", "fit", "param_names", "independent_vars"):
        assert hasattr(model, attr), f"{cls.__name__} has no {attr!r}: subclass fitcore.Model"
    assert model.independent_vars, f"{cls.__name__} has no independent variable"


def check_model_param_names(name: str) -> None:
    """Parameter names are valid identifiers and ``make_params()`` makes exactly them."""
    model = _model(name)
    names = list(model.param_names)
    assert names, "the model has no parameters"
    for n in names:
        check_name(n)
    made = list(model.make_params())
    assert made == names, f"make_params() made {made}, param_names is {names}"
    prefixed = type(model)(prefix="p1_")
    assert list(prefixed.param_names) == [f"p1_{n}" for n in names], \
        f"with prefix='p1_' the names are {list(prefixed.param_names)}"
    spec = _spec(name)
    if spec.example is not None:
        unknown = sorted(set(spec.example) - set(names))
        assert not unknown, f"example names {unknown} are not parameters ({', '.join(names)})"


def check_model_guess_recovers_example(name: str) -> None:
    """Data made from the spec's example values, fitted from ``guess``, gives those values back."""
    found = _example(name)
    if found is None:
        _say("the ModelSpec gives no example values: guess and fit were not checked")
        return
    model, truth, x = found
    clean = np.asarray(model.eval(x=x, **truth), dtype=float)
    scale = float(np.ptp(clean)) or 1.0
    data = clean + np.random.default_rng(20261204).normal(scale=1e-3 * scale, size=clean.shape)
    try:
        start = model.guess(data, x=x)
    except NotImplementedError:
        _say("the model has no guess(): starting from make_params() defaults")
        start = model.make_params()
    result = model.fit(data, start, x=x)
    assert result.success, f"the fit from guess() did not succeed: {result.message}"
    bad = []
    for pname, want in truth.items():
        got = result.params[pname].value
        if abs(got - want) > GUESS_RTOL * max(abs(want), 1.0):
            bad.append(f"{pname}={got:.6g} (true {want:.6g})")
    assert not bad, "fitting from guess() did not recover the example: " + ", ".join(bad)


def check_model_derivatives(name: str) -> None:
    """Analytic derivatives, when the model has them, match central differences at the example values."""
    found = _example(name)
    model = _model(name) if found is None else found[0]
    x = np.linspace(-3.0, 4.0, 57) if found is None else found[2]
    params = model.make_params(**({} if found is None else found[1]))
    derivs = model.derivatives(params, x=x)
    if derivs is None:
        _say("the model has no analytic derivatives (fits use differences)")
        return
    missing = sorted(set(model.param_names) & {n for n, p in params.items() if p.expr is None} - set(derivs))
    assert not missing, f"derivatives() gave no column for {missing}"
    for pname, column in derivs.items():
        h = 1e-6 * max(1.0, abs(params[pname].value))
        up, down = params.copy(), params.copy()
        up[pname].value += h
        down[pname].value -= h
        numeric = (np.asarray(model.eval(up, x=x)) - np.asarray(model.eval(down, x=x))) / (2 * h)
        err = float(np.max(np.abs(np.asarray(column) - numeric)))
        size = max(float(np.max(np.abs(numeric))), 1e-12)
        assert err <= DERIVATIVE_RTOL * size + 1e-9, \
            f"d/d{pname}: analytic and central differences differ by {err:.3g} (largest value {size:.3g})"


def model_checks(name: str) -> list[Callable[[str], None]]:
    """Return the checks for the registered model ``name``."""
    get_model_info(name)  # raises ModelNotFoundError naming the registered models
    return [check_model_builds, check_model_param_names, check_model_guess_recovers_example, check_model_derivatives]
