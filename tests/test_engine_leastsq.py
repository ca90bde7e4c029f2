"""The leastsq engine: MINPACK through scipy.optimize.leastsq, its options, messages, stencil and guards.

Option values refused before any evaluation are tested for every engine in ``test_engine_options.py``;
stopping and failing fits in ``test_engine_stop_restore.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from fitcore_engine_leastsq import leastsq as leastsq_engine
from scipy.optimize import leastsq as scipy_leastsq

import fitcore

X = np.linspace(0.0, 15.0, 301)
TRUTH = {"amp": 14.0, "shift": 0.21, "omega": 3.0, "decay": 0.01}
NAMES = tuple(TRUTH)
START = {"amp": 13.0, "shift": 0.1, "omega": 3.02, "decay": 0.015}


def model(v, x=X):
    """The manual's damped sine for a sequence of (amp, shift, omega, decay)."""
    amp, shift, omega, decay = v
    return amp * np.sin(omega * x + shift) * np.exp(-x * x * decay)


DATA = model(list(TRUTH.values())) + np.random.default_rng(12345).normal(scale=0.2, size=X.size)


def residual(p):
    """data - model, as the user writes it."""
    return DATA - model([p[n].value for n in NAMES])


def make_params(**bounds) -> fitcore.Parameters:
    """The damped-sine parameters at START (unbounded unless bounds are given as name=(min, max))."""
    p = fitcore.Parameters()
    for name in NAMES:
        lo, hi = bounds.get(name, (None, None))
        p.add(name, value=START[name], min=lo, max=hi)
    return p


def direct(**options):
    """scipy.optimize.leastsq itself on the same problem: (x, infodict, message, ier)."""
    x, _, info, message, ier = scipy_leastsq(lambda v: DATA - model(v), list(START.values()), full_output=True,
                                             **options)
    return x, info, " ".join(message.split()), ier


def test_exact_data_recovers_the_truth():
    """On noise-free data the fit returns the true values to 1e-9 with chi-square at rounding level."""
    truth = np.array(list(TRUTH.values()))
    exact = model(truth)
    p = make_params()
    fit = fitcore.minimize(lambda p: exact - model([p[n].value for n in NAMES]), p)
    assert fit.success, fit.message
    assert [p[n].value for n in NAMES] == pytest.approx(truth, rel=1e-9)
    assert fit.chisqr < 1e-20


def test_defaults_are_the_manuals_and_reach_minpack():
    """With no option, MINPACK runs as scipy.optimize.leastsq(xtol=ftol=1e-7, maxfev=1000*(nvar+1)) does."""
    p = make_params()
    fit = fitcore.minimize(residual, p)
    x, info, message, ier = direct(xtol=1e-7, ftol=1e-7, maxfev=5000)
    assert fit.success and fit.ier == ier
    assert fit.engine_extras["minpack_nfev"] == info["nfev"]
    assert fit.lmdif_message == message
    assert [p[n].value for n in NAMES] == pytest.approx(x, rel=1e-6)


def test_every_option_reaches_minpack():
    """xtol, ftol, gtol, maxfev, epsfcn, factor and diag given to fitcore run MINPACK as given to scipy."""
    given = {"xtol": 1e-9, "ftol": 1e-8, "gtol": 1e-12, "maxfev": 321, "epsfcn": 1e-12, "factor": 10.0,
             "diag": np.array([1.0, 10.0, 10.0, 100.0])}
    fit = fitcore.minimize(residual, make_params(), **given)
    _, info, message, ier = direct(**given)
    assert (fit.ier, fit.engine_extras["minpack_nfev"], fit.lmdif_message) == (ier, info["nfev"], message)
    assert fit.engine_options["maxfev"] == 321


def test_minimizer_keywords_are_defaults_that_fit_keywords_override():
    """Minimizer(**kws) options apply to every fit; leastsq(**kws) overrides them for that fit."""
    m = fitcore.Minimizer(residual, make_params(), xtol=1e-9, ftol=1e-9)
    m.leastsq(ftol=1e-6)
    _, info, message, _ = direct(xtol=1e-9, ftol=1e-6, maxfev=5000)
    assert m.engine_extras["minpack_nfev"] == info["nfev"] and m.lmdif_message == message


def test_maxfev_reached_is_not_a_success_and_says_so():
    """maxfev stops MINPACK: ier 5, scipy's message, success False."""
    fit = fitcore.minimize(residual, make_params(), maxfev=10)
    assert fit.success is False and fit.ier == 5
    assert fit.lmdif_message == "Number of calls to function has reached maxfev = 10."
    assert "maxfev" in fit.message


def test_gtol_decides_convergence():
    """A large gtol stops at once on the cosine test (ier 4) with MINPACK's wording; gtol=0 never does."""
    loose = fitcore.minimize(residual, make_params(), gtol=0.999)
    assert loose.ier == 4 and loose.lmdif_message.startswith("The cosine of the angle between func(x)")
    tight = fitcore.minimize(residual, make_params())
    assert tight.ier != 4 and tight.engine_extras["minpack_nfev"] > loose.engine_extras["minpack_nfev"]


def test_stencil_spares_the_error_bars_their_evaluations():
    """The engine's last forward differences serve the error bars: no evaluation for them, same stderr."""
    p_own, p_dfun = make_params(), make_params()
    fit = fitcore.minimize(residual, p_own)
    assert fit.success and fit.errorbars and fit.nfev_errorbars == 0

    def dfun(p):
        amp, shift, omega, decay = (p[n].value for n in NAMES)
        s, c, e = np.sin(omega * X + shift), np.cos(omega * X + shift), np.exp(-X * X * decay)
        return -np.column_stack([s * e, amp * c * e, amp * c * e * X, -amp * s * e * X * X])

    ref = fitcore.minimize(residual, p_dfun, Dfun=dfun)  # the analytic Jacobian: the reference stderr
    assert ref.success and ref.nfev_errorbars == 0  # the error bars use the user's Jacobian itself
    for n in NAMES:
        assert p_own[n].stderr == pytest.approx(p_dfun[n].stderr, rel=1e-4)


