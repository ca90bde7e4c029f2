"""scipy's BLAS and LAPACK wrappers, imported on first use (``import fitcore`` stays light).

Called through scipy's f2py wrappers they cost less per call than numpy's
dispatch (``blas.ddot`` of 1000 values: about a third of the instructions of
``numpy.dot``) and raise no floating-point warnings: overflow shows up as inf,
which the callers check for, with none of the cost of entering numpy's
``errstate``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LA"]


class _Lazy:
    def __getattr__(self, name: str) -> Any:
        from scipy.linalg import blas, lapack

        self.ddot, self.syrk, self.syevd = blas.ddot, blas.dsyrk, lapack.dsyevd
        return self.__dict__[name]


#: ``LA.ddot``, ``LA.syrk`` (BLAS) and ``LA.syevd`` (LAPACK), double precision
LA = _Lazy()
