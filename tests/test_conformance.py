"""The conformance kit: every shipped plugin passes it, and it catches each kind of misbehaviour."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import SHIPPED_BATCHED_ENGINES, SHIPPED_ENGINES, SHIPPED_PROB_FUNCS, SpecPlugin
from scipy.optimize import least_squares, minimize

import fitcore
from fitcore import EngineResult, EngineSpec, ProbFuncSpec, testing
from fitcore.cli import main
from fitcore.shipped import SHIPPED
from fitcore.testing import ConformanceError, check_engine, check_prob_func, parametrize_with_checks


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED_ENGINES)
def test_shipped_engines_conform(name, kit_results):
    """Every engine fitcore ships that is installed passes every check that applies to it."""
    results = kit_results(check_engine, name)
    assert [r for r in results if r.status == "fail"] == []


@pytest.mark.parametrize("name", SHIPPED_BATCHED_ENGINES)
def test_shipped_batched_engines_conform(name, kit_results):
    """Every batched engine fitcore ships passes the batched checks (through fit_many(vectorized=True))."""
    results = kit_results(check_engine, name)
    assert [r.check for r in results] == ["spec_valid", "batch_recovers", "batch_nonfinite_fails_alone",
                                          "batch_honours_max_nfev"]
    assert [r for r in results if r.status == "fail"] == []


@pytest.mark.parametrize("name", SHIPPED_PROB_FUNCS)
def test_shipped_prob_funcs_conform(name, kit_results):
    """The core's probability functions pass every check."""
    assert {r.status for r in kit_results(check_prob_func, name)} == {"pass"}


@pytest.mark.slow
@pytest.mark.usefixtures("fresh_registry")
def test_cli_check_all_covers_every_installed_plugin(monkeypatch, kit_results):
    """`fitcore check --all` runs the kit on every engine and probability function and exits 0.

    The kit runs through this session's shared results (real runs of ``fitcore.testing``'s kits, also read by the
    tests above, in this module so that a parallel run keeps them in one process): each engine goes through the
    kit once, not once for the command and once for the per-engine tests.
    """
    for kit in (testing.check_engine, testing.check_prob_func):
        monkeypatch.setattr(testing, kit.__name__, lambda name, *, raise_on_failure=True, kit=kit: (
            kit(name, raise_on_failure=True) if raise_on_failure else kit_results(kit, name)))
    out = io.StringIO()
    status = main(["check", "--all"], out=out)
    summaries = [ln.split(":")[0] for ln in out.getvalue().splitlines() if ln.endswith("checks passed")]
    assert status == 0 and "FAIL" not in out.getvalue()
    assert summaries == ([e.name for e in fitcore.list_engines()] + [p.name for p in fitcore.list_prob_funcs()])


def test_shipped_table_matches_what_is_installed():
    """The core's table of shipped names is exactly what the installed shipped distributions register."""
    registered = {e.name for e in fitcore.list_engines(batched=False) if e.distribution in SHIPPED}
    assert registered == set(SHIPPED_ENGINES) and "leastsq" in registered
    batched = {e.name for e in fitcore.list_engines(batched=True) if e.distribution in SHIPPED}
    assert batched == set(SHIPPED_BATCHED_ENGINES)
    aliases = {(e.name, a) for e in fitcore.list_engines(batched=False) if e.distribution in SHIPPED
               for a in e.aliases}
    assert aliases == {(n, a) for d, kinds in SHIPPED.items() for n, al in kinds.get("engine", {}).items()
                       for a in al if n in registered}
    assert {p.name for p in fitcore.list_prob_funcs() if p.distribution == "fitcore"} == set(SHIPPED_PROB_FUNCS)


