"""The engine's last forward-difference Jacobian (fitcore.Stencil) standing in for the core's own."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import SpecPlugin, sine_residual
from fitcore_engine_leastsq import leastsq as minpack

import fitcore
from fitcore import EngineSpec, Stencil, plugins, uncertainty

START = {"amp": 10.0, "decay": 0.02, "shift": 0.0, "omega": 3.05}


def _params(bounded: bool = False) -> fitcore.Parameters:
    p = fitcore.Parameters()
    for name, value in START.items():
        if bounded and name == "amp":
            p.add(name, value=value, min=0.0)
        elif bounded and name == "shift":
            p.add(name, value=value, min=-np.pi / 2, max=np.pi / 2)
        else:
            p.add(name, value=value)
    return p


def _fit(damped_sine, engine="leastsq", bounded=False, **kws):
    x, data, _ = damped_sine
    p = _params(bounded)
    fit = fitcore.minimize(sine_residual, p, args=(x, data), engine=engine, **kws)
    return fit, p


def _own(damped_sine, monkeypatch, bounded=False):
    """The same fit with reuse switched off: the core's own forward differences."""
    with monkeypatch.context() as m:
        m.setattr(uncertainty, "REUSE_RTOL", 0.0)
        fit, p = _fit(damped_sine, bounded=bounded)
    assert fit.nfev_errorbars == 4
    return fit, p


@pytest.mark.parametrize("bounded", [False, True])
def test_leastsq_stencil_gives_the_same_error_bars_without_evaluations(damped_sine, monkeypatch, bounded):
    """MINPACK's last Jacobian, converted through the bound transform, gives stderr/correl equal to 2e-6."""
    own_fit, own = _own(damped_sine, monkeypatch, bounded)
    fit, p = _fit(damped_sine, bounded=bounded)
    assert fit.success and fit.errorbars and fit.nfev_errorbars == 0
    for name in START:
        assert p[name].value == own[name].value
        assert p[name].stderr == pytest.approx(own[name].stderr, rel=2e-6)
        for other, c in own[name].correl.items():
            assert p[name].correl[other] == pytest.approx(c, rel=1e-5, abs=1e-9)
    np.testing.assert_allclose(fit.covar, own_fit.covar, rtol=5e-6)


def test_a_stencil_off_the_answer_is_refused(damped_sine, monkeypatch, fresh_registry):
    """A stencil whose base is far from the answer fails the secant check: the core evaluates its own."""
    def shifted(problem, **options):
        result = minpack(problem, **options)
        st = result.stencil
        assert st is not None
        x = st.x * 1.01  # the stencil's residuals no longer belong to a point near the answer
        return dataclasses.replace(result, stencil=Stencil(x=x, r=st.r, steps=st.steps, rows=st.rows))

    plugins.register(SpecPlugin(EngineSpec("shifted", shifted, "leastsq with a wrong stencil")), name="t")
    fit, p = _fit(damped_sine, engine="shifted")
    _, own = _own(damped_sine, monkeypatch)
    assert fit.nfev_errorbars == 4
    assert [p[n].stderr for n in START] == [own[n].stderr for n in START]


@pytest.mark.parametrize("broken", ["rows", "steps", "tiny step", "nan"])
def test_a_malformed_stencil_is_ignored(damped_sine, monkeypatch, fresh_registry, broken):
    """Wrong shapes, steps far from a forward-difference step, or NaN: ignored, never an error."""
    def bad(problem, **options):
        result = minpack(problem, **options)
        st = result.stencil
        assert st is not None
        fields = {"x": st.x, "r": st.r, "steps": st.steps, "rows": st.rows}
        if broken == "rows":
            fields["rows"] = st.rows[:, :-1]
        elif broken == "steps":
            fields["steps"] = st.steps[:-1]
        elif broken == "tiny step":
            fields["steps"] = st.steps * 1e-3
        else:
            fields["rows"] = st.rows.copy()
            fields["rows"][1, 5] = np.nan
        return dataclasses.replace(result, stencil=Stencil(**fields))

    plugins.register(SpecPlugin(EngineSpec("bad", bad, "leastsq with a malformed stencil")), name="t")
    fit, p = _fit(damped_sine, engine="bad")
    _, own = _own(damped_sine, monkeypatch)
    assert fit.errorbars
    if broken == "nan":  # a NaN column makes the Jacobian unusable; the refined one is the core's own
        assert fit.nfev_errorbars >= 4
        assert [p[n].stderr for n in START] == pytest.approx([own[n].stderr for n in START], rel=1e-6)
    else:
        assert fit.nfev_errorbars == 4
        assert [p[n].stderr for n in START] == [own[n].stderr for n in START]


def test_analytic_jacobian_gives_the_error_bars_without_evaluations(damped_sine, monkeypatch):
    """With Dfun the error bars come from the user's Jacobian (no evaluations) and equal the differences' ones."""
    x, data, _ = damped_sine

    def dfun(q, x, data):
        amp, decay, shift, omega = (q[n].value for n in ("amp", "decay", "shift", "omega"))
        s, c, e = np.sin(x * omega + shift), np.cos(x * omega + shift), np.exp(-x * x * decay)
        return -np.column_stack([s * e, -amp * s * e * x * x, amp * c * e, amp * c * e * x])

    fit, p = _fit(damped_sine, Dfun=dfun)
    _, own = _own(damped_sine, monkeypatch)
    assert fit.success and fit.errorbars and fit.nfev_errorbars == 0
    assert [p[n].stderr for n in START] == pytest.approx([own[n].stderr for n in START], rel=1e-6)


