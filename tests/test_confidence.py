"""conf_interval / conf_interval2d: the manual's examples against independent profiles, and the edges."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import optimize, special

import fitcore
from fitcore import ConfidenceWarning, ParameterError, ProbFuncNotFoundError, conf_interval, conf_interval2d

X = np.linspace(0.3, 10, 100)
Y_HYP = 1 / (0.1 * X) + 2 + 0.1 * np.random.default_rng(42).normal(size=X.size)
Y_EXP = 3 * np.exp(-X / 2) - 5 * np.exp(-X / 10) + 0.2 * np.random.default_rng(0).normal(size=X.size)


def hyp_model(theta):
    """Manual 4.2 model as a function of (a, b)."""
    a, b = theta
    return 1 / (a * X) + b - Y_HYP


def exp_model(theta):
    """Manual 4.3 model as a function of (a1, a2, t1, t2)."""
    a1, a2, t1, t2 = theta
    return a1 * np.exp(-X / t1) + a2 * np.exp(-X / t2) - Y_EXP


def residual_hyp(p):
    """Manual 4.2 residual."""
    return hyp_model([p["a"].value, p["b"].value])


def residual_exp(p):
    """Manual 4.3 residual (a1, a2, t1, t2 in insertion order)."""
    return exp_model([par.value for par in p.values()])


def fit_hyp():
    """Manual 4.2 fit."""
    p = fitcore.Parameters()
    p.add_many(("a", 0.1), ("b", 1))
    return fitcore.minimize(residual_hyp, p)


def fit_exp(**kws):
    """Manual 4.3 fit."""
    p = fitcore.Parameters()
    p.add_many(("a1", 5), ("a2", -5), ("t1", 2), ("t2", 5))
    return fitcore.minimize(residual_exp, p, **kws)


def f_prob(chi0, chi, nfree):
    """F-test probability with one fixed parameter, from scipy directly."""
    return special.fdtr(1, nfree, max(chi / chi0 - 1, 0) * nfree)


def brute_profile_limit(model, best, idx, sign, level, stderr):
    """Independent profile limit: scan fixed-parameter refits (scipy least_squares), then bisect."""
    best = np.asarray(best, dtype=float)
    chi0 = float(model(best) @ model(best))
    nfree = X.size - best.size
    others = [k for k in range(best.size) if k != idx]
    guess = [best[others].copy()]

    def prob_at(v):
        def sub(q):
            theta = best.copy()
            theta[others] = q
            theta[idx] = v
            return model(theta)
        sol = optimize.least_squares(sub, guess[0], xtol=1e-14, ftol=1e-14, gtol=1e-14, method="lm")
        guess[0] = sol.x
        return f_prob(chi0, float(sol.fun @ sol.fun), nfree)

    step = 0.25 * stderr
    lo = best[idx]
    hi = lo + sign * step
    while prob_at(hi) < level:
        lo, hi = hi, hi + sign * step
    return optimize.brentq(lambda v: prob_at(v) - level, min(lo, hi), max(lo, hi), xtol=1e-7 * stderr)


def test_manual_basic_example_matches_brute_force_profile():
    """Manual 4.2: every limit agrees with an independent brute-force profile within 1e-3 of its half-width."""
    mi = fit_hyp()
    assert mi.success
    ci = conf_interval(mi)
    best = [mi.params["a"].value, mi.params["b"].value]
    for idx, name in enumerate(["a", "b"]):
        rows = ci[name]
        assert [round(p, 3) for p, _ in rows] == [0.997, 0.95, 0.674, 0.0, 0.674, 0.95, 0.997]
        assert rows[3][1] == best[idx]
        for k, (level, value) in enumerate(rows):
            if level == 0:
                continue
            sign = -1 if k < 3 else 1
            ref = brute_profile_limit(hyp_model, best, idx, sign, level, mi.params[name].stderr)
            assert abs(value - ref) < 1e-3 * abs(ref - best[idx]), (name, level, value, ref)


def test_manual_advanced_example_matches_brute_force_with_trace():
    """Manual 4.3: 1 and 2 sigma limits of all four parameters agree with a brute-force profile; trace as documented."""
    mi = fit_exp()
    ci, trace = conf_interval(mi, sigmas=[0.68, 0.95], trace=True, verbose=0)
    names = ["a1", "a2", "t1", "t2"]
    best = [mi.params[n].value for n in names]
    for idx, name in enumerate(names):
        for k, (level, value) in enumerate(ci[name]):
            if level == 0:
                continue
            sign = -1 if k < 2 else 1
            ref = brute_profile_limit(exp_model, best, idx, sign, level, mi.params[name].stderr)
            assert abs(value - ref) < 1e-3 * abs(ref - best[idx]), (name, level, value, ref)
    # the covariance underestimates the asymmetric upper error of a1, as the manual says
    assert ci["a1"][3][1] - best[0] > mi.params["a1"].stderr
    # manual: x, y, prob = trace['a1']['a1'], trace['a1']['t2'], trace['a1']['prob']
    tr = trace["a1"]
    assert set(tr) == {"a1", "a2", "t1", "t2", "prob"}
    assert np.all(np.diff(tr["a1"]) > 0)
    assert len(tr["a1"]) == len(tr["t2"]) == len(tr["prob"]) >= 5
    assert np.all((tr["prob"] >= 0) & (tr["prob"] <= 1))
    i0 = int(np.argmin(np.abs(tr["a1"] - best[0])))
    assert tr["prob"][i0] == 0.0 and tr["t2"][i0] == best[3]
    # each traced point is a true refit: the F-test probability of its chi-square
    j = int(np.argmax(tr["prob"]))
    theta = np.array([tr[n][j] for n in names])
    chi0 = mi.chisqr
    assert tr["prob"][j] == pytest.approx(f_prob(chi0, float(exp_model(theta) @ exp_model(theta)), mi.nfree), abs=1e-9)


def test_likelihood_ratio_matches_minos():
    """likelihood_ratio limits agree with iminuit's MINOS (errordef = reduced chi-square) within 1% of the half-width."""
    iminuit = pytest.importorskip("iminuit")
    mi = fit_exp()
    ci = conf_interval(mi, sigmas=(1, 2), prob_func="likelihood_ratio")
    names = ["a1", "a2", "t1", "t2"]

    def chi2(a1, a2, t1, t2):
        r = exp_model([a1, a2, t1, t2])
        return float(r @ r)

    m = iminuit.Minuit(chi2, **{n: mi.params[n].value for n in names})
    m.errordef = mi.redchi
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        m.migrad()
        for cl, lo_k, hi_k in ((1, 1, 3), (2, 0, 4)):
            m.minos(cl=cl)
            for n in names:
                err = m.merrors[n]
                assert err.is_valid
                best = ci[n][2][1]
                assert abs(ci[n][lo_k][1] - (m.values[n] + err.lower)) < 0.01 * abs(err.lower), (n, cl)
                assert abs(ci[n][hi_k][1] - (m.values[n] + err.upper)) < 0.01 * abs(err.upper), (n, cl)
                assert abs(best - m.values[n]) < 1e-3 * abs(err.upper)


