"""The nlopt engine: algorithm selection, refusals with their messages, aborts, and the missing-nlopt path."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fitcore
from fitcore.errors import EngineCapabilityError, EngineError, EngineOptionError

X = np.linspace(0.0, 10.0, 101)
DATA = 3.0 * np.exp(-X / 2.5) + 0.5 + np.random.default_rng(1).normal(scale=0.01, size=X.size)


def residual(p):
    """Exponential decay residual."""
    return p["a"].value * np.exp(-X / p["t"].value) + p["c"].value - DATA


def make_params(bounded=True):
    """Start away from the truth; finite bounds on all three parameters or none."""
    p = fitcore.Parameters()
    kw = (lambda lo, hi: {"min": lo, "max": hi}) if bounded else (lambda lo, hi: {})
    p.add("a", value=1.0, **kw(0.0, 10.0))
    p.add("t", value=1.0, **kw(0.1, 10.0))
    p.add("c", value=0.0, **kw(-2.0, 2.0))
    return p


@pytest.fixture(scope="module")
def reference():
    """leastsq's answer on the exponential problem."""
    p = make_params(False)
    fit = fitcore.minimize(residual, p)
    return p, fit


def counting(calls):
    """A residual that records its calls."""
    def fcn(p):
        calls.append(1)
        return residual(p)
    return fcn


@pytest.mark.parametrize("alg", ["LN_BOBYQA", "LN_COBYLA", "LN_NELDERMEAD", "LN_PRAXIS", "LN_SBPLX",
                                 "LD_LBFGS", "LD_MMA", "LD_TNEWTON", "LD_VAR2", "LD_CCSAQ",
                                 "GN_DIRECT_L", "GN_CRS2_LM", "GN_ISRES", "GN_ESCH", "GN_AGS", "GD_STOGO",
                                 "GN_MLSL_LDS", "G_MLSL", "AUGLAG", "LN_AUGLAG", "LD_AUGLAG"])
def test_algorithm_families_reach_leastsq_minimum(reference, alg):
    """Algorithms of every family reach leastsq's minimum and its stderr within 1%."""
    ref, rfit = reference
    p = make_params(True)
    budget = {"maxeval": 800} if alg.startswith("G") else {}
    fit = fitcore.minimize(residual, p, engine="nlopt", algorithm=alg, seed=4, **budget)
    assert fit.success, fit.message
    assert fit.engine_extras["algorithm"] == alg
    assert fit.chisqr == pytest.approx(rfit.chisqr, rel=1e-6)
    for name in "atc":
        assert p[name].stderr == pytest.approx(ref[name].stderr, rel=0.01)


def test_default_algorithm_is_bobyqa_and_names_are_case_insensitive():
    """Without algorithm= the engine runs LN_BOBYQA; 'ld_lbfgs' selects LD_LBFGS."""
    fit = fitcore.minimize(residual, make_params(), engine="nlopt")
    assert fit.engine_extras["algorithm"] == "LN_BOBYQA"
    fit = fitcore.minimize(residual, make_params(), engine="nlopt", algorithm="ld_lbfgs")
    assert fit.engine_extras["algorithm"] == "LD_LBFGS" and fit.engine_extras["uses_gradient"]


def test_gradient_algorithm_moves_from_start(reference):
    """LD_LBFGS receives the gradient in place: it leaves the start and converges (rebinding would not)."""
    p = make_params(False)
    fit = fitcore.minimize(residual, p, engine="nlopt", algorithm="LD_LBFGS")
    assert fit.success
    assert p["t"].value == pytest.approx(reference[0]["t"].value, rel=1e-6)


def test_unknown_algorithm_lists_valid_ones():
    """An unknown algorithm is refused before any evaluation, with a suggestion and the installed list."""
    calls = []
    with pytest.raises(EngineOptionError, match=r"unknown algorithm 'LN_BOBYQ'.*Did you mean 'LN_BOBYQA'.*"
                                                r"GN_DIRECT_L.*LD_LBFGS") as info:
        fitcore.minimize(counting(calls), make_params(), engine="nlopt", algorithm="LN_BOBYQ")
    assert info.value.option == "algorithm"
    assert "LD_LBFGS_NOCEDAL" not in str(info.value)  # not compiled into nlopt's wheels
    assert calls == []


