"""Shared fixtures: generated data with known true values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fitcore import EngineSpec, ProbFuncSpec, hookimpl, plugins
from fitcore.shipped import SHIPPED


def _installed(dist: str) -> bool:
    """Whether a distribution is installed, from its metadata alone (no plugin is imported)."""
    import importlib.metadata as md

    try:
        md.distribution(dist)
    except md.PackageNotFoundError:
        return False
    return True


def _shipped(kind: str) -> list[str]:
    return sorted(n for dist, kinds in SHIPPED.items() if _installed(dist) for n in kinds.get(kind, {}))


#: names of the engines and probability functions fitcore's own installed distributions provide, known
#: without loading any plugin, so that tests can be parametrized over them at collection time
SHIPPED_ENGINES = _shipped("engine")
SHIPPED_BATCHED_ENGINES = _shipped("batched_engine")
SHIPPED_PROB_FUNCS = _shipped("prob_func")

NIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nist_strd"


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, so every test sees the same noise."""
    return np.random.default_rng(12345)


@pytest.fixture
def damped_sine(rng):
    """x, data and true values of the manual's damped sine, with small noise."""
    x = np.linspace(0.0, 15.0, 301)
    truth = {"amp": 14.0, "shift": 0.21, "omega": 3.0, "decay": 0.01}
    model = truth["amp"] * np.sin(truth["omega"] * x + truth["shift"]) * np.exp(-x * x * truth["decay"])
    return x, model + rng.normal(scale=0.2, size=x.size), truth


@pytest.fixture
def toy_4_2():
    """x and y of the manual's section 4.2 toy problem, y = 1/(a x) + b with a = 0.1, b = 2, and noise."""
    x = np.linspace(0.3, 10, 100)
    return x, 1 / (0.1 * x) + 2 + 0.1 * np.random.default_rng(0).standard_normal(x.size)


def sine_residual(params, x, data=None):
    """The manual's damped-sine residual (data - model)."""
    v = params
    model = v["amp"].value * np.sin(x * v["omega"].value + v["shift"].value) * np.exp(-x * x * v["decay"].value)
    return model if data is None else data - model


@pytest.fixture
def fresh_registry(monkeypatch):
    """The installed plugins only, with no FITCORE_* switch set; the registry is reset around the test."""
    for var in ("FITCORE_DISABLE_PLUGIN_AUTOLOAD", "FITCORE_LOAD_PLUGINS", "FITCORE_STRICT_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    plugins.reset()
    yield
    plugins.reset()


class SpecPlugin:
    """A run-time plugin yielding the given EngineSpec / ProbFuncSpec objects."""

    def __init__(self, *specs):
        self.specs = specs

    @hookimpl
    def fitcore_engines(self):
        yield from (s for s in self.specs if isinstance(s, EngineSpec))

    @hookimpl
    def fitcore_prob_funcs(self):
        yield from (s for s in self.specs if isinstance(s, ProbFuncSpec))


@pytest.fixture
def info(request):
    """The installed engine named by an indirect parametrization, looked up when the test runs."""
    return plugins.get_engine(request.param)


@pytest.fixture(scope="session")
def kit_results():
    """The conformance kit's results for one plugin, each (kit, name) run once per session and then reused.

    Call it as ``kit_results(fitcore.testing.check_engine, name)``. The kit is deterministic for a given
    installed plugin, so ``fitcore check --all`` and the per-engine conformance tests read the same results
    instead of running every engine through the kit twice.
    """
    done: dict[tuple[str, str], list] = {}

    def results(kit, name):
        key = (kit.__name__, name)
        if key not in done:
            done[key] = kit(name, raise_on_failure=False)
        return done[key]

    return results


@pytest.fixture(scope="session")
def dask_client():
    """A client of a dask.distributed LocalCluster with two single-threaded worker processes, for the session.

    Started once and shared by every test that runs work on dask (fit_many, conf_interval), closed at the end.
    """
    import logging

    distributed = pytest.importorskip("distributed", reason="dask[distributed] is in the test extra")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as client:
        yield client