def test_prob_func_by_name_callable_and_registered_plugin():
    """prob_func accepts None/'f_test', any callable, and a name registered by a third-party plugin."""
    mi = fit_hyp()
    base = conf_interval(mi, sigmas=(0.9,))
    assert conf_interval(mi, sigmas=(0.9,), prob_func="f_test") == base

    def my_f(best, new):
        return fitcore.stats.f_test(best, new)

    assert conf_interval(mi, sigmas=(0.9,), prob_func=my_f) == base

    class Plugin:
        @fitcore.hookimpl
        def fitcore_prob_funcs(self):
            yield fitcore.ProbFuncSpec("halved_delta", lambda best, new: special.chdtr(
                1, 0.5 * (new.chisqr - best.chisqr) / best.redchi), "test: chi-square increase halved")

    plugin = Plugin()
    fitcore.plugins.register(plugin, name="test_halved")
    try:
        assert "halved_delta" in [f.name for f in fitcore.list_prob_funcs()]
        lr = conf_interval(mi, sigmas=(0.9,), prob_func="likelihood_ratio")
        wide = conf_interval(mi, sigmas=(0.9,), prob_func="halved_delta")
    finally:
        fitcore.plugins.unregister(plugin)
    for name in ("a", "b"):
        best = lr[name][1][1]
        # doubling the chi-square increase needed widens a near-quadratic profile by sqrt(2)
        assert (wide[name][2][1] - best) / (lr[name][2][1] - best) == pytest.approx(math.sqrt(2), rel=2e-2)