@pytest.mark.parametrize("alg", ["GN_DIRECT_L", "GD_STOGO", "G_MLSL_LDS", "GN_CRS2_LM"])
def test_global_algorithm_refuses_infinite_bounds(alg):
    """Global algorithms need a finite box: refused up front naming each unbounded parameter."""
    calls = []
    p = make_params(True)
    p["t"].max = np.inf
    p["c"].min = -np.inf
    with pytest.raises(EngineCapabilityError, match=rf"global algorithm '{alg}'.*'t' \(min=0.1, max=inf\), "
                                                    r"'c' \(min=-inf, max=2.0\)"):
        fitcore.minimize(counting(calls), p, engine="nlopt", algorithm=alg)
    assert calls == []


def test_newuoa_with_bounds_refused_and_without_allowed(reference):
    """LN_NEWUOA would ignore bounds: refused naming NEWUOA_BOUND; on an unbounded problem it runs."""
    with pytest.raises(EngineCapabilityError, match=r"LN_NEWUOA ignores bounds.*'a', 't', 'c'.*LN_NEWUOA_BOUND"):
        fitcore.minimize(residual, make_params(True), engine="nlopt", algorithm="LN_NEWUOA")
    p = make_params(False)
    fit = fitcore.minimize(residual, p, engine="nlopt", algorithm="LN_NEWUOA", initial_step=0.1)
    assert fit.success and fit.chisqr == pytest.approx(reference[1].chisqr, rel=1e-6)


def test_local_algorithm_used_and_checked():
    """AUGLAG and G_MLSL take local_algorithm; a plain local algorithm or a global sub-algorithm is refused."""
    fit = fitcore.minimize(residual, make_params(), engine="nlopt", algorithm="AUGLAG")
    assert fit.engine_extras["local_algorithm"] == "LN_BOBYQA"
    fit = fitcore.minimize(residual, make_params(), engine="nlopt", algorithm="G_MLSL", local_algorithm="LD_LBFGS",
                           maxeval=300, seed=1)
    assert fit.success and fit.engine_extras["local_algorithm"] == "LD_LBFGS"
    with pytest.raises(EngineOptionError, match="'LN_SBPLX' runs no local optimizer"):
        fitcore.minimize(residual, make_params(), engine="nlopt", algorithm="LN_SBPLX", local_algorithm="LN_BOBYQA")
    with pytest.raises(EngineOptionError, match="must be a plain local algorithm"):
        fitcore.minimize(residual, make_params(), engine="nlopt", algorithm="AUGLAG", local_algorithm="GN_DIRECT")


def test_global_algorithm_is_polished_unless_asked_not_to():
    """A global result is refined by a local algorithm by default; polish=False keeps the global point."""
    fit = fitcore.minimize(residual, make_params(), engine="nlopt", algorithm="GN_DIRECT_L", maxeval=300)
    assert fit.engine_extras["polish_algorithm"] == "LN_BOBYQA"
    assert "polished by LN_BOBYQA" in fit.message
    raw = fitcore.minimize(residual, make_params(), engine="nlopt", algorithm="GN_DIRECT_L", maxeval=300,
                           polish=False)
    assert "polish_algorithm" not in raw.engine_extras
    assert raw.chisqr > fit.chisqr
    with pytest.raises(EngineOptionError, match="polish refines the result of a global algorithm"):
        fitcore.minimize(residual, make_params(), engine="nlopt", algorithm="LN_BOBYQA", polish=True)


@pytest.mark.parametrize(("kws", "match"), [
    ({"xtol_rel": -1.0}, "xtol_rel=-1.0"),
    ({"maxeval": 0}, "maxeval=0"),
    ({"maxtime": 0.0}, "maxtime=0.0"),
    ({"initial_step": [0.1, 0.2]}, r"one positive number per varied parameter \(3: a, t, c\)"),
    ({"population": 1.5}, "population=1.5"),
    ({"tol": 1e-3}, "no option 'tol'"),
])
def test_bad_options_refused(kws, match):
    """Invalid or unknown option values raise EngineOptionError before any evaluation."""
    calls = []
    with pytest.raises(EngineOptionError, match=match):
        fitcore.minimize(counting(calls), make_params(), engine="nlopt", **kws)
    assert calls == []


