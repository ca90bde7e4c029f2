"""MINUIT bound transforms: property tests (hypothesis) and their effect on fits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fitcore import Parameters, minimize
from fitcore.bounds import BoundsTransform
from fitcore.errors import EngineCapabilityError, ParameterError

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
internal = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
width = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
KINDS = ("both", "lower", "upper", "none")
#: no per-example deadline (the CI machine is shared) and no example database written into the tree
PROPS = settings(deadline=None, database=None, max_examples=150)


@st.composite
def bounds(draw):
    """A (kind, lower, upper) triple for one parameter."""
    kind = draw(st.sampled_from(KINDS))
    lo = draw(finite)
    hi = lo + draw(width)
    return kind, (lo if kind in ("both", "lower") else -np.inf), (hi if kind in ("both", "upper") else np.inf)


def _one(b):
    _, lo, hi = b
    return BoundsTransform([lo], [hi])


@PROPS
@given(bounds(), internal)
def test_value_never_leaves_bounds(b, u):
    """Any internal value maps to an external value inside [min, max]."""
    _, lo, hi = b
    v = _one(b).to_external(np.array([u]))[0]
    assert lo <= v <= hi


@PROPS
@given(bounds(), st.floats(min_value=0.0, max_value=1.0))
def test_round_trip_external_internal_external(b, frac):
    """to_external(to_internal(v)) == v for v inside the bounds."""
    kind, lo, hi = b
    a = lo if np.isfinite(lo) else (hi - 1e3 if np.isfinite(hi) else -1e3)
    z = hi if np.isfinite(hi) else a + 2e3
    v = a + frac * (z - a)
    t = _one(b)
    back = t.to_external(t.to_internal(np.array([v])))[0]
    scale = max(abs(v), abs(z - a), 1.0)
    # sin/arcsin lose precision near the bounds (cos -> 0): allow sqrt(eps) of the range there
    tol = 1e-12 * scale if kind in ("lower", "upper", "none") else 2e-8 * scale
    assert abs(back - v) <= tol


@PROPS
@given(bounds(), internal)
def test_round_trip_internal_external_internal(b, u):
    """to_internal(to_external(u)) gives back u on the transform's principal branch."""
    kind, lo, hi = b
    t = _one(b)
    if kind == "both":
        u = float(np.arcsin(np.sin(u)))  # sin is periodic: compare on [-pi/2, pi/2]
    elif kind in ("lower", "upper"):
        u = abs(u)  # sqrt(u^2+1) is even: compare on u >= 0
    v = t.to_external(np.array([u]))
    w = t.to_internal(v)[0]
    # the external value is only resolved to a few ulps; mapped back that is dext / |derivative|,
    # or sqrt(dext / curvature) where the derivative vanishes (on a bound)
    dext = 4 * np.spacing(max(abs(z) for z in (lo, hi, v[0]) if np.isfinite(z)))
    curvature = (hi - lo) / 2 if kind == "both" else 1.0
    deriv = abs(t.derivative(np.array([u]))[0])
    tol = min(dext / deriv if deriv > dext else np.inf, 2 * np.sqrt(2 * dext / curvature))
    assert abs(w - u) <= tol + 1e-12 * (1 + abs(u))


@PROPS
@given(bounds(), internal, internal)
def test_monotonic_on_principal_branch(b, u1, u2):
    """External value is monotonic in the internal one on each branch (non-decreasing for lower/both)."""
    kind, _, _ = b
    t = _one(b)
    if kind == "both":
        u1, u2 = np.clip([u1, u2], -np.pi / 2, np.pi / 2)
    elif kind in ("lower", "upper"):
        u1, u2 = abs(u1), abs(u2)
    u1, u2 = min(u1, u2), max(u1, u2)
    v1, v2 = t.to_external(np.array([u1]))[0], t.to_external(np.array([u2]))[0]
    if kind == "upper":
        assert v1 >= v2
    else:
        assert v1 <= v2


