"""fitcore's errors carry their subject and survive pickling (they travel back from worker processes)."""

import pickle

import pytest

from fitcore import errors

CASES = [
    errors.ParameterError("bad bound", "amp"),
    errors.ConstraintError("cycle", "a", "b+1"),
    errors.EngineNotFoundError("lesatsq", ["leastsq", "lbfgsb"]),
    errors.EngineOptionError("no option", "leastsq", "xtoll"),
    errors.ProbFuncNotFoundError("f_tset", ["f_test"]),
    errors.NonFiniteResidualError("nan", 7, {"a": 1.0}),
    errors.PluginError("broken", "twin", "fc-twin-b", "conflict"),
]


@pytest.mark.parametrize("exc", CASES, ids=lambda e: type(e).__name__)
def test_errors_round_trip_through_pickle(exc):
    """Type, message and every attribute survive a pickle round trip."""
    exc.add_note("raised inside fitcore engine 'x'")
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc)
    assert str(back) == str(exc)
    assert vars(back) == vars(exc)


def test_engine_not_found_names_the_closest_engine():
    """An unknown engine's error suggests the closest installed name and lists them all."""
    exc = errors.EngineNotFoundError("lesatsq", ["leastsq", "lbfgsb"])
    assert "Did you mean 'leastsq'?" in str(exc)
    assert "Installed engines: lbfgsb, leastsq." in str(exc)
    assert exc.available == ("lbfgsb", "leastsq")