def test_builtin_prob_funcs_listed_and_unknown_name_lists_them():
    """f_test and likelihood_ratio are registered; an unknown name raises with the list before any refit."""
    names = [f.name for f in fitcore.list_prob_funcs()]
    assert {"f_test", "likelihood_ratio"} <= set(names)
    mi = fit_hyp()
    with pytest.raises(ProbFuncNotFoundError, match="likelihood_ratio") as exc:
        conf_interval(mi, prob_func="f_tset")
    assert "f_test" in str(exc.value)


def test_refits_use_the_engine_and_options_of_the_fit():
    """Refits go to the engine that made the fit, with its options; never a hard-coded one."""
    calls = []

    def trf(problem, xtol=1e-8):
        calls.append(xtol)
        sol = optimize.least_squares(problem.residual, problem.x0, xtol=xtol, ftol=1e-12, gtol=1e-12)
        return fitcore.EngineResult(x=sol.x, success=sol.success, message=sol.message, status=sol.status)

    class Plugin:
        @fitcore.hookimpl
        def fitcore_engines(self):
            yield fitcore.EngineSpec("test_trf", trf, "test: scipy trf", options={"xtol": 1e-8})

    plugin = Plugin()
    fitcore.plugins.register(plugin, name="test_trf_engine")
    try:
        p = fitcore.Parameters()
        p.add_many(("a", 0.1), ("b", 1))
        mi = fitcore.minimize(residual_hyp, p, engine="test_trf", xtol=1e-12)
        assert calls == [1e-12]
        ci = conf_interval(mi, sigmas=(0.95,))
    finally:
        fitcore.plugins.unregister(plugin)
    assert len(calls) > 4 and set(calls) == {1e-12}
    ref = conf_interval(fit_hyp(), sigmas=(0.95,))
    for name in ("a", "b"):
        half = ref[name][2][1] - ref[name][1][1]
        for (_, v), (_, w) in zip(ci[name], ref[name]):
            assert abs(v - w) < 1e-3 * half


def test_limit_beyond_bound_is_infinite_with_warning():
    """A limit beyond the parameter's bound is reported as +/-inf with a warning naming it and the probability."""
    p = fitcore.Parameters()
    p.add_many(("a1", 5), ("a2", -5), ("t1", 2, True, 0.9, 10), ("t2", 5))
    mi = fitcore.minimize(residual_exp, p)
    with pytest.warns(ConfidenceWarning, match=r"lower limit of 't1' lies beyond its bound 0\.9.*reaches only 0\.\d+"):
        ci = conf_interval(mi, p_names=["t1"], sigmas=(0.68, 0.95))
    lo95, lo68, best, hi68, hi95 = [v for _, v in ci["t1"]]
    assert lo95 == -np.inf and 0.9 < lo68 < best < hi68 < hi95 < np.inf


def test_fit_without_error_bars_still_gets_intervals():
    """Without stderr or covariance the step heuristic finds the same limits."""
    mi = fit_exp()
    ref = conf_interval(mi, sigmas=(0.68, 0.95))
    mi.covar = None
    mi.errorbars = False
    for par in mi.params.values():
        par.stderr = None
        par.correl = None
    ci = conf_interval(mi, sigmas=(0.68, 0.95))
    for name in ref:
        half = ref[name][3][1] - ref[name][2][1]
        for (_, v), (_, w) in zip(ci[name], ref[name]):
            assert abs(v - w) < 1e-3 * half, name