@PROPS
@given(bounds(), st.floats(min_value=-50.0, max_value=50.0, allow_nan=False))
def test_derivative_matches_finite_differences(b, u):
    """derivative() equals a central finite difference of to_external()."""
    kind, lo, hi = b
    t = _one(b)
    h = 1e-6 * max(1.0, abs(u))
    fd = (t.to_external(np.array([u + h]))[0] - t.to_external(np.array([u - h]))[0]) / (2 * h)
    d = t.derivative(np.array([u]))[0]
    scale = (hi - lo) / 2 if kind == "both" else 1.0
    if kind == "both" and abs(np.cos(u)) < 1e-4:
        return  # the clip at the upper bound makes the one-ulp neighbourhood non-smooth
    magnitude = max(abs(x) for x in (lo, hi, 1.0) if np.isfinite(x)) + abs(u)
    rounding = 10 * np.finfo(float).eps * magnitude / h  # cancellation in the difference quotient
    truncation = 1e-6 * scale  # h**2 * third derivative, generously
    assert abs(d - fd) <= rounding + truncation + 1e-9 * abs(d)


@PROPS
@given(st.lists(bounds(), min_size=1, max_size=6), st.data())
def test_vectorized_equals_elementwise(bs, data):
    """A mixed vector of bound kinds transforms exactly as each parameter alone."""
    lo = np.array([b[1] for b in bs])
    hi = np.array([b[2] for b in bs])
    u = np.array(data.draw(st.lists(internal, min_size=len(bs), max_size=len(bs))))
    t = BoundsTransform(lo, hi)
    v = t.to_external(u)
    d = t.derivative(u)
    for i, b in enumerate(bs):
        assert v[i] == _one(b).to_external(u[i:i + 1])[0]
        assert d[i] == _one(b).derivative(u[i:i + 1])[0]
    assert np.all((lo <= v) & (v <= hi))


@PROPS
@given(bounds(), st.sampled_from(["min", "max"]))
def test_nudge_moves_a_start_on_a_bound_inside_where_the_derivative_is_nonzero(b, which):
    """A start exactly on a bound gets a non-zero transform derivative after nudge, still inside."""
    kind, lo, hi = b
    if kind == "none" or (kind == "lower" and which == "max") or (kind == "upper" and which == "min"):
        return
    t = _one(b)
    start = lo if which == "min" else hi
    u = t.to_internal(np.array([start]))
    assert t.derivative(u)[0] == pytest.approx(0.0, abs=1e-12 * max(1.0, hi - lo if kind == "both" else 1.0))
    n = t.nudge(u)
    assert abs(t.derivative(n)[0]) > 0
    v = t.to_external(n)[0]
    assert lo <= v <= hi and v != start


def test_identity_when_unbounded():
    """With no bound at all the transform is the identity and costs nothing."""
    t = BoundsTransform([-np.inf, -np.inf], [np.inf, np.inf])
    u = np.array([1.5, -2.0])
    assert t.identity and t.to_external(u) is u and np.array_equal(t.derivative(u), [1.0, 1.0])


def test_bad_bounds_are_refused():
    """lower >= upper or mismatched shapes are errors."""
    with pytest.raises(ValueError, match="less than"):
        BoundsTransform([1.0], [1.0])
    with pytest.raises(ValueError, match="same length"):
        BoundsTransform([0.0, 1.0], [2.0])


def test_values_outside_are_clipped_on_the_way_in():
    """to_internal clips a value beyond a bound onto it (the map stays inside)."""
    t = BoundsTransform([0.0, 0.0, -np.inf], [1.0, np.inf, 5.0])
    v = t.to_external(t.to_internal(np.array([2.0, -3.0, 9.0])))
    assert v == pytest.approx([1.0, 0.0, 5.0])


# -- bounds in a fit ------------------------------------------------------------------------------
def _line(x, y):
    def resid(p):
        return p["a"].value + p["b"].value * x - y
    return resid


