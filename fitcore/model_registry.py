"""Models by name: ``Model('gaussian', prefix='p1_')``.

Models are registered by plugins through the ``fitcore_models`` hook (see
:mod:`fitcore.hookspecs`); fitcore's own distribution registers the built-in
models of :mod:`fitcore.models` through that same hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import FitcoreError, did_you_mean

__all__ = ["ModelInfo", "ModelNotFoundError", "get_model", "list_models"]


class ModelNotFoundError(FitcoreError, LookupError):
    """No registered model has the name asked for; the message lists the registered ones."""


@dataclass(frozen=True)
class ModelInfo:
    """A registered model: its name, where it comes from, and how to load its class."""

    name: str
    target: Any
    summary: str
    distribution: str
    version: str

    def load(self) -> Any:
        """Return the model class (importing it if registered by path)."""
        from .specs import resolve

        return resolve(self.target)


def _builtin() -> dict[str, ModelInfo]:
    from . import __version__
    from .models import BUILTIN_MODELS

    return {name: ModelInfo(name, cls, (cls.__doc__ or "").strip().splitlines()[0], "fitcore", __version__)
            for name, cls in BUILTIN_MODELS.items()}


def list_models() -> dict[str, ModelInfo]:
    """Return every registered model by name."""
    return _builtin()


def get_model(name: str) -> ModelInfo:
    """Return the registered model ``name``; raise naming the registered ones when there is none."""
    models = list_models()
    info = models.get(name)
    if info is None:
        raise ModelNotFoundError(f"no model named {name!r}.{did_you_mean(name, list(models))} Registered models: "
                          f"{', '.join(sorted(models))}")
    return info