def test_leastsq_engine_returns_its_last_stencil():
    """The engine's stencil: base point, steps of sqrt(eps)*|x|, rows equal to the residual at the probes."""
    x = np.linspace(0, 4, 40)
    y = 2.0 * np.exp(-0.7 * x)
    seen = []

    def residual(b):
        seen.append(b.copy())
        return y - b[0] * np.exp(-b[1] * x)

    problem = fitcore.Problem(x0=np.array([1.0, 0.3]), lower=np.full(2, -np.inf), upper=np.full(2, np.inf),
                              names=("a", "k"), residual=residual, scalar=lambda b: float(residual(b) @ residual(b)),
                              jacobian=lambda b: None, gradient=lambda b: None, ndata=x.size)
    st = minpack(problem).stencil
    assert st is not None
    assert st.steps == pytest.approx(np.sqrt(np.finfo(float).eps) * np.abs(st.x), rel=1e-6)
    for j in range(2):
        probe = st.x.copy()
        probe[j] += st.steps[j]
        np.testing.assert_array_equal(st.rows[j], residual(probe))
    np.testing.assert_array_equal(st.r, residual(st.x))


def test_a_refilled_buffer_gives_a_true_stencil():
    """A residual function that returns one buffer, refilled: the engine keeps copies, so each stencil row is
    the residual at its own probe, not the buffer's last content."""
    x = np.linspace(0, 4, 40)
    y = 2.0 * np.exp(-0.7 * x)
    buf = np.empty_like(y)

    def residual(b):
        buf[:] = y - b[0] * np.exp(-b[1] * x)
        return buf

    problem = fitcore.Problem(x0=np.array([1.0, 0.3]), lower=np.full(2, -np.inf), upper=np.full(2, np.inf),
                              names=("a", "k"), residual=residual, scalar=lambda b: float(residual(b) @ buf),
                              jacobian=lambda b: None, gradient=lambda b: None, ndata=x.size)
    st = minpack(problem).stencil
    assert st is not None
    for j in range(2):
        probe = st.x.copy()
        probe[j] += st.steps[j]
        np.testing.assert_array_equal(st.rows[j], residual(probe).copy())
    np.testing.assert_array_equal(st.r, residual(st.x).copy())


def _secant_case(move: float, poison: bool = False):
    """A two-parameter residual, its forward-difference stencil at ``base`` and the answer ``base + move``."""
    x = np.linspace(0.0, 1.0, 50)

    def model(a, b):
        return np.exp(a * x) + b * x**2 - 1.0

    base, steps = np.array([0.5, 1.0]), np.array([0.5e-8, 1e-8])
    rows = np.array([model(base[0] + steps[0], base[1]), model(base[0], base[1] + steps[1])])
    if poison:
        rows[1, 3] = np.inf
    stencil = Stencil(x=base, r=model(*base), steps=steps, rows=rows)
    v = base + move
    return stencil, v, model(*v)


@pytest.mark.parametrize("move", [0.0, 1e-8, 1e-7, 1e-5, 1e-3])
def test_a_stencil_serves_exactly_where_it_predicts_the_residual_at_the_answer(move):
    """2|d - J dv| / |J dv| (d: the residual's change from the stencil's base) decides the reuse."""
    stencil, v, r0 = _secant_case(move)
    taken = (stencil.x + stencil.steps) - stencil.x  # the steps as the floats really moved
    jac = ((stencil.rows - stencil.r) / taken[:, None]).T
    jac_v = uncertainty.stencil_jacobian(stencil, v, r0)
    if move == 0.0:  # the stencil's own base point
        assert jac_v is not None
    else:
        linear = jac @ (v - stencil.x)
        rho = 2.0 * np.linalg.norm(r0 - stencil.r - linear) / np.linalg.norm(linear)
        assert (jac_v is not None) == (rho <= uncertainty.REUSE_RTOL)
        assert (move <= 1e-7) == (jac_v is not None)  # the curvature of exp makes rho ~ move here
    if jac_v is not None:
        np.testing.assert_allclose(jac_v, jac, rtol=1e-12)


def test_a_stencil_with_a_non_finite_row_is_refused():
    """An overflowing probe residual in the stencil never stands in for the core's differences."""
    stencil, v, r0 = _secant_case(1e-8, poison=True)
    assert uncertainty.stencil_jacobian(stencil, v, r0) is None


def test_a_stencil_is_converted_through_the_bound_transform():
    """Steps in the engine's coordinates become external steps: the Jacobian is d r / d v, not d r / d x."""
    stencil, v, r0 = _secant_case(0.0)
    # the engine works in x = v / 2 (any coordinate-wise map): its steps are half as long
    internal = Stencil(x=stencil.x / 2, r=stencil.r, steps=stencil.steps / 2, rows=stencil.rows)
    jac = uncertainty.stencil_jacobian(internal, v, r0, to_external=lambda x: 2.0 * np.asarray(x))
    ref = uncertainty.stencil_jacobian(stencil, v, r0)
    assert jac is not None and ref is not None
    np.testing.assert_allclose(jac, ref, rtol=1e-7)