@pytest.mark.slow
def test_collection_loads_no_plugins():
    """Collecting the test suite loads no plugin: with a switch value that makes loading fail, collection passes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "FITCORE_STRICT_PLUGINS": "not-a-switch-value"}
    # --assert=plain: rewriting assertions changes no import, and collection is then twice as fast
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                          "--assert=plain", "tests"],
                         capture_output=True, text=True, timeout=300, cwd=root, env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "PluginConfigError" not in out.stdout and " tests collected" in out.stdout


# -- engines that break one rule each ---------------------------------------------------------------
def _trf(problem, **_):
    res = least_squares(problem.residual, problem.x0.copy(), bounds=(problem.lower, problem.upper), method="trf",
                        xtol=1e-12, ftol=1e-12, gtol=1e-12)
    return res, EngineResult(x=res.x, success=bool(res.success), message=str(res.message), status=int(res.status))


def good(problem, **_):
    """Nelder-Mead within native bounds, NaN treated as +inf, seeded start jitter."""
    rng = np.random.default_rng(problem.seed)
    x0 = np.clip(problem.x0 + rng.uniform(-1e-3, 1e-3, problem.nvar), problem.lower, problem.upper)

    def chisqr(x):
        value = problem.scalar(x)
        return value if np.isfinite(value) else np.inf

    res = minimize(chisqr, x0, method="Nelder-Mead", bounds=list(zip(problem.lower, problem.upper)),
                   options={"xatol": 1e-10, "fatol": 1e-14, "maxfev": 20000, "maxiter": 20000})
    return EngineResult(x=res.x, success=bool(res.success), message=str(res.message), status=int(res.status))


def with_covariance(problem, **_):
    """least_squares on the unbounded problem, returning inv(J^T J) * chisqr / nfree."""
    res = least_squares(problem.residual, problem.x0.copy(), xtol=1e-12, ftol=1e-12, gtol=1e-12)
    cov = np.linalg.inv(res.jac.T @ res.jac) * (2 * res.cost) / (problem.ndata - problem.nvar)
    return EngineResult(x=res.x, success=bool(res.success), message=str(res.message), status=int(res.status),
                        covariance=cov)


def swallows(problem, **_):
    """Treats every exception in the residual as a bad point, including fitcore's stop request."""
    def residual(x):
        try:
            return problem.residual(x)
        except Exception:
            return np.full(problem.ndata, 1e6)

    res = least_squares(residual, problem.x0.copy())
    return EngineResult(x=res.x, success=bool(res.success), message=str(res.message), status=int(res.status))


def mutates(problem, **_):
    res = _trf(problem)[1]
    problem.x0[:] = res.x
    return res


def bad_fields(problem, **_):
    return EngineResult(x=list(_trf(problem)[1].x) + [0.0], success="yes", message="")


def ignores_bounds(problem, **_):
    res = least_squares(problem.residual, problem.x0.copy(), method="lm")
    return EngineResult(x=res.x, success=True, message="ok")


def unseeded(problem, **_):
    x0 = problem.x0 + np.random.default_rng().uniform(-0.5, 0.5, problem.nvar)
    res = least_squares(problem.residual, np.clip(x0, problem.lower, problem.upper),
                        bounds=(problem.lower, problem.upper))
    return EngineResult(x=res.x, success=True, message="ok")


def wrong_covariance(problem, **_):
    res = _trf(problem)[1]
    res.covariance = np.eye(problem.nvar)
    return res


def lazy(problem, **_):
    problem.residual(problem.x0)
    return EngineResult(x=problem.x0.copy(), success=True, message="converged (not really)")


def nan_intolerant(problem, **_):
    def residual(x):
        r = problem.residual(x)
        if not np.all(np.isfinite(r)):
            raise ValueError("residual is not finite")
        return r

    res = least_squares(residual, problem.x0.copy())
    return EngineResult(x=res.x, success=True, message="ok")


def garbles_after_nan(problem, **_):
    """Copes with NaN residuals itself, but then returns an x of the wrong length."""
    seen = []

    def residual(x):
        r = problem.residual(x)
        if not np.all(np.isfinite(r)):
            seen.append(x)
            r = np.where(np.isfinite(r), r, 1e3)
        return r

    res = least_squares(residual, problem.x0.copy())
    return EngineResult(x=np.append(res.x, 0.0) if seen else res.x, success=True, message="ok")


def _spec(name, engine, **caps):
    return EngineSpec(name=name, engine=engine, summary=f"kit test engine {name}", **caps)


