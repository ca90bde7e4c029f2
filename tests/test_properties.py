"""Property-based tests (hypothesis) over random Parameters sets, bounds and expressions."""

from __future__ import annotations

import keyword
import pickle

import numpy as np
import pytest
from conftest import SHIPPED_ENGINES
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import fitcore
from fitcore.parameters import Parameter
from fitcore.serialize import dumps, loads

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True).filter(lambda s: not keyword.iskeyword(s))
FINITE = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)
ANY_FLOAT = st.floats(allow_nan=False)  # includes +-inf, subnormals, -0.0
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def full_state(params: fitcore.Parameters) -> list:
    """Every slot of every parameter, in order."""
    return [(name, {k: getattr(p, k) for k in Parameter.__slots__}) for name, p in params.items()]


@st.composite
def parameter_sets(draw) -> fitcore.Parameters:
    """Random Parameters: bounds (finite or not), fixed or varied, expressions of other names, fit results."""
    names = draw(st.lists(NAMES, min_size=1, max_size=8, unique=True))
    p = fitcore.Parameters()
    for i, name in enumerate(names):
        lo = draw(st.none() | FINITE)
        hi = draw(st.none() | FINITE)
        if lo is not None and hi is not None:
            lo, hi = min(lo, hi), max(lo, hi)
            assume(lo < hi)
        expr = None
        if i > 0 and draw(st.booleans()):
            refs = draw(st.lists(st.sampled_from(names[:i]), min_size=1, max_size=3))
            ops = draw(st.lists(st.sampled_from(["+", "-", "*", "/"]), min_size=len(refs), max_size=len(refs)))
            expr = "".join(f"{r} {o} " for r, o in zip(refs, ops)) + repr(draw(FINITE))
        p.add(name, value=draw(FINITE), vary=draw(st.booleans()), min=lo, max=hi, expr=expr)
        par = p[name]
        par.stderr = draw(st.none() | ANY_FLOAT)
        par.init_value = draw(st.none() | FINITE)
        if draw(st.booleans()):
            par.correl = {other: draw(st.floats(-1, 1)) for other in names if other != name}
    return p


@SETTINGS
@given(parameter_sets())
def test_json_and_pickle_round_trips_are_exact(params):
    """loads(dumps(p)) and pickle reproduce every slot of every parameter, in order."""
    assert full_state(loads(dumps(params))) == full_state(params)
    assert full_state(pickle.loads(pickle.dumps(params))) == full_state(params)


@st.composite
def bounded_problems(draw, needs_finite: bool):
    """Random bounds (one- or two-sided, or none) with a start inside, and random linear-model data."""
    n = draw(st.integers(1, 3))
    specs = []
    for _ in range(n):
        lo = draw(st.floats(-50, 50))
        width = draw(st.floats(1e-3, 100))
        kind = "both" if needs_finite else draw(st.sampled_from(["both", "min", "max", "none"]))
        start = lo + width * draw(st.floats(0.0, 1.0))
        specs.append((lo if kind in ("both", "min") else None, lo + width if kind in ("both", "max") else None, start))
    truth = draw(st.lists(st.floats(-100, 100), min_size=n, max_size=n))
    return specs, truth


def _bounds_case(info, specs, truth):
    x = np.linspace(-1.0, 1.0, 12)
    basis = np.array([x**k for k in range(len(specs))])
    data = np.asarray(truth) @ basis
    p = fitcore.Parameters()
    for i, (lo, hi, start) in enumerate(specs):
        p.add(f"c{i}", value=start, min=lo, max=hi)
    seen = []

    def residual(params):
        vals = [params[f"c{i}"].value for i in range(len(specs))]
        seen.append(vals)
        return np.asarray(vals) @ basis - data

    kws = {"seed": 3} if info.spec.stochastic else {}
    fitcore.minimize(residual, p, engine=info.name, max_nfev=400, **kws)
    assert seen
    for vals in seen:
        for (lo, hi, _), v in zip(specs, vals):
            assert (lo is None or v >= lo) and (hi is None or v <= hi), (lo, v, hi)
    for i, (lo, hi, _) in enumerate(specs):
        v = p[f"c{i}"].value
        assert (lo is None or v >= lo) and (hi is None or v <= hi)


