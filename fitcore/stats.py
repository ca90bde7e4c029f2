"""Built-in confidence-interval probability functions, registered as a plugin.

They reach fitcore through the ``fitcore_prob_funcs`` hook and an entry point
in the core's own ``pyproject.toml``, the same door a third party uses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from .hookspecs import hookimpl
from .specs import ProbFuncSpec

__all__ = ["FitStats", "f_test", "likelihood_ratio", "fitcore_prob_funcs"]


@dataclass(frozen=True)
class FitStats:
    """What a probability function reads of the best fit and of a constrained refit.

    Attributes
    ----------
    ndata, nvarys, nfree : int
        Data points, varied parameters and degrees of freedom.
    chisqr : float
        Chi-square (the cost, for a cost fit).
    redchi : float
        Reduced chi-square (NaN for a cost fit).
    objective : {'least_squares', 'cost'}
        Whether the fit minimized a sum of squares or a scalar cost.
    errordef : float
        The cost increase of one standard error (1 for chi-square, 0.5 for a
        negative log-likelihood).
    """

    ndata: int
    nvarys: int
    nfree: int
    chisqr: float
    redchi: float
    objective: str = "least_squares"
    errordef: float = 1.0

    def constrained(self, nfix: int, chisqr: float) -> FitStats:
        """Statistics of a refit of this fit with ``nfix`` parameters fixed that reached ``chisqr``."""
        nvarys = self.nvarys - nfix
        nfree = self.ndata - nvarys
        redchi = float(chisqr) / nfree if nfree > 0 and self.objective == "least_squares" else math.nan
        return FitStats(self.ndata, nvarys, nfree, float(chisqr), redchi, self.objective, self.errordef)


def _nfix(best: FitStats, new: FitStats) -> int:
    nfix = best.nvarys - new.nvarys
    if nfix < 1:
        raise ValueError(f"the constrained fit must vary fewer parameters than the best fit "
                         f"(best {best.nvarys}, new {new.nvarys})")
    return nfix


def f_test(best: FitStats, new: FitStats) -> float:
    """F-test probability that ``new`` is worse than ``best`` (manual section 4.1).

    ``F = (chi2_new / chi2_best - 1) * (N - P) / P_fix``, and the probability is
    the F(P_fix, N - P) distribution's CDF at F.
    """
    from scipy import special  # on use: importing fitcore does not import scipy.special

    nfix = _nfix(best, new)
    if best.objective == "cost":
        raise ValueError("f_test compares chi-square values of least-squares fits; this fit minimized a cost: "
                         "use prob_func='likelihood_ratio'")
    dchi = max(new.chisqr / best.chisqr - 1.0, 0.0)
    return float(special.fdtr(nfix, best.nfree, dchi * best.nfree / nfix))


def likelihood_ratio(best: FitStats, new: FitStats) -> float:
    """Wilks' likelihood-ratio probability.

    The chi-square increase, in units of the best fit's reduced chi-square, is
    distributed as chi-square with ``P_fix`` degrees of freedom. For a cost
    fit the increase of the cost is counted in units of ``errordef`` (twice
    the log-likelihood drop for a negative log-likelihood with ``errordef=0.5``).
    """
    from scipy import special

    nfix = _nfix(best, new)
    scale = best.errordef if best.objective == "cost" else best.redchi
    delta = max(new.chisqr - best.chisqr, 0.0) / scale
    return float(special.chdtr(nfix, delta))


@hookimpl
def fitcore_prob_funcs() -> Iterable[ProbFuncSpec]:
    """Register ``f_test`` and ``likelihood_ratio``."""
    yield ProbFuncSpec("f_test", f_test, "F-test of the chi-square ratio (manual section 4.1)")
    yield ProbFuncSpec("likelihood_ratio", likelihood_ratio,
                       "Wilks: chi-square distribution of the scaled chi-square increase")


