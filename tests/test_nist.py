"""NIST StRD non-linear regression: 27 problems x 2 starts with the default leastsq engine.

Each fit asserts its own floor of digits of agreement (LRE, minimum over the
parameters) with the certified values and with the certified standard
deviations, and that a fit more than 1% away from the certified answer is not
reported as a success. The totals are the targets of issue 6: at least 51/54
fits with 5 digits on values, 45/54 with 5 digits on values and standard
errors, no false success.
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache

import pytest

import nist_strd
from nist_strd import SOURCE, Outcome

if not nist_strd.available():
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but the NIST StRD data is missing: {SOURCE}", pytrace=False)
    pytest.skip(f"NIST StRD data not found; it comes from the {SOURCE}", allow_module_level=True)

#: (problem, start) -> (floor of LRE on values, floor on stderr); 0.0 marks the fits that
#: cannot converge from that start, which must then not claim success. Floors sit about
#: one digit under what this machine measures (see benchmarks/README.md), never under 5
#: where 6 or more are reached.
FLOORS: dict[tuple[str, int], tuple[float, float]] = {
    ("Misra1a", 1): (7.0, 5.5),  # measured 8.3 / 6.6, success=True
    ("Misra1a", 2): (7.0, 6.0),  # measured 8.4 / 7.3, success=True
    ("Chwirut2", 1): (6.5, 6.5),  # measured 7.6 / 8.0, success=True
    ("Chwirut2", 2): (6.5, 7.0),  # measured 7.9 / 8.4, success=True
    ("Chwirut1", 1): (7.0, 7.0),  # measured 8.3 / 8.7, success=True
    ("Chwirut1", 2): (6.5, 6.5),  # measured 7.6 / 7.9, success=True
    ("Lanczos3", 1): (6.0, 6.0),  # measured 7.3 / 7.3, success=True
    ("Lanczos3", 2): (6.0, 6.0),  # measured 7.3 / 7.3, success=True
    ("Gauss1", 1): (7.0, 7.0),  # measured 8.6 / 8.4, success=True
    ("Gauss1", 2): (7.0, 7.0),  # measured 8.6 / 8.4, success=True
    ("Gauss2", 1): (7.0, 7.0),  # measured 8.4 / 8.1, success=True
    ("Gauss2", 2): (7.0, 7.0),  # measured 8.1 / 8.1, success=True
    ("DanWood", 1): (6.5, 6.0),  # measured 8.0 / 7.4, success=True
    ("DanWood", 2): (7.0, 6.5),  # measured 8.7 / 7.7, success=True
    ("Misra1b", 1): (6.5, 5.0),  # measured 7.6 / 6.2, success=True
    ("Misra1b", 2): (6.5, 5.0),  # measured 7.7 / 6.0, success=True
    ("Kirby2", 1): (6.0, 6.5),  # measured 7.4 / 7.8, success=True
    ("Kirby2", 2): (6.5, 7.0),  # measured 8.0 / 8.3, success=True
    ("Hahn1", 1): (7.0, 7.0),  # measured 8.4 / 9.2, success=True
    ("Hahn1", 2): (6.0, 6.5),  # measured 7.1 / 7.9, success=True
    ("Nelson", 1): (7.0, 7.0),  # measured 8.2 / 8.3, success=True
    ("Nelson", 2): (6.0, 6.0),  # measured 7.2 / 7.2, success=True
    ("MGH17", 1): (0.0, 0.0),  # measured 0.0 / 0.0, success=False
    ("MGH17", 2): (7.0, 6.5),  # measured 8.3 / 7.9, success=True
    ("Lanczos1", 1): (7.0, 2.0),  # measured 10.6 / 3.2, success=True
    ("Lanczos1", 2): (7.0, 2.0),  # measured 10.6 / 3.5, success=True
    ("Lanczos2", 1): (7.0, 7.0),  # measured 9.0 / 8.5, success=True
    ("Lanczos2", 2): (7.0, 7.0),  # measured 9.6 / 8.8, success=True
    ("Gauss3", 1): (7.0, 5.5),  # measured 9.2 / 6.9, success=True
    ("Gauss3", 2): (6.5, 6.0),  # measured 7.7 / 7.1, success=True
    ("Misra1c", 1): (6.5, 6.0),  # measured 7.7 / 7.3, success=True
    ("Misra1c", 2): (6.5, 5.5),  # measured 8.0 / 6.6, success=True
    ("Misra1d", 1): (7.0, 6.5),  # measured 8.6 / 7.5, success=True
    ("Misra1d", 2): (7.0, 5.5),  # measured 8.4 / 7.0, success=True
    ("Roszman1", 1): (7.0, 7.0),  # measured 8.3 / 8.7, success=True
    ("Roszman1", 2): (7.0, 7.0),  # measured 8.0 / 8.5, success=True
    ("ENSO", 1): (6.0, 7.0),  # measured 7.5 / 8.6, success=True
    ("ENSO", 2): (6.0, 7.0),  # measured 7.1 / 8.3, success=True
    ("MGH09", 1): (6.0, 6.0),  # measured 7.3 / 7.4, success=True
    ("MGH09", 2): (6.0, 6.0),  # measured 7.3 / 7.4, success=True
    ("Thurber", 1): (6.0, 5.5),  # measured 7.4 / 6.7, success=True
    ("Thurber", 2): (6.0, 5.5),  # measured 7.3 / 6.6, success=True
    ("BoxBOD", 1): (0.0, 0.0),  # measured 0.0 / 0.0, success=False
    ("BoxBOD", 2): (6.0, 6.0),  # measured 7.1 / 7.1, success=True
    ("Rat42", 1): (6.5, 6.5),  # measured 7.9 / 7.6, success=True
    ("Rat42", 2): (6.0, 5.5),  # measured 7.1 / 6.7, success=True
    ("MGH10", 1): (7.0, 7.0),  # measured 10.9 / 8.8, success=True
    ("MGH10", 2): (7.0, 7.0),  # measured 10.6 / 8.9, success=True
    ("Eckerle4", 1): (6.0, 6.0),  # measured 7.2 / 7.2, success=True
    ("Eckerle4", 2): (6.0, 6.0),  # measured 7.2 / 7.1, success=True
    ("Rat43", 1): (6.0, 6.0),  # measured 7.5 / 7.5, success=True
    ("Rat43", 2): (6.5, 6.5),  # measured 7.6 / 7.7, success=True
    ("Bennett5", 1): (6.5, 6.0),  # measured 7.6 / 7.4, success=True
    ("Bennett5", 2): (7.0, 7.0),  # measured 10.2 / 9.7, success=True
}
#: Lanczos1's certified residual sum of squares (1.4e-25) is at the rounding level of the model
#: in double precision: chi-square itself, hence stderr, cannot carry more than ~3 digits.
ROUNDING_LIMITED = {("Lanczos1", 1), ("Lanczos1", 2)}


@lru_cache(maxsize=None)
def outcome(name: str, start: int) -> Outcome:
    """Fit once per session (the totals reuse the per-fit results)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow in exp on rejected trial steps
        return nist_strd.run(nist_strd.load(name), start)