def test_bounded_fit_stops_on_the_bound_when_the_optimum_is_beyond():
    """A slope whose free optimum is 2 ends on max=1.5; the other parameter adapts."""
    x = np.linspace(0, 1, 50)
    y = 1.0 + 2.0 * x
    p = Parameters()
    p.add("a", value=0.0)
    p.add("b", value=1.0, min=0.0, max=1.5)
    fit = minimize(_line(x, y), p)
    assert p["b"].value == pytest.approx(1.5, abs=1e-6)
    # with b fixed at 1.5 the best a is the mean of y - 1.5 x; chi-square is quartic in the internal
    # coordinate on a bound, so MINPACK's ftol=1e-7 stops within ~sqrt(ftol * chisqr / n) of it
    assert p["a"].value == pytest.approx(np.mean(y - 1.5 * x), abs=1e-4)
    assert fit.chisqr == pytest.approx(np.sum((y - 1.5 * x - np.mean(y - 1.5 * x)) ** 2), rel=1e-6)
    assert p["b"].min <= p["b"].value <= p["b"].max and fit.nfev > 0


def test_bounds_do_not_change_an_interior_optimum_or_its_errors():
    """Bounds far from the optimum give the same values and stderr as no bounds."""
    rng = np.random.default_rng(3)
    x = np.linspace(0, 1, 60)
    y = 1.0 + 2.0 * x + rng.normal(0, 0.05, x.size)
    out = []
    for lo, hi in ((None, None), (-10.0, 10.0), (0.5, None), (None, 3.0)):
        p = Parameters()
        p.add("a", value=0.0)
        p.add("b", value=1.0, min=lo, max=hi)
        minimize(_line(x, y), p)
        out.append((p["a"].value, p["b"].value, p["a"].stderr, p["b"].stderr))
    ref = np.array(out[0])
    for row in out[1:]:
        assert np.allclose(row, ref, rtol=1e-5, atol=1e-8), row


def test_stderr_at_a_bound_stays_close_to_the_unbounded_one():
    """A fit pinned on a bound reports a stderr within 10% of the same fit without the bound."""
    rng = np.random.default_rng(4)
    x = np.linspace(0, 1, 80)
    y = 1.0 + 2.0 * x + rng.normal(0, 0.05, x.size)
    free = Parameters()
    free.add("a", value=0.0)
    free.add("b", value=1.0)
    minimize(_line(x, y), free)
    bounded = Parameters()
    bounded.add("a", value=0.0)
    bounded.add("b", value=1.0, max=free["b"].value)  # the optimum sits exactly on the bound
    minimize(_line(x, y), bounded)
    assert bounded["b"].value == pytest.approx(free["b"].value, abs=1e-3 * free["b"].stderr)
    assert bounded["b"].stderr == pytest.approx(free["b"].stderr, rel=0.10)
    assert bounded["a"].stderr == pytest.approx(free["a"].stderr, rel=0.10)


# -- bounds standing in for "no bound", and bounds the transform cannot resolve ----------------------
def _decay_params(lo, hi):
    p = Parameters()
    p.add("a", value=1.0, min=lo, max=hi)
    p.add("t", value=1.0, min=lo, max=hi)
    p.add("c", value=0.0, min=lo, max=hi)
    return p


def _decay(x, data):
    def resid(p):
        return p["a"].value * np.exp(-x * p["t"].value) + p["c"].value - data
    return resid


HUGE = [pytest.param("leastsq", 1e300, id="leastsq-1e300"), pytest.param("lbfgsb", 1e300, id="lbfgsb-1e300"),
        pytest.param("lbfgsb", 1e308, id="lbfgsb-1e308"), pytest.param("lbfgsb", np.finfo(float).max, id="lbfgsb-max"),
        pytest.param("nlopt", 1e300, id="nlopt-1e300"), pytest.param("nlopt", 1e308, id="nlopt-1e308"),
        pytest.param("nlopt", np.finfo(float).max, id="nlopt-max")]


