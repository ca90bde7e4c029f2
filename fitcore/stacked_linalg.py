"""Solves with stacks of small symmetric positive definite matrices, shape ``(k, n, n)``.

numpy factorizes a stack of matrices in one call (``linalg.cholesky``) but has
no batched triangular solve: ``linalg.solve`` factorizes again, by LU. A
vectorized fit that already holds the Cholesky factors (it needs them to tell
singular matrices apart) solves with them here: the two substitutions as
``2 n`` array operations over the whole stack, ``n`` being the number of
varied parameters (small).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["cholesky_solve"]

Array = NDArray[np.float64]


def cholesky_solve(lower: Array, b: Array) -> Array:
    """Solve ``(L L^T) x = b`` for every matrix of a stack, given its Cholesky factor ``L``.

    Parameters
    ----------
    lower : ndarray, shape (k, n, n)
        Lower-triangular Cholesky factors (``numpy.linalg.cholesky``).
    b : ndarray, shape (k, n)
        One right-hand side per matrix.

    Returns
    -------
    ndarray, shape (k, n)
    """
    k, n = lower.shape[0], lower.shape[-1]
    if b.shape != (k, n):
        raise ValueError(f"b has shape {b.shape}; factors of shape {lower.shape} need ({k}, {n})")
    y = np.empty((k, n))
    for i in range(n):  # L y = b
        y[:, i] = (b[:, i] - np.einsum("kj,kj->k", lower[:, i, :i], y[:, :i])) / lower[:, i, i]
    x = np.empty((k, n))
    for i in range(n - 1, -1, -1):  # L^T x = y
        x[:, i] = (y[:, i] - np.einsum("kj,kj->k", lower[:, i + 1:, i], x[:, i + 1:])) / lower[:, i, i]
    return x
