"""The plugin contract: two hooks, each yielding frozen, validated specs.

A plugin is any module or object with functions marked ``@hookimpl``, found
through an entry point in the ``fitcore`` group::

    # pyproject.toml
    [project.entry-points.fitcore]
    myengine = "my_package.plugin"

    # my_package/plugin.py
    from fitcore import EngineSpec, hookimpl

    fitcore_contract = "1.1"  # the contract version it was written for (see fitcore.contract)

    @hookimpl
    def fitcore_engines():
        yield EngineSpec(name="myengine", engine="my_package.engine:run", summary="...")

The plugin author's guide, ``docs/plugins.md``, builds a complete one; ``fitcore check NAME``
(:mod:`fitcore.testing`) runs the conformance kit on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .specs import EngineSpec, ModelSpec, ProbFuncSpec

__all__ = ["hookspec", "hookimpl", "FitcoreSpec", "PROJECT"]

PROJECT = "fitcore"  #: pluggy project name and entry-point group
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class FitcoreSpec:
    """Hook specifications. Implement any of them in a plugin with ``@hookimpl``."""

    @hookspec
    def fitcore_engines(self) -> Iterable[EngineSpec]:  # type: ignore[empty-body]
        """Yield the :class:`~fitcore.specs.EngineSpec` of each engine the plugin provides."""

    @hookspec
    def fitcore_prob_funcs(self) -> Iterable[ProbFuncSpec]:  # type: ignore[empty-body]
        """Yield the :class:`~fitcore.specs.ProbFuncSpec` of each probability function provided."""

    @hookspec
    def fitcore_models(self) -> Iterable[ModelSpec]:  # type: ignore[empty-body]
        """Yield the :class:`~fitcore.specs.ModelSpec` of each model (``fitcore.Model(name)``) provided."""