@pytest.fixture(scope="module")
def kit_plugins():
    """Register the misbehaving engines and probability functions for this module."""
    plugin = SpecPlugin(*[
        _spec("kit-good", good, objective="scalar", bounds="native", stochastic=True),
        _spec("kit-good-finite", good, objective="scalar", bounds="required_finite", stochastic=True),
        _spec("kit-covariance", with_covariance, provides_covariance=True),
        _spec("kit-swallows", swallows),
        _spec("kit-mutates", mutates),
        _spec("kit-bad-fields", bad_fields),
        _spec("kit-ignores-bounds", ignores_bounds, bounds="native"),
        _spec("kit-unseeded", unseeded, bounds="native", stochastic=True),
        _spec("kit-random", unseeded, bounds="native"),
        _spec("kit-wrong-covariance", wrong_covariance, provides_covariance=True),
        _spec("kit-lazy", lazy),
        _spec("kit-nan-intolerant", nan_intolerant),
        _spec("kit-garbles", garbles_after_nan),
        ProbFuncSpec("kit-above-one", lambda b, n: 1.0 + (n.chisqr - b.chisqr), "exceeds 1"),
        ProbFuncSpec("kit-numpy-above-one", lambda b, n: np.float64(1.5), "a numpy float above 1"),
        ProbFuncSpec("kit-not-zero", lambda b, n: 0.5, "constant"),
        ProbFuncSpec("kit-decreasing", lambda b, n: float(np.exp(-(n.chisqr - b.chisqr))) * 0 + (
            0.0 if n.chisqr == b.chisqr else 1.0 / (1.0 + n.chisqr - b.chisqr)), "falls with the increase"),
    ])
    fitcore.plugins.register(plugin, name="kit-tests")
    yield
    fitcore.plugins.reset()


def _fails(check, name, *fragments):
    with pytest.raises(AssertionError) as info:
        check(name)
    for frag in fragments:
        assert frag in str(info.value), str(info.value)


def test_good_engines_pass_every_applicable_check(kit_plugins):
    """Correct native+stochastic, required_finite and covariance-providing engines pass all their checks."""
    results = check_engine("kit-good")
    assert [r.check for r in results] == [
        "spec_valid", "recovers_linear", "recovers_nonlinear", "does_not_mutate_inputs", "result_fields_complete",
        "nonfinite_raise", "nonfinite_propagate", "within_native_bounds", "honours_max_nfev", "aborts_when_asked",
        "reproducible_with_seed"]
    assert {r.status for r in results} == {"pass"}, results
    finite = check_engine("kit-good-finite")
    assert [r.check for r in finite][8] == "refuses_infinite_bounds" and {r.status for r in finite} == {"pass"}
    cov = check_engine("kit-covariance")
    assert cov[-1].check == "covariance_matches_reference" and {r.status for r in cov} <= {"pass", "warn"}


def test_checks_follow_declared_capabilities(kit_plugins):
    """A transform, deterministic engine without covariance gets no bounds, seed or covariance checks."""
    names = [c.__name__ for c in testing.engine_checks("kit-lazy")]
    assert "check_deterministic" in names
    assert not {"check_within_native_bounds", "check_refuses_infinite_bounds", "check_reproducible_with_seed",
                "check_covariance_matches_reference"} & set(names)


def test_swallowing_exceptions_is_caught(kit_plugins):
    """An engine that catches fitcore's stop request fails the max_nfev, abort and NaN checks."""
    _fails(testing.check_honours_max_nfev, "kit-swallows", "max_nfev=7", "StopFit")
    _fails(testing.check_aborts_when_asked, "kit-swallows", "iter_cb asked to stop at 4")
    _fails(testing.check_nonfinite_raise, "kit-swallows", "swallowed")


def test_mutating_inputs_is_caught(kit_plugins):
    """Writing into problem.x0 fails does_not_mutate_inputs."""
    _fails(testing.check_does_not_mutate_inputs, "kit-mutates", "problem.x0 in place")


def test_incomplete_result_is_caught(kit_plugins):
    """A result with the wrong x shape fails result_fields_complete."""
    _fails(testing.check_result_fields_complete, "kit-bad-fields", "shape (3,)")


def test_ignoring_native_bounds_is_caught(kit_plugins):
    """A native-bounds engine that evaluates outside the bounds fails within_native_bounds."""
    _fails(testing.check_within_native_bounds, "kit-ignores-bounds", "evaluations outside the bounds")


def test_ignoring_the_seed_is_caught(kit_plugins):
    """A stochastic engine that does not draw from problem.seed fails reproducible_with_seed."""
    _fails(testing.check_reproducible_with_seed, "kit-unseeded", "same seed")


def test_undeclared_randomness_is_caught(kit_plugins):
    """An engine declared deterministic that is not fails deterministic."""
    _fails(testing.check_deterministic, "kit-random", "declared stochastic=False")


