"""Models by name: ``fitcore.Model('gaussian', prefix='p1_')``.

Models are registered by plugins through the ``fitcore_models`` hook (see
:mod:`fitcore.hookspecs` and :class:`fitcore.specs.ModelSpec`); fitcore's own
distribution registers the built-in models of :mod:`fitcore.models` through
that same hook (:mod:`fitcore.models_plugin`).
"""

from __future__ import annotations

from typing import Any

from .errors import ModelNotFoundError
from .plugins import get_model_info

__all__ = ["get_model", "ModelNotFoundError"]


def get_model(name: str) -> Any:
    """Return the model class registered as ``name`` (bare or ``'<distribution>:<name>'``).

    Raises
    ------
    ModelNotFoundError
        No model of that name; the message lists the registered ones.
    TypeError
        The registered object is not a Model class.
    """
    info = get_model_info(name)
    cls = info.load()
    if not (isinstance(cls, type) and callable(getattr(cls, "make_params", None))):
        raise TypeError(f"model {name!r} from {info.distribution} is {cls!r}, not a Model class")
    return cls