def test_engine_offers_its_last_stencil_through_the_plugin_contract():
    """Called as the core calls it, the engine returns a stencil whose steps follow epsfcn and whose rows are
    the residuals at its probes."""
    x = np.linspace(0, 4, 40)
    y = 2.0 * np.exp(-0.7 * x)

    def res(b):
        return y - b[0] * np.exp(-b[1] * x)

    problem = fitcore.Problem(x0=np.array([1.0, 0.3]), lower=np.full(2, -np.inf), upper=np.full(2, np.inf),
                              names=("a", "k"), residual=res, scalar=lambda b: float(res(b) @ res(b)),
                              jacobian=lambda b: None, gradient=lambda b: None, ndata=x.size)
    for epsfcn in (None, 1e-10):
        st = leastsq_engine(problem, epsfcn=epsfcn).stencil
        assert st is not None
        h = np.sqrt(epsfcn if epsfcn is not None else np.finfo(float).eps)
        assert st.steps == pytest.approx(h * np.abs(st.x), rel=1e-6)
        for j in range(2):
            probe = st.x.copy()
            probe[j] += st.steps[j]
            np.testing.assert_array_equal(st.rows[j], res(probe))
        np.testing.assert_array_equal(st.r, res(st.x))


def test_a_residual_that_refills_one_buffer_fits_like_a_fresh_one():
    """A function returning the same array each call, refilled: the same fit, evaluations and stderr."""
    buf = np.empty_like(DATA)

    def refill(p):
        np.subtract(DATA, model([p[n].value for n in NAMES]), out=buf)
        return buf

    p_buf, p_new = make_params(), make_params()
    fit_buf = fitcore.minimize(refill, p_buf)
    fit_new = fitcore.minimize(residual, p_new)
    assert fit_buf.success, fit_buf.message
    assert fit_buf.nfev == fit_new.nfev and fit_buf.nfev_errorbars == fit_new.nfev_errorbars
    for n in NAMES:
        assert p_buf[n].value == p_new[n].value
        assert p_buf[n].stderr == pytest.approx(p_new[n].stderr, rel=1e-12)


def test_fewer_data_than_parameters_is_padded():
    """MINPACK needs as many residuals as parameters; the engine pads with zeros and still fits."""
    p = fitcore.Parameters()
    p.add("a", value=0.0)
    p.add("b", value=0.0)
    p.add("c", value=5.0)
    fit = fitcore.minimize(lambda p: np.array([p["a"].value + p["b"].value - 3.0, p["c"].value - 1.0]), p)
    assert fit.ndata == 2 and fit.chisqr < 1e-20
    assert p["a"].value + p["b"].value == pytest.approx(3.0) and p["c"].value == pytest.approx(1.0)


def test_trial_steps_that_overflow_are_rejected_not_fatal():
    """A Levenberg-Marquardt step into overflow is refused like a step that raises chi-square: the fit converges
    and counts the rejections."""
    x = np.linspace(0, 100, 60)
    data = 3 * np.exp(-0.05 * x)
    p = fitcore.Parameters()
    p.add("a", value=1.0)
    p.add("k", value=5.0)
    with np.errstate(over="ignore"):
        fit = fitcore.minimize(lambda p: p["a"].value * np.exp(-p["k"].value * x) - data, p)
    assert fit.success, fit.message
    assert fit.engine_extras["nonfinite_trials"] >= 1
    assert [p["a"].value, p["k"].value] == pytest.approx([3.0, 0.05], rel=1e-9)


def test_nonfinite_start_still_raises():
    """A non-finite residual at the start is no trial step: it raises, naming the evaluation."""
    p = fitcore.Parameters()
    p.add("a", value=-1.0)
    with pytest.raises(fitcore.NonFiniteResidualError, match="evaluation 1"), np.errstate(invalid="ignore"):
        fitcore.minimize(lambda p: np.sqrt(np.array([p["a"].value, 1.0])), p)


def test_bounded_fit_matches_unbounded_minimum():
    """Through the bound transform, an interior optimum and its error bars are those of the unbounded fit."""
    p_b = make_params(amp=(5.0, 20.0), shift=(-1.0, 1.0), omega=(2.5, 3.5), decay=(0.001, 0.1))
    p_u = make_params()
    fit_b, fit_u = fitcore.minimize(residual, p_b), fitcore.minimize(residual, p_u)
    assert fit_b.success and fit_u.success
    for n in NAMES:
        assert p_b[n].value == pytest.approx(p_u[n].value, rel=1e-7)
        assert p_b[n].stderr == pytest.approx(p_u[n].stderr, rel=1e-4)


def test_engine_raises_a_nonfinite_first_evaluation_through_the_plugin_contract():
    """Called directly, the engine passes on a non-finite residual at its first evaluation: there is no
    accepted point yet, so it cannot be a trial step to reject."""
    def res(b):
        raise fitcore.NonFiniteResidualError("not finite at the start", 1, {"a": float(b[0])})

    problem = fitcore.Problem(x0=np.array([1.0, 0.3]), lower=np.full(2, -np.inf), upper=np.full(2, np.inf),
                              names=("a", "k"), residual=res, scalar=lambda b: 0.0, jacobian=lambda b: None,
                              gradient=lambda b: None, ndata=5)
    with pytest.raises(fitcore.NonFiniteResidualError, match="not finite at the start"):
        leastsq_engine(problem)
