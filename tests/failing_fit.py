"""The failing fit both failure test modules use: a model, its data, a recording residual, state snapshots."""

from __future__ import annotations

import numpy as np

import fitcore
from fitcore.parameters import Parameter

X = np.linspace(0.0, 5.0, 40)
DATA = 3.0 * np.exp(-X / 1.5) + 0.5


class Boom(Exception):
    """The user's own exception."""


def make_params(finite: bool = False) -> fitcore.Parameters:
    """Start values away from the answer, finite bounds on every parameter if asked."""
    p = fitcore.Parameters()
    p.add("amp", value=1.0, min=0.0, max=10.0 if finite else None)
    p.add("tau", value=1.0, min=0.1, max=10.0)
    p.add("off", value=0.0, min=-5.0 if finite else None, max=5.0 if finite else None)
    p.add("half", expr="amp / 2")
    for par in p.values():  # prior fit results that must survive a failed fit
        par.stderr, par.correl, par.init_value = 0.125, {"other": 0.5}, -1.0
    return p


def state(params: fitcore.Parameters) -> dict:
    """Everything a Parameter holds, for exact before/after comparison."""
    return {name: {k: getattr(par, k) for k in Parameter.__slots__} for name, par in params.items()}


class Recorder:
    """A residual function recording every call (chi-square and values), failing as told."""

    def __init__(self, fail_at: int | None = None, exc: BaseException | None = None, nan_at: int | None = None):
        self.calls = 0
        self.seen: list[tuple[float, dict]] = []
        self.fail_at, self.exc, self.nan_at = fail_at, exc, nan_at

    def __call__(self, p, x, data):
        self.calls += 1
        if self.fail_at is not None and self.calls >= self.fail_at:
            raise self.exc
        r = p["amp"].value * np.exp(-x / p["tau"].value) + p["off"].value - data
        if self.nan_at is not None and self.calls >= self.nan_at:
            r[3] = np.nan
        self.seen.append((float(r @ r), {k: v.value for k, v in p.items()}))
        return r
