"""Standard errors of expression parameters from the free parameters' covariance (the delta method)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from .differences import CENTRAL, step

__all__ = ["propagate"]

Array = NDArray[np.float64]


def propagate(expressions: Callable[[Array], Mapping[str, float]], v: Array, cov: Array,
              names: Sequence[str]) -> dict[str, float]:
    """First-order standard error of every expression parameter: ``sqrt(g^T C g)``.

    Parameters
    ----------
    expressions : callable
        ``expressions(v) -> {name: value}`` of the expression parameters at
        external values ``v`` of the free parameters (evaluates the expressions
        only, never the residual).
    v : ndarray
        The free parameters' values.
    cov : ndarray
        Their covariance, in ``names`` order.
    names : sequence of str
        The free parameters.

    Returns
    -------
    dict
        Standard error by expression parameter; the gradient ``g`` comes from
        central differences (``2 * len(v)`` evaluations of the expressions).
    """
    v = np.asarray(v, dtype=float)
    cov = np.asarray(cov, dtype=float)
    if cov.shape != (v.size, v.size) or len(names) != v.size:
        raise ValueError(f"covariance of shape {cov.shape} for {v.size} values and names {tuple(names)}")
    grads: list[Array] = []
    keys: list[str] | None = None
    for j in range(v.size):
        h = step(float(v[j]), CENTRAL)
        up, down = v.copy(), v.copy()
        up[j] += h
        down[j] -= h
        high, low = expressions(up), expressions(down)
        if keys is None:
            keys = list(high)
        grads.append(np.array([high[k] - low[k] for k in keys], dtype=float) / (up[j] - down[j]))
    if not keys:
        return {}
    g = np.array(grads)  # g[j, k]: d expression k / d free parameter j
    var = np.einsum("jk,ji,ik->k", g, cov, g)
    return {k: math.sqrt(x) if x > 0.0 else 0.0 for k, x in zip(keys, var.tolist())}