def test_flat_profile_gives_nan_with_warning_not_exception():
    """A parameter the model barely depends on: nan for the unreachable levels and a warning, no exception."""
    def residual(p):
        return p["a"].value * X + 1e-9 * np.tanh(p["c"].value) - 2 * X - 0.1 * np.sin(7 * X)

    p = fitcore.Parameters()
    p.add_many(("a", 1.0), ("c", 0.1))
    mi = fitcore.minimize(residual, p)
    with pytest.warns(ConfidenceWarning, match="limit of 'c' was not found"):
        ci = conf_interval(mi, p_names="c", sigmas=(0.68,), maxiter=30)
    assert math.isnan(ci["c"][0][1]) and math.isnan(ci["c"][2][1])


def test_failing_refit_gives_nan_with_warning():
    """A refit that raises far from the best fit ends that side with nan and a warning naming the error."""
    def residual(p):
        if p["b"].value > 2.005:
            raise FloatingPointError("model undefined here")
        return hyp_model([p["a"].value, p["b"].value])

    p = fitcore.Parameters()
    p.add_many(("a", 0.1), ("b", 1))
    mi = fitcore.minimize(residual, p)
    with pytest.warns(ConfidenceWarning, match="upper limit of 'b' was not found.*FloatingPointError"):
        ci = conf_interval(mi, p_names=["b"], sigmas=(0.95,))
    assert math.isfinite(ci["b"][0][1]) and math.isnan(ci["b"][2][1])


def test_p_names_and_arguments_validated_before_any_refit():
    """Unknown, fixed and expression names, bad sigmas and maxiter raise clear errors before the function runs."""
    calls = []

    def residual(p):
        calls.append(1)
        return hyp_model([p["a"].value, p["b"].value])

    p = fitcore.Parameters()
    p.add_many(("a", 0.1), ("b", 1), ("k", 3.0, False), ("s", None, False, None, None, "a + b"))
    mi = fitcore.minimize(residual, p)
    calls.clear()
    with pytest.raises(ParameterError, match="no parameter 'bb'. Did you mean 'b'.*Varied parameters: a, b"):
        conf_interval(mi, p_names=["bb"])
    with pytest.raises(ParameterError, match="'k' is fixed"):
        conf_interval(mi, p_names=["k"])
    with pytest.raises(ParameterError, match="'s' has an expression"):
        conf_interval(mi, p_names="s")
    with pytest.raises(ValueError, match="sigmas contains -0.5"):
        conf_interval(mi, sigmas=(0.5, -0.5))
    with pytest.raises(ValueError, match="maxiter=0"):
        conf_interval(mi, maxiter=0)
    with pytest.raises(ValueError, match="x_name and y_name are both 'a'"):
        conf_interval2d(mi, "a", "a")
    with pytest.raises(ValueError, match="limits for 'b' must be finite"):
        conf_interval2d(mi, "a", "b", limits=((0.1, 0.2), (math.inf, 2.0)))
    with pytest.raises(TypeError, match="Minimizer"):
        conf_interval(p)
    with pytest.raises(ValueError, match="has not been fitted"):
        conf_interval(fitcore.Minimizer(residual, p))
    assert calls == []


def test_sigmas_as_numbers_of_standard_deviations():
    """sigmas >= 1 are read as multiples of sigma: 1 and 2 give the 68.27% and 95.45% limits."""
    mi = fit_hyp()
    ci = conf_interval(mi, sigmas=(1, 2))
    ref = conf_interval(mi, sigmas=(special.erf(1 / math.sqrt(2)), special.erf(2 / math.sqrt(2))))
    assert ci == ref
    assert ci["a"][0][0] == pytest.approx(0.9545, abs=1e-4)