def test_nlopt_error_message_is_read_from_nlopt():
    """nlopt's exceptions have empty messages; the engine raises a fitcore error with get_errmsg()'s text."""
    with pytest.raises(EngineError, match=r"GN_CRS2_LM failed with INVALID_ARGS: population 2 should be >= "
                                          r"dimension \+ 1 = 4"):
        fitcore.minimize(residual, make_params(), engine="nlopt", algorithm="GN_CRS2_LM", population=2)


def test_seed_makes_stochastic_algorithms_reproducible():
    """The core's seed seeds nlopt: the same seed gives the same evaluations."""
    runs = []
    for seed in (9, 9):
        p = make_params()
        fit = fitcore.minimize(residual, p, engine="nlopt", algorithm="GN_CRS2_LM", polish=False, maxeval=200,
                               seed=seed)
        runs.append((fit.nfev, p["a"].value, p["t"].value))
    assert runs[0] == runs[1]


def test_maxeval_reached_is_not_success_for_local_algorithm():
    """A local algorithm stopped by maxeval has not converged: success is False and the message says so."""
    fit = fitcore.minimize(residual, make_params(), engine="nlopt", algorithm="LN_SBPLX", maxeval=20)
    assert not fit.success
    assert "MAXEVAL_REACHED" in fit.message


def test_false_convergence_reported_honestly():
    """An algorithm that claims convergence away from a minimum gets success False (gradient check)."""
    sine_x = np.linspace(0.0, 15.0, 301)
    truth = 14.0 * np.sin(3.0 * sine_x + 0.21) * np.exp(-sine_x**2 * 0.01)
    data = truth + np.random.default_rng(12345).normal(scale=0.2, size=sine_x.size)
    p = fitcore.Parameters()
    p.add("amp", value=13.0, min=5.0, max=20.0)
    p.add("shift", value=0.0, min=-1.0, max=1.0)
    p.add("omega", value=2.9, min=2.5, max=3.5)
    p.add("decay", value=0.02, min=0.001, max=0.1)

    def res(p):
        v = {k: p[k].value for k in p}
        return v["amp"] * np.sin(v["omega"] * sine_x + v["shift"]) * np.exp(-sine_x**2 * v["decay"]) - data

    # a loose ftol_rel lets L-BFGS claim convergence far from the minimum (chi-square about 11.6)
    fit = fitcore.minimize(res, p, engine="nlopt", algorithm="LD_LBFGS", ftol_rel=0.1)
    assert fit.engine_extras["nlopt_result"] in ("FTOL_REACHED", "XTOL_REACHED")
    assert fit.chisqr > 100.0
    assert not fit.success
    assert "not a minimum" in fit.message


HIDE_NLOPT = textwrap.dedent("""
    import json, sys
    class Hide:
        def __init__(self, finder): self.finder = finder
        def find_spec(self, name, path=None, target=None):
            if name == "nlopt" or name.startswith("nlopt."):
                return None
            return self.finder.find_spec(name, path, target)
        def __getattr__(self, attr): return getattr(self.finder, attr)
    {hide}
    import numpy as np, fitcore
    from fitcore.errors import EngineUnavailableError
    out = {{"status": {{e.name: e.status for e in fitcore.list_engines()}}, "imported": "nlopt" in sys.modules}}
    p = fitcore.Parameters(); p.add("a", value=1.0)
    try:
        fitcore.minimize(lambda p: np.array([p["a"].value - 2.0, 0.0]), p, engine="nlopt")
        out["fit"] = "ran"
    except EngineUnavailableError as exc:
        out["fit"] = str(exc)
    print(json.dumps(out))
""")