def test_wrong_covariance_is_caught(kit_plugins):
    """An identity covariance fails covariance_matches_reference."""
    _fails(testing.check_covariance_matches_reference, "kit-wrong-covariance", "differs from the reference")


def test_not_fitting_is_caught(kit_plugins):
    """An engine that returns its start fails both recovery checks, naming chi-square and parameters."""
    _fails(testing.check_recovers_linear, "kit-lazy", "linear problem", "chi-square", "differ from the reference")
    _fails(testing.check_recovers_nonlinear, "kit-lazy", "nonlinear problem")
    with pytest.raises(AssertionError) as info:
        testing.check_recovers_linear("kit-lazy")
    assert "parameters {'slope': 1.0, 'offset': 0.0} differ" in str(info.value) and "np." not in str(info.value)


def test_kit_messages_print_plain_numbers(kit_plugins):
    """Numbers in the kit's messages read as numbers, not as numpy reprs."""
    with pytest.raises(AssertionError) as info:
        testing.check_prob_in_unit_interval("kit-numpy-above-one")
    assert str(info.value) == "probability 1.5 outside [0, 1] (chi-square increase 0.0, 1 fixed)"


def test_a_failure_after_the_engine_returns_is_named(kit_plugins):
    """An engine that copes with NaNs but returns a bad x is reported for what failed, not for NaN intolerance."""
    with pytest.raises(AssertionError) as info:
        testing.check_nonfinite_propagate("kit-garbles")
    msg = str(info.value)
    assert msg.startswith("with NaNs at evaluations 5, 10 and 15 the engine returned, and then the fit failed: ")
    assert "does not cope" not in msg and "(at " in msg


def test_nan_intolerance_is_reported(kit_plugins):
    """An engine that raises on a NaN residual under nan_policy='propagate' gets a warning saying so."""
    with pytest.warns(testing.ConformanceWarning, match="residual is not finite"):
        testing.check_nonfinite_propagate("kit-nan-intolerant")
    result = next(r for r in check_engine("kit-nan-intolerant") if r.check == "nonfinite_propagate")
    assert result.status == "warn" and "does not cope with NaN" in result.message
    assert next(r for r in check_engine("kit-good") if r.check == "nonfinite_propagate").status == "pass"


def test_check_engine_reports_every_failure(kit_plugins):
    """check_engine raises ConformanceError listing each failed check; raise_on_failure=False returns them."""
    with pytest.raises(ConformanceError) as info:
        check_engine("kit-swallows")
    failed = {r.check for r in info.value.results if r.status == "fail"}
    assert {"honours_max_nfev", "aborts_when_asked", "nonfinite_raise"} <= failed
    assert "'kit-swallows' failed" in str(info.value) and "honours_max_nfev:" in str(info.value)
    results = check_engine("kit-swallows", raise_on_failure=False)
    assert {r.check for r in results if r.status == "fail"} == failed


@pytest.mark.parametrize(("name", "check", "fragment"), [
    ("kit-above-one", "check_prob_in_unit_interval", "outside [0, 1]"),
    ("kit-not-zero", "check_prob_zero_at_best_fit", "at zero chi-square increase"),
    ("kit-decreasing", "check_prob_monotone", "decreases"),
])
def test_bad_prob_funcs_are_caught(kit_plugins, name, check, fragment):
    """Probability functions outside [0, 1], non-zero at the best fit, or decreasing fail the matching check."""
    _fails(getattr(testing, check), name, fragment)
    with pytest.raises(ConformanceError):
        check_prob_func(name)


def test_unknown_names_are_refused():
    """Asking the kit about an engine or function that is not installed names what is."""
    with pytest.raises(fitcore.EngineNotFoundError, match="Installed engines: .*leastsq"):
        check_engine("nope")
    with pytest.raises(fitcore.ProbFuncNotFoundError, match="f_test"):
        check_prob_func("nope")


def test_parametrize_with_checks_ids_and_input():
    """One pytest case per (name, check), with readable ids; a bare string is refused."""
    mark = parametrize_with_checks(["leastsq"], prob_funcs=["f_test"])
    assert mark.args[0] == ("name", "check")
    ids = mark.kwargs["ids"]
    assert "leastsq-recovers_linear" in ids and "f_test-prob_monotone" in ids
    assert len(ids) == len(testing.engine_checks("leastsq")) + 4
    with pytest.raises(TypeError, match="lists of names"):
        parametrize_with_checks("leastsq")