@pytest.mark.parametrize(("engine", "big"), HUGE)
def test_huge_symmetric_bounds_fit_as_well_as_none(engine, big):
    """+-1e300 (and, with native bounds, +-1e308 and +-float max), stand-ins for "no bound", give the
    unbounded fit's values and stderr."""
    x = np.linspace(0.0, 10.0, 50)
    data = 3.0 * np.exp(-0.5 * x) + 0.5 + np.random.default_rng(5).normal(scale=0.01, size=x.size)
    free, huge = _decay_params(None, None), _decay_params(-big, big)
    fit_free = minimize(_decay(x, data), free, engine=engine)
    fit_huge = minimize(_decay(x, data), huge, engine=engine)
    assert fit_free.success and fit_huge.success, fit_huge.message
    assert fit_huge.chisqr == pytest.approx(fit_free.chisqr, rel=1e-9)
    for name in ("a", "t", "c"):
        assert huge[name].value == pytest.approx(free[name].value, rel=1e-6)
        assert huge[name].stderr == pytest.approx(free[name].stderr, rel=1e-3)


@pytest.mark.parametrize(("lo", "hi", "start", "shown"), [
    (0.0, 1e300, 1.0, "the bound min=0.0, max=1e+300 is too far from the start value 1.0"),
    (-1e300, None, 1.0, "the bound min=-1e+300 is too far from the start value 1.0"),
    (None, 1e40, 0.0, "the bound max=1e+40 is too far from the start value 0.0"),
    (-1e308, 1e308, 1.0, "the range min=-1e+308, max=1e+308 is too wide for the bound transform"),
    (-np.finfo(float).max, np.finfo(float).max, 1.0,
     "the range min=-1.7976931348623157e+308, max=1.7976931348623157e+308 is too wide"),
])
def test_bounds_the_transform_cannot_resolve_are_refused_before_any_evaluation(lo, hi, start, shown):
    """A bound so far from the start that the transform would lose the value: a clear error naming the
    parameter, the bound and the remedy; the function is never called and the Parameters are unchanged."""
    calls = []
    p = Parameters()
    p.add("amp", value=start, min=lo, max=hi)
    p.add("off", value=0.0)

    def resid(q):
        calls.append(1)
        return np.array([q["amp"].value - 2.0, q["off"].value, 1.0])

    with pytest.raises(ParameterError, match=rf"parameter 'amp': {shown.replace('+', '[+]')}.* For no bound use "
                                             r"min=None / max=None") as caught:
        minimize(resid, p)
    assert caught.value.name == "amp" and calls == [] and p["amp"].value == start


def test_anneal_refuses_a_box_too_wide_to_search():
    """anneal searches the whole box: bounds beyond sqrt(float max) are refused up front, naming them."""
    calls = []
    p = _decay_params(-1e300, 1e300)

    def resid(q):
        calls.append(1)
        return np.zeros(3)

    with pytest.raises(EngineCapabilityError, match=r"engine 'anneal' searches the whole box .* 'a' \(min=-1e\+300, "
                                                    r"max=1e\+300\)"):
        minimize(resid, p, engine="anneal", seed=1)
    assert calls == []


def test_start_near_a_bound_of_a_wide_range_is_kept():
    """A start inside a wide range, close to a bound relative to the range, is not moved: only a start on a
    bound is nudged inwards."""
    t = BoundsTransform([0.0, 0.0], [1e12, 10.0])
    u = t.start([1.0, 0.0])
    v = t.to_external(u)
    assert v[0] == pytest.approx(1.0, rel=1e-9)
    assert 0.0 < v[1] < 1e-3 and t.derivative(u)[1] > 0


@PROPS
@given(st.floats(min_value=-1e6, max_value=1e6), st.floats(min_value=1e-9, max_value=1e9),
       st.floats(min_value=0.0, max_value=1.0))
def test_round_trip_keeps_the_value_to_rounding_next_to_a_bound(lo, span, frac):
    """Values a tiny fraction of a wide range from a bound come back with their own digits (no cancellation)."""
    hi = lo + span
    t = BoundsTransform([lo], [hi])
    for v in (lo + frac * span * 1e-6, hi - frac * span * 1e-6):
        back = t.to_external(t.to_internal(np.array([v])))[0]
        assert back == pytest.approx(v, rel=1e-9, abs=4e-16 * max(abs(lo), abs(hi)) + 1e-6 * span * 1e-6)
