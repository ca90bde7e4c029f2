"""Every option of every shipped engine is checked before the first evaluation, with a message saying what is allowed.

The table holds at least one bad value for each option an engine declares (a test checks that it
does), of each kind that used to slip through: wrong type, a string that looks like a number,
out of range, non-finite, and integers too large for the C code underneath.
"""

from __future__ import annotations

import numpy as np
import pytest

import fitcore
from fitcore.errors import EngineOptionError, EngineUnavailableError

X = np.linspace(0.0, 5.0, 30)
DATA = 3.0 * np.exp(-X / 1.5) + 0.5

#: (engine, options, what the message must say)
BAD = [
    ("leastsq", {"xtol": -1}, r"xtol=-1; expected a non-negative finite number"),
    ("leastsq", {"xtol": "1e-8"}, r"xtol='1e-8'; expected a non-negative finite number"),
    ("leastsq", {"ftol": np.nan}, r"ftol=nan; expected a non-negative finite number"),
    ("leastsq", {"gtol": True}, r"gtol=True; expected a non-negative finite number"),
    ("leastsq", {"maxfev": -5}, r"maxfev=-5; expected an integer from 1 to 2147483647"),
    ("leastsq", {"maxfev": 2**31}, r"maxfev=2147483648; expected an integer from 1 to 2147483647"),
    ("leastsq", {"maxfev": 100.0}, r"maxfev=100.0; expected an integer"),
    ("leastsq", {"epsfcn": -1e-10}, r"epsfcn=-1e-10; expected a non-negative finite number"),
    ("leastsq", {"factor": 0}, r"factor=0; expected a positive finite number"),
    ("leastsq", {"factor": np.inf}, r"factor=inf; expected a positive finite number"),
    ("leastsq", {"diag": [1.0, 1.0]}, r"diag=\[1.0, 1.0\]; expected one positive finite scale factor per varied "
                                      r"parameter \(3: amp, tau, off\)"),
    ("leastsq", {"diag": [1.0, 0.0, 1.0]}, r"diag=.*expected one positive finite scale factor"),
    ("leastsq", {"diag": "abc"}, r"diag='abc'; expected one positive finite scale factor"),
    ("lbfgsb", {"maxls": 2**40}, r"maxls=1099511627776; expected an integer from 1 to 2147483647"),
    ("lbfgsb", {"maxls": 0}, r"maxls=0; expected an integer from 1"),
    ("lbfgsb", {"m": 0}, r"\bm=0; expected an integer from 1 to 1000"),
    ("lbfgsb", {"maxcor": 10**6}, r"maxcor=1000000; expected an integer from 1 to 1000"),
    ("lbfgsb", {"ftol": "1e-9"}, r"ftol='1e-9'; expected a positive finite number"),
    ("lbfgsb", {"factr": -1.0}, r"factr=-1.0; expected a positive finite number"),
    ("lbfgsb", {"gtol": np.nan}, r"gtol=nan; expected a positive finite number"),
    ("lbfgsb", {"pgtol": 0.0}, r"gtol=0.0; expected a positive finite number"),
    ("lbfgsb", {"epsilon": 0.0}, r"epsilon=0.0; expected a positive finite number"),
    ("lbfgsb", {"eps": -1.0}, r"epsilon=-1.0; expected a positive finite number"),
    ("lbfgsb", {"maxfun": 2.5}, r"maxfun=2.5; expected a positive integer"),
    ("lbfgsb", {"maxiter": 0}, r"maxiter=0; expected a positive integer"),
    ("anneal", {"maxiter": float("inf")}, r"maxiter=inf; expected a positive integer"),
    ("anneal", {"maxfun": 0}, r"maxfun=0; expected a positive integer"),
    ("anneal", {"initial_temp": 0.0}, r"initial_temp=0.0; expected a number in \(0.01, 50000.0\]"),
    ("anneal", {"restart_temp_ratio": 1.0}, r"restart_temp_ratio=1.0; expected a number in \(0.0, 1.0\)"),
    ("anneal", {"visit": "2.5"}, r"visit='2.5'; expected a number in \(1.0, 3.0\)"),
    ("anneal", {"visit": 3.0}, r"visit=3.0; expected a number in \(1.0, 3.0\)"),
    ("anneal", {"accept": 0.0}, r"accept=0.0; expected a number in \[-10000.0, -5.0\]"),
    ("anneal", {"no_local_search": "no"}, r"no_local_search='no'; expected True or False"),
    ("anneal", {"polish": 1}, r"polish=1; expected True or False"),
    ("nlopt", {"algorithm": "LN_NOPE"}, r"unknown algorithm 'LN_NOPE'"),
    ("nlopt", {"algorithm": "AUGLAG", "local_algorithm": 7}, r"local_algorithm=7 must be an NLopt algorithm name"),
    ("nlopt", {"xtol_rel": -1.0}, r"xtol_rel=-1.0; expected a non-negative finite number"),
    ("nlopt", {"ftol_rel": "0"}, r"ftol_rel='0'; expected a non-negative finite number"),
    ("nlopt", {"xtol_abs": np.inf}, r"xtol_abs=inf; expected a non-negative finite number"),
    ("nlopt", {"ftol_abs": np.nan}, r"ftol_abs=nan; expected a non-negative finite number"),
    ("nlopt", {"maxeval": 2**70}, r"maxeval=1180591620717411303424; expected an integer from 1 to 2147483647"),
    ("nlopt", {"maxeval": 0}, r"maxeval=0; expected an integer from 1"),
    ("nlopt", {"maxtime": 0}, r"maxtime=0; expected a positive finite number"),
    ("nlopt", {"initial_step": [0.1, 0.1]}, r"initial_step=\[0.1, 0.1\]; expected a positive number or one positive "
                                             r"number per varied parameter \(3: amp, tau, off\)"),
    ("nlopt", {"population": 2**32}, r"population=4294967296; expected an integer from 1 to 2147483647"),
    ("nlopt", {"polish": "yes"}, r"polish='yes'; expected True, False or None"),
]