def test_parameters_end_exactly_as_they_started():
    """Every attribute of every Parameter (value, stderr, correl, vary, bounds, init_value) is unchanged."""
    mi = fit_exp()
    before = {n: {k: getattr(par, k) for k in fitcore.Parameter.__slots__} for n, par in mi.params.items()}
    stats = (mi.chisqr, mi.nfev, mi.nvarys, mi.success)
    conf_interval(mi, sigmas=(0.68,), trace=True)
    conf_interval2d(mi, "a1", "t2", 3, 3)
    after = {n: {k: getattr(par, k) for k in fitcore.Parameter.__slots__} for n, par in mi.params.items()}
    assert after == before
    assert (mi.chisqr, mi.nfev, mi.nvarys, mi.success) == stats


def test_constraint_expression_and_analytic_jacobian():
    """Fits with an expression parameter and with a Dfun profile the same as without."""
    def residual(p):
        return hyp_model([p["a"].value, p["b"].value])

    def dfun(p):
        a = p["a"].value
        return np.column_stack([-1 / (a * a * X), np.ones_like(X)])

    ref = conf_interval(fit_hyp(), sigmas=(0.95,))
    p = fitcore.Parameters()
    p.add_many(("a", 0.1), ("b", 1))
    ci = conf_interval(fitcore.minimize(residual, p, Dfun=dfun), sigmas=(0.95,))
    p = fitcore.Parameters()
    p.add_many(("a", 0.1), ("b", 1), ("ab", None, False, None, None, "a * b"))
    cx = conf_interval(fitcore.minimize(residual, p), sigmas=(0.95,))
    assert set(cx) == {"a", "b"}
    for name in ("a", "b"):
        half = ref[name][2][1] - ref[name][1][1]
        for out in (ci, cx):
            for (_, v), (_, w) in zip(out[name], ref[name]):
                assert abs(v - w) < 1e-3 * half


def test_conf_interval2d_grid_against_direct_refits():
    """Grid shape (ny, nx), default limits +/- 5 stderr, and each value equals an independent two-fixed refit."""
    mi = fit_exp()
    x, y, grid = conf_interval2d(mi, "a1", "t2", 5, 4)
    a1, t2 = mi.params["a1"], mi.params["t2"]
    assert x.shape == (5,) and y.shape == (4,) and grid.shape == (4, 5)
    assert x[0] == pytest.approx(a1.value - 5 * a1.stderr) and x[-1] == pytest.approx(a1.value + 5 * a1.stderr)
    assert y[0] == pytest.approx(t2.value - 5 * t2.stderr) and y[-1] == pytest.approx(t2.value + 5 * t2.stderr)
    assert np.all((grid >= 0) & (grid <= 1))
    best = np.array([mi.params[n].value for n in ("a1", "a2", "t1", "t2")])
    chi0, nfree = mi.chisqr, mi.nfree
    for j, i in ((1, 2), (0, 0), (3, 4)):
        def sub(q, i=i, j=j):
            return exp_model([x[i], q[0], q[1], y[j]])
        sol = optimize.least_squares(sub, best[1:3], xtol=1e-14, ftol=1e-14, gtol=1e-14, method="lm")
        ref = special.fdtr(2, nfree, max(float(sol.fun @ sol.fun) / chi0 - 1, 0) * nfree / 2)
        assert grid[j, i] == pytest.approx(ref, abs=1e-6)
    # a centred grid with the best fit on a node
    x, y, grid = conf_interval2d(mi, "a1", "t2", 3, 3, limits=((a1.value - a1.stderr, a1.value + a1.stderr),
                                                              (t2.value - t2.stderr, t2.value + t2.stderr)))
    assert grid[1, 1] == pytest.approx(0.0, abs=1e-9)
    assert grid[0, 0] > 0 and grid[2, 2] > 0


