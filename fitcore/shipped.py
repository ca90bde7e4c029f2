"""What fitcore itself ships: the distributions built from its repository and the names each provides.

fitcore uses :data:`SHIPPED` to name the distribution to install when a known
engine is missing, and to decide which claimant a bare name selects when
several distributions claim it (see :mod:`fitcore.catalog`). Tests use it to
parametrize over the shipped engines without loading any plugin.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["SHIPPED", "is_shipped", "normalize", "shipped_distribution"]

#: distribution -> {kind: {name: its aliases}}, for every distribution under fitcore's repository
SHIPPED: Mapping[str, Mapping[str, Mapping[str, tuple[str, ...]]]] = {
    "fitcore": {"prob_func": {"f_test": (), "likelihood_ratio": ()}, "model": {name: () for name in (
        "constant", "complex_constant", "linear", "quadratic", "polynomial", "sine", "exponential", "powerlaw",
        "gaussian", "lorentzian", "split_lorentzian", "voigt", "pvoigt", "moffat", "pearson4", "pearson7",
        "students_t", "breit_wigner", "lognormal", "damped_oscillator", "dho", "expgaussian", "skewed_gaussian",
        "skewed_voigt", "doniach", "gaussian2d", "step", "rectangle", "thermal_distribution", "bose", "fermi")}},
    "fitcore-engine-leastsq": {"engine": {"leastsq": ()}},
    "fitcore-engine-lbfgsb": {"engine": {"lbfgsb": ("l-bfgs-b",)}},
    "fitcore-engine-anneal": {"engine": {"anneal": ("dual_annealing",)}},
    "fitcore-engine-nlopt": {"engine": {"nlopt": ()}},
    "fitcore-engine-scipy": {"engine": {
        "least_squares": (), "nelder": ("nelder-mead",), "powell": (), "cg": (), "bfgs": (), "tnc": (),
        "slsqp": (), "trust-constr": ("trust_constr",), "differential_evolution": (), "basinhopping": (),
        "shgo": (), "brute": ()}},
    "fitcore-engine-emcee": {"engine": {"emcee": ()}},
    # batched engines (EngineSpec(batched=True)) fit many datasets at once under fit_many(vectorized=True)
    "fitcore-engine-batch-lm": {"batched_engine": {"batch_lm": ()}},
}

def normalize(dist: str) -> str:
    """Return a distribution name as packaging compares them: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", dist.strip()).lower()


def is_shipped(dist: str) -> bool:
    """Whether ``dist`` is one of the distributions built from fitcore's own repository."""
    return normalize(dist) in _SHIPPED_NORMALIZED


def shipped_distribution(kind: str, name: str) -> str | None:
    """Return the distribution of fitcore's repository that provides ``name`` (an engine, ...), or None."""
    key = name.strip().lower()
    for dist, kinds in SHIPPED.items():
        for real, aliases in kinds.get(kind, {}).items():
            if key == real or key in aliases:
                return dist
    return None


_SHIPPED_NORMALIZED = frozenset(normalize(d) for d in SHIPPED)