def _run(hide: bool) -> dict:
    hide_code = "sys.meta_path[:] = [Hide(f) for f in sys.meta_path]" if hide else ""
    proc = subprocess.run([sys.executable, "-c", HIDE_NLOPT.format(hide=hide_code)], capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_listing_never_imports_nlopt_and_missing_nlopt_gives_install_hint():
    """Listing never imports nlopt; without nlopt the engine is listed unavailable and selecting it gives the hint."""
    present = _run(hide=False)
    assert present["status"]["nlopt"] == "available"
    assert present["imported"] is False
    assert present["fit"] == "ran"
    missing = _run(hide=True)
    hint = "install NLopt's Python package: pip install nlopt"
    assert missing["status"]["nlopt"] == f"unavailable: requires nlopt; {hint}"
    assert missing["status"]["lbfgsb"] == "available"
    assert "requires nlopt" in missing["fit"] and "pip install nlopt" in missing["fit"]


def test_details_list_every_compiled_algorithm():
    """The engine's details name every selectable algorithm with nlopt's description."""
    import nlopt

    details = fitcore.plugins.get_engine("nlopt").details()
    algs = details["algorithms"]
    assert {"LN_BOBYQA", "LD_LBFGS", "GN_DIRECT_L", "G_MLSL_LDS", "AUGLAG"} <= set(algs)
    assert "LD_LBFGS_NOCEDAL" not in algs
    assert algs["LN_BOBYQA"] == nlopt.algorithm_name(nlopt.LN_BOBYQA)
    assert details["need_local_algorithm"] == ["AUGLAG", "AUGLAG_EQ", "G_MLSL", "G_MLSL_LDS"]


def test_gradient_algorithms_work_on_parameters_of_very_different_magnitude():
    """Gradient algorithms see each parameter scaled by its start: unbounded, decay=0.02 next to amp=10
    no longer sends the first step to decay=-4e5 (where exp overflows); the fit reaches leastsq's minimum."""
    x = np.linspace(0.0, 15.0, 1000)
    data = 14.0 * np.sin(3.0 * x + 0.21) * np.exp(-x * x * 0.01) + np.random.default_rng(7).normal(0, 0.3, x.size)

    def res(q):
        return data - q["amp"].value * np.sin(x * q["omega"].value + q["shift"].value) * np.exp(
            -x * x * q["decay"].value)

    def params():
        p = fitcore.Parameters()
        for name, value in (("amp", 10.0), ("decay", 0.02), ("shift", 0.0), ("omega", 3.05)):
            p.add(name, value=value)
        return p

    ref = params()
    best = fitcore.minimize(res, ref).chisqr
    for alg in ("LD_TNEWTON", "LD_MMA"):
        p = params()
        fit = fitcore.minimize(res, p, engine="nlopt", algorithm=alg)
        assert fit.success, (alg, fit.message)
        assert fit.chisqr == pytest.approx(best, rel=1e-6)
        for name in ref:
            assert p[name].value == pytest.approx(ref[name].value, rel=1e-3, abs=1e-5)


@pytest.mark.parametrize("alg", ["LN_BOBYQA", "LN_SBPLX", "LD_LBFGS"])
def test_exact_noise_free_data_is_a_success(alg):
    """On data the model reproduces exactly, a converged fit is a success with the true values: the residual
    left is only the distance to the minimum, which the Gauss-Newton test of the answer recognizes."""
    exact = 3.0 * np.exp(-X / 2.5) + 0.5
    p = make_params()
    fit = fitcore.minimize(lambda p: p["a"].value * np.exp(-X / p["t"].value) + p["c"].value - exact, p,
                           engine="nlopt", algorithm=alg)
    assert fit.success, fit.message
    assert fit.chisqr < 1e-12
    assert [p["a"].value, p["t"].value, p["c"].value] == pytest.approx([3.0, 2.5, 0.5], rel=1e-6)


def test_default_first_step_is_not_stretched_by_far_bounds():
    """Bounds only restrict: with +-1e300 around a start of 1 the first step is the unbounded one, so the model
    is never evaluated near 1e300 and the fit matches the unbounded one."""
    seen = []

    def res(p):
        seen.append(max(abs(p[n].value) for n in ("a", "t", "c")))
        return residual(p)

    p = fitcore.Parameters()
    p.add("a", value=1.0, min=-1e300, max=1e300)
    p.add("t", value=1.0, min=0.1, max=1e300)
    p.add("c", value=0.0, min=-1e300, max=1e300)
    fit = fitcore.minimize(res, p, engine="nlopt")
    free = make_params(False)
    free["t"].min = 0.1
    ref = fitcore.minimize(residual, free, engine="nlopt")
    assert fit.success and max(seen) < 100.0
    assert fit.chisqr == pytest.approx(ref.chisqr, rel=1e-9)
