"""The anneal engine: finds the global minimum where leastsq does not, reproducible, refuses open bounds."""

from __future__ import annotations

import numpy as np
import pytest

import fitcore
from fitcore.errors import EngineCapabilityError, EngineOptionError

X = np.linspace(0.0, 10.0, 201)
DATA = 1.5 * np.sin(2.7 * X) + np.random.default_rng(0).normal(scale=0.1, size=X.size)


def residual(p):
    """A sine whose frequency has many local minima between 0.5 and 5."""
    return DATA - p["amp"].value * np.sin(p["omega"].value * X)


def make_params():
    """Start at omega=1, far from the true 2.7, inside finite bounds."""
    p = fitcore.Parameters()
    p.add("amp", value=1.0, min=0.1, max=5.0)
    p.add("omega", value=1.0, min=0.5, max=5.0)
    return p


def test_finds_global_minimum_where_leastsq_does_not():
    """From the same start leastsq stops in a local minimum; anneal finds omega=2.7 with error bars."""
    local = make_params()
    lfit = fitcore.minimize(residual, local, engine="leastsq")
    assert abs(local["omega"].value - 2.7) > 0.5
    p = make_params()
    fit = fitcore.Minimizer(residual, p)
    assert fit.anneal(seed=11).success is True
    assert p["omega"].value == pytest.approx(2.7, abs=3 * p["omega"].stderr + 1e-3)
    assert p["amp"].value == pytest.approx(1.5, abs=0.05)
    assert fit.chisqr < lfit.chisqr / 10
    assert fit.errorbars and 0 < p["omega"].stderr < 1e-2


def test_reproducible_with_seed():
    """The same seed gives the same path: identical values and evaluation counts."""
    runs = []
    for _ in range(2):
        p = make_params()
        fit = fitcore.minimize(residual, p, engine="anneal", seed=2024, maxiter=50)
        runs.append((p["amp"].value, p["omega"].value, fit.nfev))
    assert runs[0] == runs[1]


def test_seed_generator_accepted():
    """A numpy Generator is a valid seed too."""
    p = make_params()
    fit = fitcore.minimize(residual, p, engine="anneal", seed=np.random.default_rng(5), maxiter=100)
    assert fit.success
    assert p["omega"].value == pytest.approx(2.7, abs=1e-3)


def test_infinite_bound_refused_naming_parameters():
    """A free parameter without two finite bounds is refused before any evaluation, by name."""
    calls = []
    p = fitcore.Parameters()
    p.add("amp", value=1.0, min=0.1)
    p.add("omega", value=1.0, min=0.5, max=5.0)

    def counted(p):
        calls.append(1)
        return residual(p)

    with pytest.raises(EngineCapabilityError, match=r"finite min and max.*'amp' \(min=0.1, max=inf\)"):
        fitcore.minimize(counted, p, engine="anneal", seed=1)
    assert calls == []


@pytest.mark.parametrize(("kws", "match"), [
    ({"visit": 3.5}, r"visit=3.5; expected a number in \(1.0, 3.0\)"),
    ({"accept": 1.0}, "accept=1.0"),
    ({"maxiter": 0}, "maxiter=0"),
    ({"polish": "yes"}, "polish='yes'; expected True or False"),
    ({"cooling": 0.5}, "no option 'cooling'"),
])
def test_bad_options_refused(kws, match):
    """Invalid or unknown options raise EngineOptionError before any evaluation."""
    with pytest.raises(EngineOptionError, match=match):
        fitcore.minimize(residual, make_params(), engine="anneal", **kws)


def test_without_polish_still_near_minimum():
    """polish=False returns dual_annealing's own point (its local searches already reach the basin floor)."""
    p = make_params()
    fit = fitcore.minimize(residual, p, engine="anneal", seed=3, polish=False, maxiter=200)
    assert "polish_nfev" not in fit.engine_extras
    assert p["omega"].value == pytest.approx(2.7, abs=1e-3)