def test_report_ci_prints_the_manual_table(capsys):
    """report_ci prints probabilities over the columns and values with five decimals, as in manual 4.2."""
    ci = {"a": [(0.997, 0.09916), (0.95, 0.099163), (0.674, 0.099164), (0.0, 0.09992), (0.674, 0.10069),
                (0.95, 0.1006900), (0.997, 0.10069)],
          "b": [(0.997, 1.96591), (0.95, 1.97831), (0.674, 1.99041), (0.0, 2.00189), (0.674, 2.01337),
                (0.95, 2.02547), (0.997, -np.inf)]}
    fitcore.printfuncs.report_ci(ci)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["99.70%", "95.00%", "67.40%", "0.00%", "67.40%", "95.00%", "99.70%"]
    assert lines[1].split() == ["a", "0.09916", "0.09916", "0.09916", "0.09992", "0.10069", "0.10069", "0.10069"]
    assert lines[2].split() == ["b", "1.96591", "1.97831", "1.99041", "2.00189", "2.01337", "2.02547", "-inf"]
    assert fitcore.ci_report(ci) == "\n".join(lines)
    # different levels per parameter: a header above each row
    text = fitcore.ci_report({"a": [(0.0, 1.0), (0.5, 2.0)], "bb": [(0.9, 0.5), (0.0, 1.0)]})
    assert text.splitlines()[2].split() == ["90.00%", "0.00%"]


def test_verbose_prints_each_parameter(capsys):
    """verbose=True prints the limits of each parameter with the refits spent."""
    conf_interval(fit_hyp(), sigmas=(0.95,), verbose=True)
    out = capsys.readouterr().out
    assert out.count("refits") == 2 and out.startswith("a: 95.00%: [")


def test_conf_interval2d_failed_refits_are_nan_with_one_warning():
    """Grid points whose evaluation raises are nan, the rest computed, with one warning counting them."""
    def residual(p):
        if p["b"].value > 2.0:
            raise FloatingPointError("model undefined here")
        return hyp_model([p["a"].value, p["b"].value])

    p = fitcore.Parameters()
    p.add_many(("a", 0.1), ("b", 1))
    mi = fitcore.minimize(residual, p)
    b0 = mi.params["b"].value
    with pytest.warns(ConfidenceWarning, match=r"3 of 6 refits failed.*b=2.001: FloatingPointError"):
        _, _, grid = conf_interval2d(mi, "a", "b", 3, 2, limits=((0.0999, 0.1001), (b0 - 0.01, 2.001)))
    assert np.all(np.isnan(grid[1])) and np.all(np.isfinite(grid[0])) and np.all(grid[0] > 0)


def test_refits_stopped_by_max_nfev_are_not_used():
    """A refit cut short by max_nfev does not give a limit: nan with a warning saying why."""
    mi = fitcore.Minimizer(residual_exp, fit_exp().params)
    mi.leastsq()
    mi.max_nfev = 3  # later refits get this budget
    with pytest.warns(ConfidenceWarning, match="did not finish: max_nfev=3 evaluations reached"):
        ci = conf_interval(mi, p_names="a1", sigmas=(0.68,))
    assert all(math.isnan(v) for p, v in ci["a1"] if p > 0)


def test_constraint_with_a_function_added_to_the_asteval_symtable():
    """A constraint calling a user function added to Minimizer.asteval.symtable (manual 5.3) refits fine."""
    def twice(v):
        return 2 * v

    def residual(p):
        return hyp_model([p["a"].value, p["b2"].value / 2])

    p = fitcore.Parameters()
    p.add_many(("a", 0.1), ("b", 1), ("b2", None, False, None, None, "twice(b)"))
    mi = fitcore.Minimizer(residual, p)
    mi.asteval.symtable["twice"] = twice
    mi.leastsq()
    ref = conf_interval(fit_hyp(), sigmas=(0.95,))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfidenceWarning)
        ci = conf_interval(mi, sigmas=(0.95,))
    for name in ("a", "b"):
        half = ref[name][2][1] - ref[name][1][1]
        for (_, v), (_, w) in zip(ci[name], ref[name]):
            assert abs(v - w) < 1e-3 * half


def test_conf_interval2d_lmfit_form_matches_manual_form():
    """conf_interval2d(minimizer, result, x, y, nx, ny) (lmfit's form) profiles the same grid as the manual's form."""
    mi = fit_exp()
    manual = conf_interval2d(mi, "a1", "t2", 4, 3)
    lmfit_form = conf_interval2d(mi, mi.result, "a1", "t2", 4, 3)
    by_keyword = conf_interval2d(mi, "a1", "t2", nx=4, ny=3, result=mi.result)
    for got in (lmfit_form, by_keyword):
        for a, b in zip(manual, got):
            np.testing.assert_allclose(a, b, rtol=1e-10)
    assert manual[2].shape == (3, 4)


