"""fitcore.stacked_linalg: Cholesky solves for stacks of small positive definite matrices."""

from __future__ import annotations

import numpy as np
import pytest

from fitcore.stacked_linalg import cholesky_solve


def test_cholesky_solve_matches_numpy_solve_for_every_matrix():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(50, 12, 5))
    s = np.swapaxes(a, 1, 2) @ a
    b = rng.normal(size=(50, 5))
    x = cholesky_solve(np.linalg.cholesky(s), b)
    np.testing.assert_allclose(x, np.linalg.solve(s, b[..., None])[..., 0], rtol=1e-10)
    np.testing.assert_allclose(np.einsum("kij,kj->ki", s, x), b, atol=1e-10)


def test_cholesky_solve_refuses_mismatched_shapes():
    lower = np.broadcast_to(np.eye(3), (4, 3, 3))
    with pytest.raises(ValueError, match=r"b has shape \(4, 2\); .* need \(4, 3\)"):
        cholesky_solve(lower, np.ones((4, 2)))