CASES = sorted(FLOORS, key=lambda k: (list(nist_strd.MODELS).index(k[0]), k[1]))


def test_floor_table_covers_every_problem_and_start():
    """The table lists all 27 problems from both starts, no more."""
    assert set(FLOORS) == {(n, s) for n in nist_strd.MODELS for s in (1, 2)}


def test_models_reproduce_certified_residual_sum_of_squares():
    """Each model written from its header gives the certified RSS at the certified values."""
    for name in nist_strd.MODELS:
        prob = nist_strd.load(name)
        r = prob.plain_residual(prob.certified)
        rss = float(r @ r)
        if (name, 1) in ROUNDING_LIMITED:  # certified values are rounded to 11 digits
            assert rss < 1e-19, name
        else:
            assert rss == pytest.approx(prob.certified_rss, rel=1e-6), name


@pytest.mark.slow
@pytest.mark.parametrize("name,start", CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_nist_fit(name, start):
    """Values and stderr reach this fit's digit floor; a fit >1% off never claims success."""
    out = outcome(name, start)
    floor_values, floor_stderr = FLOORS[name, start]
    assert out.error is None, out.error
    if out.max_rel_error > 0.01:
        assert not out.success, f"{name} start {start} is {out.max_rel_error:.3g} off but reports success"
        assert out.message
    assert out.lre_values >= floor_values, (name, start, out.lre_values)
    assert out.lre_stderr >= floor_stderr, (name, start, out.lre_stderr)
    if floor_values >= 5:
        assert out.success, out.message


def test_nist_totals():
    """Issue 6 targets: >= 51/54 values to 5 digits, >= 45/54 values and stderr, no false success."""
    outs = [outcome(n, s) for n, s in CASES]
    values = sum(o.lre_values >= 5 for o in outs)
    both = sum(o.lre_values >= 5 and o.lre_stderr >= 5 for o in outs)
    false = [(o.problem, o.start) for o in outs if o.success and o.max_rel_error > 0.01]
    assert values >= 51 and both >= 45 and not false, (values, both, false)


def test_an_engine_stopping_in_a_flat_valley_is_not_a_success():
    """lbfgsb stops on Misra1a start 1 ~80% from the answer; a Gauss-Newton step there moves it many stderr."""
    out = nist_strd.run(nist_strd.load("Misra1a"), 1, engine="lbfgsb")
    assert out.max_rel_error > 0.01
    assert not out.success
    assert "Gauss-Newton step" in out.message and "standard errors" in out.message