def test_conf_interval2d_chi2_out_and_nsigma():
    """chi2_out returns the refitted chi-square the probabilities come from; nsigma sets the default extent."""
    mi = fit_exp()
    a1, t2 = mi.params["a1"], mi.params["t2"]
    x, y, chi = conf_interval2d(mi, "a1", "t2", 3, 5, nsigma=2, chi2_out=True)
    np.testing.assert_allclose(x, np.linspace(a1.value - 2 * a1.stderr, a1.value + 2 * a1.stderr, 3), rtol=1e-12)
    np.testing.assert_allclose(y, np.linspace(t2.value - 2 * t2.stderr, t2.value + 2 * t2.stderr, 5), rtol=1e-12)
    assert np.all(chi >= mi.chisqr * (1 - 1e-9))
    assert chi[2, 1] == pytest.approx(mi.chisqr, rel=1e-6)  # the grid's centre is the best fit
    _, _, prob = conf_interval2d(mi, "a1", "t2", 3, 5, nsigma=2)
    expected = special.fdtr(2, mi.nfree, (chi / mi.chisqr - 1) * mi.nfree / 2)  # F-test, two fixed parameters
    np.testing.assert_allclose(prob, expected, rtol=1e-6, atol=1e-9)


def test_conf_interval2d_lmfit_form_limits_run_lower_to_upper():
    """In lmfit's form limits are ((x_upper, x_lower), (y_upper, y_lower)) and the grid runs lower to upper."""
    mi = fit_exp()
    x, y, _ = conf_interval2d(mi, mi.result, "a1", "t2", 3, 2, ((3.2, 2.8), (11.0, 12.0)), chi2_out=True)
    np.testing.assert_allclose(x, [2.8, 3.0, 3.2])
    np.testing.assert_allclose(y, [12.0, 11.0])


def test_conf_interval2d_bad_arguments():
    """Bad nsigma, chi2_out, result or too many arguments are refused before any refit."""
    mi = fit_exp()
    with pytest.raises(ValueError, match="nsigma=0"):
        conf_interval2d(mi, "a1", "t2", nsigma=0)
    with pytest.raises(TypeError, match="chi2_out='yes'"):
        conf_interval2d(mi, "a1", "t2", chi2_out="yes")
    with pytest.raises(TypeError, match="result must be a FitResult"):
        conf_interval2d(mi, "a1", "t2", result="out")
    with pytest.raises(TypeError, match="too many positional arguments"):
        conf_interval2d(mi, mi.result, "a1", "t2", 3, 3, None, None, 5, False, 1)
    with pytest.raises(TypeError, match="x_name"):
        conf_interval2d(mi, mi.result)


def test_model_result_given_twice_is_lmfits_form():
    """conf_interval(out, out) and conf_interval2d(out, out, ...) profile a ModelResult's own fit (lmfit's form)."""
    x = np.linspace(0, 10, 60)
    y = 2.5 * np.exp(-x / 3.0) + 0.02 * np.random.default_rng(3).normal(size=x.size)
    out = fitcore.Model(lambda x, amp, tau: amp * np.exp(-x / tau)).fit(y, x=x, amp=1.0, tau=1.0)
    assert conf_interval(out, out, sigmas=(0.68,)) == conf_interval(out, sigmas=(0.68,))
    ours = conf_interval2d(out, out, "amp", "tau", 3, 3, ((2.6, 2.4), (3.1, 2.9)), chi2_out=True)
    manual = conf_interval2d(out, "amp", "tau", 3, 3, ((2.4, 2.6), (2.9, 3.1)), chi2_out=True)
    for a, b in zip(ours, manual):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    assert ours[2].min() >= out.chisqr * (1 - 1e-9)