@pytest.mark.parametrize("info", SHIPPED_ENGINES, indirect=True)
def test_bounds_respected_at_every_evaluation(info):
    """No evaluation the residual sees, nor the final value, lies outside any parameter's bounds."""
    needs_finite = info.spec.bounds == "required_finite"

    @settings(max_examples=15 if info.spec.is_global else 30, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(bounded_problems(needs_finite))
    def check(problem):
        _bounds_case(info, *problem)

    check()


NARROW = [((0.0, 1.4e-8, 0.0), 0.0), ((1e-9, 2e-9, 1.5e-9), 1.0), ((-3.0, -3.0 + 1e-10, -3.0), 5.0)]


@pytest.mark.parametrize("info", SHIPPED_ENGINES, indirect=True)
@pytest.mark.parametrize("spec,truth", NARROW, ids=["width-1e-8", "nanometre-scale", "width-1e-10"])
def test_bounds_narrower_than_a_difference_step(info, spec, truth):
    """Bounds narrower than sqrt(eps)*max(|x|, 1) are still respected by every difference step."""
    _bounds_case(info, [spec], [truth])


@st.composite
def expression_graphs(draw):
    """A random DAG of expression parameters over free ones, inserted in a random order."""
    n_free = draw(st.integers(1, 4))
    n_expr = draw(st.integers(1, 8))
    free = {f"f{i}": draw(st.floats(-10, 10)) for i in range(n_free)}
    exprs: dict[str, tuple[list[tuple[str, float]], float]] = {}
    order = list(free)
    for j in range(n_expr):
        refs = draw(st.lists(st.sampled_from(order), min_size=1, max_size=3, unique=True))
        weights = [draw(st.floats(-3, 3)) for _ in refs]
        exprs[f"e{j}"] = (list(zip(refs, weights)), draw(st.floats(-5, 5)))
        order.append(f"e{j}")
    insertion = draw(st.permutations(order))
    return free, exprs, insertion


def _expr_text(terms, const) -> str:
    return " + ".join(f"{w!r} * {r}" for r, w in terms) + f" + {const!r}"


@SETTINGS
@given(expression_graphs())
def test_expressions_evaluated_in_dependency_order(graph):
    """Whatever the insertion order, every expression sees its inputs' current values."""
    free, exprs, insertion = graph
    p = fitcore.Parameters()
    for name in insertion:
        if name in free:
            p.add(name, value=free[name])
        else:
            p.add(name, expr=_expr_text(*exprs[name]))
    fitcore.Minimizer(lambda q: np.zeros(3), p).prepare_fit()
    expected = dict(free)
    for name, (terms, const) in exprs.items():  # e_j only refers to earlier names
        expected[name] = sum(w * expected[r] for r, w in terms) + const
    for name, val in expected.items():
        assert p[name].value == pytest.approx(val, rel=1e-12, abs=1e-12), name


@SETTINGS
@given(expression_graphs(), st.data())
def test_any_cycle_is_refused_before_evaluation(graph, data):
    """Adding a back edge to a random expression DAG is reported as a cycle or self-reference."""
    free, exprs, insertion = graph
    names = list(exprs)
    src = data.draw(st.sampled_from(names))
    # a parameter that src depends on, directly or not (possibly src itself): referring back closes a cycle
    deps = {src}
    frontier = [src]
    while frontier:
        for ref, _ in exprs[frontier.pop()][0]:
            if ref in exprs and ref not in deps:
                deps.add(ref)
                frontier.append(ref)
    target = data.draw(st.sampled_from(sorted(deps)))
    terms, const = exprs[target]
    exprs = dict(exprs)
    exprs[target] = (terms + [(src, 1.0)], const)
    p = fitcore.Parameters()
    for name in insertion:
        if name in free:
            p.add(name, value=free[name])
        else:
            p.add(name, expr=_expr_text(*exprs[name]))
    calls = []
    with pytest.raises(fitcore.ConstraintError, match="cycle|refers to itself"):
        fitcore.minimize(lambda q: calls.append(1) or np.zeros(3), p)
    assert not calls
