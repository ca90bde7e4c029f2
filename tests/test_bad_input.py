"""Bad input gets a clear error before work is wasted.

Every entry of CASES is run by ``test_bad_input_case``: it must raise the given error with the
given words, after exactly ``calls`` evaluations of the residual function (0 = refused before
any evaluation; residual trouble is caught on the first bad call). ``python tests/test_bad_input.py``
rewrites the table in docs/robustness.md; ``test_docs_list_the_cases`` keeps them in sync.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from conftest import SHIPPED_ENGINES

import fitcore
from fitcore import hookimpl

DOC = Path(__file__).resolve().parents[1] / "docs" / "robustness.md"
X = np.linspace(0.0, 1.0, 10)


class Counter:
    """A residual function counting its calls; ``out`` decides what it returns at call n."""

    def __init__(self, out: Callable[[int, Any], Any] | None = None):
        self.calls = 0
        self.out = out

    def __call__(self, p, *args, **kws):
        self.calls += 1
        if self.out is not None:
            return self.out(self.calls, p)
        return sum(par.value for par in p.values() if par.value is not None) * X - X


def two(**extra) -> fitcore.Parameters:
    """A small valid parameter set, with extra parameters given as keyword dicts."""
    p = fitcore.Parameters()
    p.add("a", value=1.0)
    p.add("b", value=2.0)
    for name, kw in extra.items():
        p.add(name, **kw)
    return p


def fit(fcn: Counter, params: fitcore.Parameters | None = None, **kws: Any) -> fitcore.Minimizer:
    """minimize() with a default parameter set."""
    return fitcore.minimize(fcn, two() if params is None else params, **kws)


def _cycle(fcn: Counter) -> None:
    p = two(c={"expr": "d + 1"}, d={"expr": "c - 1"})
    fit(fcn, p)


def _set_bounds(fcn: Counter) -> None:
    p = two()
    p["a"].set(min=5.0, max=1.0)
    fit(fcn, p)


def _no_value(fcn: Counter) -> None:
    p = two()
    p.add("c")
    fit(fcn, p)


def _assign_float(fcn: Counter) -> None:
    p = two()
    p["c"] = 3.0  # type: ignore[assignment]


class _FiniteOnly:
    @hookimpl
    def fitcore_engines(self):
        yield fitcore.EngineSpec(name="finite-only-test", engine=lambda problem: None, bounds="required_finite",
                                 summary="an engine that needs finite bounds")


def _infinite_bounds(fcn: Counter) -> None:
    plugin = _FiniteOnly()
    fitcore.plugins.register(plugin, name="finite-only")
    try:
        p = two()
        p["a"].set(min=0.0, max=2.0)
        fit(fcn, p, engine="finite-only-test")
    finally:
        fitcore.plugins.unregister(plugin)


def _more_params_than_points(fcn: Counter) -> str:
    p = fitcore.Parameters()
    for i in range(4):
        p.add(f"p{i}", value=0.5)
    out = fitcore.minimize(fcn, p)
    assert out.success and not out.errorbars
    return f"fits; errorbars=False, errorbars_reason={out.errorbars_reason!r}"


@dataclass
class Case:
    """One bad input: what it is, how to provoke it, what it raises, after how many residual calls."""

    id: str
    what: str
    run: Callable[[Counter], Any]
    exc: type[BaseException] | None
    fragment: str
    calls: int = 0
    out: Callable[[int, Any], Any] | None = None


CASES = [
    Case("no-free", "no parameter varied", lambda f: _fixed_all(f), fitcore.ParameterError, "no parameter is varied"),
    Case("min-gt-max", "min > max at creation", lambda f: two(c={"value": 1.0, "min": 2.0, "max": 1.0}),
         fitcore.ParameterError, "must be less than max"),
    Case("min-eq-max", "min == max", lambda f: two(c={"value": 1.0, "min": 1.0, "max": 1.0}),
         fitcore.ParameterError, "must be less than max"),
    Case("set-min-gt-max", "set(min=5, max=1)", _set_bounds, fitcore.ParameterError, "must be less than max"),
    Case("nan-bound", "min=nan", lambda f: two(c={"value": 1.0, "min": float("nan")}),
         fitcore.ParameterError, "is NaN"),
    Case("text-bound", "max='abc'", lambda f: two(c={"value": 1.0, "max": "abc"}),
         fitcore.ParameterError, "is not a number"),
    Case("nan-value", "value=nan", lambda f: two(c={"value": float("nan")}), fitcore.ParameterError, "not finite"),
    Case("inf-value", "value=inf", lambda f: two(c={"value": float("inf")}), fitcore.ParameterError, "not finite"),
    Case("text-value", "value='x'", lambda f: two(c={"value": "x"}), fitcore.ParameterError, "is not a number"),
    Case("no-value", "no value and no expr", _no_value, fitcore.ParameterError, "has no value"),
    Case("bad-name", "name '2x'", lambda f: two(**{"2x": {"value": 1.0}}), fitcore.ParameterError,
         "invalid parameter name"),
    Case("keyword-name", "name 'lambda'", lambda f: fitcore.Parameters().add("lambda", value=1.0),
         fitcore.ParameterError, "Python keyword"),
    Case("not-a-parameter", "params['c'] = 3.0", _assign_float, fitcore.ParameterError, "must be a Parameter"),
    Case("self-reference", "expr refers to itself", lambda f: fit(f, two(c={"expr": "c + a"})),
         fitcore.ConstraintError, "refers to itself"),
    Case("cycle", "expressions in a cycle", _cycle, fitcore.ConstraintError, "is in a cycle"),
    Case("unknown-symbol", "unknown name in expr", lambda f: fit(f, two(c={"expr": "a + bb"})),
         fitcore.ConstraintError, "unknown name 'bb'"),
    Case("syntax", "expr 'a +'", lambda f: fit(f, two(c={"expr": "a +"})), fitcore.ConstraintError,
         "invalid expression"),
    Case("unknown-engine", "engine='levenberg'", lambda f: fit(f, engine="levenberg"),
         fitcore.EngineNotFoundError, "Installed engines"),
    Case("unknown-option", "leastsq(xtoll=...)", lambda f: fit(f, xtoll=1e-9), fitcore.EngineOptionError,
         "Did you mean 'xtol'"),
    Case("seed-deterministic", "seed on a deterministic engine", lambda f: fit(f, seed=1),
         fitcore.EngineOptionError, "takes no seed"),
    Case("infinite-bounds", "infinite bound, engine needs finite", _infinite_bounds,
         fitcore.EngineCapabilityError, "requires finite min and max"),
    Case("nan-policy", "nan_policy='ignore'", lambda f: fit(f, nan_policy="ignore"), ValueError,
         "expected one of"),
    Case("max-nfev", "max_nfev=0", lambda f: fit(f, max_nfev=0), ValueError, "positive integer"),
    Case("iter-cb", "iter_cb=5", lambda f: fit(f, iter_cb=5), TypeError, "iter_cb must be callable"),
    Case("dfun", "Dfun='jac'", lambda f: fit(f, Dfun="jac"), TypeError, "Dfun must be callable"),
    Case("not-callable", "residual not callable", lambda f: fitcore.Minimizer("f", two()), TypeError,
         "must be callable"),
    Case("not-parameters", "params a dict", lambda f: fitcore.minimize(f, {"a": 1.0}), TypeError,
         "must be a fitcore Parameters"),
    Case("complex", "residual complex", lambda f: fit(f), fitcore.ResidualError, "complex values", 1,
         lambda n, p: np.ones(5) * 1j),
    Case("scalar", "a scalar cost on a residuals-only engine", lambda f: fit(f), fitcore.EngineCapabilityError,
         "Engines that minimize a cost: ", 1,
         lambda n, p: 3.0),
    Case("strings", "residual of strings", lambda f: fit(f), fitcore.ResidualError, "numeric array", 1,
         lambda n, p: ["a", "b"]),
    Case("none", "residual None", lambda f: fit(f), fitcore.ResidualError, "numeric array", 1,
         lambda n, p: None),
    Case("empty", "residual empty", lambda f: fit(f), fitcore.ResidualError, "empty array", 1,
         lambda n, p: np.array([])),
    Case("length-change", "residual length changes at call 3", lambda f: fit(f), fitcore.ResidualError,
         "returned 9 values at evaluation 3", 3, lambda n, p: (p["a"].value + p["b"].value) * X[: 10 if n < 3 else 9]),
    Case("more-params-than-points", "4 free parameters, 2 points", _more_params_than_points, None,
         "errorbars=False", -1, lambda n, p: np.array([p["p0"].value - 1, p["p1"].value + p["p2"].value])),
]


def _fixed_all(fcn: Counter) -> None:
    p = two()
    for par in p.values():
        par.vary = False
    fit(fcn, p)


def outcome(case: Case) -> tuple[BaseException | None, Any, Counter]:
    """Run a case; return (exception or None, return value, the residual counter)."""
    fcn = Counter(case.out)
    try:
        return None, case.run(fcn), fcn
    except BaseException as exc:  # noqa: BLE001 - recorded and asserted on
        return exc, None, fcn


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_case(case):
    """The case raises the listed error with the listed words, after exactly the listed residual calls."""
    exc, value, fcn = outcome(case)
    if case.exc is None:
        assert exc is None and case.fragment in value and fcn.calls > 0
        return
    assert isinstance(exc, case.exc), repr(exc)
    assert case.fragment in str(exc), str(exc)
    assert fcn.calls == case.calls


def test_cases_cover_the_issue():
    """The refusals the issue lists are all among the cases."""
    ids = {c.id for c in CASES}
    assert {"no-free", "min-gt-max", "self-reference", "cycle", "unknown-symbol",
            "unknown-option", "infinite-bounds", "more-params-than-points", "complex", "scalar", "strings",
            "length-change"} <= ids


def test_residual_error_carries_evaluation_and_values():
    """A residual error says at which evaluation, with which parameter values."""
    case = next(c for c in CASES if c.id == "length-change")
    exc, _, _ = outcome(case)
    assert exc.nfev == 3 and set(exc.values) == {"a", "b"}


# -- the table in docs/robustness.md -------------------------------------------------------
START, END = "<!-- bad-input:start -->", "<!-- bad-input:end -->"


def _cell(text: str, limit: int = 220) -> str:
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text.replace("|", "\\|")


def render_table() -> str:
    """The cases as a markdown table: input, residual calls made, and the error produced."""
    rows = ["| # | id | input | residual calls | error |", "|---|---|---|---|---|"]
    for i, case in enumerate(CASES, 1):
        exc, value, fcn = outcome(case)
        error = value if exc is None else f"{type(exc).__name__}: {exc}"
        rows.append(f"| {i} | {case.id} | {_cell(case.what)} | {fcn.calls} | {_cell(error)} |")
    return "\n".join(rows)


def test_docs_list_the_cases():
    """docs/robustness.md has one row per case, in order, with its error type and words."""
    text = DOC.read_text()
    rows = text[text.index(START) + len(START): text.index(END)].strip().splitlines()[2:]
    assert len(rows) == len(CASES), "run: python tests/test_bad_input.py"
    for row, case in zip(rows, CASES):
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        assert cells[1] == case.id, "run: python tests/test_bad_input.py"
        assert _cell(case.fragment) in cells[4], (case.id, "run: python tests/test_bad_input.py")
        if case.exc is not None:
            assert cells[4].startswith(case.exc.__name__ + ":") and cells[3] == str(case.calls), case.id


if __name__ == "__main__":
    text = DOC.read_text()
    DOC.write_text(text[: text.index(START) + len(START)] + "\n" + render_table() + "\n" + text[text.index(END):])
    print(f"wrote {len(CASES)} rows to {DOC}", file=sys.stderr)


@pytest.mark.parametrize("info", SHIPPED_ENGINES, indirect=True)
def test_every_engine_refuses_unknown_options_before_evaluating(info):
    """An option the engine does not declare is refused, naming the engine's options, with no evaluation."""
    fcn = Counter()
    p = two()
    for par in p.values():
        par.set(min=-10.0, max=10.0)
    with pytest.raises(fitcore.EngineOptionError, match="has no option 'no_such_option'") as caught:
        fitcore.minimize(fcn, p, engine=info.name, no_such_option=1)
    assert caught.value.engine == info.name and fcn.calls == 0
    for option in info.spec.options:
        assert option in str(caught.value)


@pytest.mark.parametrize("info", SHIPPED_ENGINES, indirect=True)
def test_engines_needing_finite_bounds_refuse_infinite_ones(info):
    """An engine declaring bounds='required_finite' refuses an unbounded parameter before any evaluation."""
    fcn = Counter()
    p = two()
    p["a"].set(min=-10.0, max=10.0)  # 'b' stays unbounded
    kws = {"seed": 1} if info.spec.stochastic else {}
    if info.spec.bounds != "required_finite":
        fit(fcn, p, engine=info.name, max_nfev=5, **kws)  # accepted: the engine handles infinite bounds
        assert fcn.calls > 0
        return
    with pytest.raises(fitcore.EngineCapabilityError, match="'b' \\(min=-inf, max=inf\\)"):
        fit(fcn, p, engine=info.name, **kws)
    assert fcn.calls == 0