def make_params() -> fitcore.Parameters:
    """Three parameters in a finite box (every engine accepts it)."""
    p = fitcore.Parameters()
    p.add("amp", value=1.0, min=0.0, max=10.0)
    p.add("tau", value=1.0, min=0.1, max=10.0)
    p.add("off", value=0.0, min=-5.0, max=5.0)
    return p


def engine_available(name: str) -> bool:
    """Whether ``name`` is installed and usable here."""
    return {e.name: e.status for e in fitcore.list_engines()}.get(name) == "available"


@pytest.mark.parametrize(("engine", "options", "match"), BAD, ids=[f"{e}-{next(iter(o))}" for e, o, _ in BAD])
def test_bad_option_value_refused_before_any_evaluation(engine, options, match):
    """An invalid value raises EngineOptionError naming option, value and what is allowed; nothing is evaluated."""
    calls = []

    def residual(p):
        calls.append(1)
        return p["amp"].value * np.exp(-X / p["tau"].value) + p["off"].value - DATA

    p = make_params()
    if not engine_available(engine):  # refused as unavailable, before any evaluation too
        with pytest.raises(EngineUnavailableError):
            fitcore.minimize(residual, p, engine=engine, **options)
        assert calls == []
        return
    with pytest.raises(EngineOptionError, match=match) as caught:
        fitcore.minimize(residual, p, engine=engine, **options)
    assert calls == []
    assert caught.value.engine == engine
    assert p["amp"].value == 1.0


def test_every_option_of_every_shipped_engine_has_a_bad_value_in_the_table():
    """Siblings: no declared option is left out of the table above (both spellings count for lbfgsb)."""
    tried = {(engine, name) for engine, options, _ in BAD for name in options}
    spellings = {"lbfgsb": {"maxcor": "m", "pgtol": "gtol", "eps": "epsilon"}}
    for info in fitcore.list_engines():
        if info.name not in ("leastsq", "lbfgsb", "anneal", "nlopt"):
            continue
        for name in info.spec.options:
            other = spellings.get(info.name, {}).get(name)
            assert (info.name, name) in tried or (info.name, other) in tried, (info.name, name)


@pytest.mark.parametrize(("engine", "options"), [
    ("leastsq", {"maxfev": 2**31 - 1, "gtol": 0.0, "epsfcn": 0.0, "factor": 0.1, "diag": np.ones(3)}),
    ("leastsq", {"maxfev": 0}),
    ("lbfgsb", {"maxls": 2**31 - 1, "m": 1000, "maxfun": 2**40}),
    ("anneal", {"maxiter": 50.0, "accept": -5.0, "visit": 2.99, "seed": 1}),
    ("nlopt", {"maxeval": 2**31 - 1, "xtol_abs": 0.0, "initial_step": 0.5}),
])
def test_values_at_the_limits_are_accepted(engine, options):
    """The largest and smallest values the messages allow are accepted and the fit converges."""
    p = make_params()
    if not engine_available(engine):
        with pytest.raises(EngineUnavailableError):
            fitcore.minimize(lambda p: np.zeros(3), p, engine=engine, **options)
        return
    fit = fitcore.minimize(lambda p: p["amp"].value * np.exp(-X / p["tau"].value) + p["off"].value - DATA, p,
                           engine=engine, **options)
    assert fit.success, fit.message
    assert [p[n].value for n in ("amp", "tau", "off")] == pytest.approx([3.0, 1.5, 0.5], rel=1e-5, abs=1e-6)


@pytest.mark.parametrize(("engine", "seed", "match"), [
    ("nlopt", -1, r"seed=-1; expected an integer from 0 to 2\*\*64 - 1"),
    ("nlopt", "abc", r"seed='abc'; expected an integer from 0 to 2\*\*64 - 1"),
    ("nlopt", 2**64, r"seed=18446744073709551616; expected an integer from 0 to 2\*\*64 - 1"),
    ("nlopt", 1.5, r"seed=1.5; expected an integer from 0 to 2\*\*64 - 1"),
    ("anneal", -1, r"seed=-1; expected an integer from 0 to 2\*\*64 - 1, a numpy Generator or RandomState"),
    ("anneal", "abc", r"seed='abc'; expected an integer from 0 to 2\*\*64 - 1"),
    ("anneal", True, r"seed=True; expected an integer from 0 to 2\*\*64 - 1"),
])
def test_bad_seed_is_an_option_error_before_the_search(engine, seed, match):
    """A seed no engine can take is refused by the core, by name, before any evaluation."""
    if not engine_available(engine):
        with pytest.raises(EngineUnavailableError):
            fitcore.minimize(lambda p: np.zeros(3), make_params(), engine=engine, seed=seed)
        return
    calls = []

    def residual(p):
        calls.append(1)
        return p["amp"].value * np.exp(-X / p["tau"].value) + p["off"].value - DATA

    with pytest.raises(EngineOptionError, match=match):
        fitcore.minimize(residual, make_params(), engine=engine, seed=seed)
    assert calls == []
