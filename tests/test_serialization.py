"""Saving and loading Parameters (JSON), and pickling Parameters, fits and reports."""

from __future__ import annotations

import io
import json
import math
import pickle

import numpy as np
import pytest

import fitcore
from fitcore.parameters import Parameter
from fitcore.serialize import FORMAT, dump, dumps, load, loads

X = np.linspace(0.0, 6.0, 60)
DATA = 2.5 * np.exp(-X / 1.7) * np.cos(1.3 * X) + 0.01 * np.random.default_rng(3).normal(size=X.size)


def residual(params, x, data):
    """Module level, so a Minimizer holding it pickles."""
    v = params
    return v["amp"].value * np.exp(-x / v["tau"].value) * np.cos(v["omega"].value * x) - data


def fitted() -> tuple[fitcore.Parameters, fitcore.Minimizer]:
    """A finished fit with stderr, correl, init values, bounds and an expression."""
    p = fitcore.Parameters()
    p.add("amp", value=2.0, min=0.0)
    p.add("tau", value=1.0, min=0.1, max=20.0)
    p.add("omega", value=1.25)
    p.add("period", expr="2*pi/omega")
    p.add("fixed", value=0.1 + 0.2, vary=False, min=-math.inf, max=7.5)
    fit = fitcore.minimize(residual, p, args=(X, DATA))
    assert fit.success and fit.errorbars
    return p, fit


def full_state(params: fitcore.Parameters) -> list:
    """Every slot of every parameter, in order."""
    return [(name, {k: getattr(p, k) for k in Parameter.__slots__}) for name, p in params.items()]


def test_round_trip_is_exact_after_a_fit():
    """dumps/loads restore every value, bound, flag, expression, stderr, correl and init value exactly."""
    p, _ = fitted()
    q = loads(dumps(p))
    assert full_state(q) == full_state(p)
    assert q["tau"].max == 20.0 and q["amp"].max == math.inf and q["fixed"].value == 0.30000000000000004
    assert q["period"].expr == "2*pi/omega" and q["omega"].correl == p["omega"].correl


def test_awkward_floats_round_trip():
    """Subnormals, -0.0, huge values and infinite bounds survive a round trip bit for bit."""
    p = fitcore.Parameters()
    for i, v in enumerate([5e-324, -0.0, 1.7976931348623157e308, 1 / 3, -2.5e-310]):
        p.add(f"v{i}", value=v, min=-math.inf if i % 2 else None)
    p["v0"].stderr = math.inf
    q = loads(dumps(p))
    for name in p:
        assert math.copysign(1, q[name].value) == math.copysign(1, p[name].value)
        assert q[name].value == p[name].value and q[name].min == p[name].min
    assert q["v0"].stderr == math.inf


def test_file_is_standard_json():
    """The text parses with a strict JSON parser (no NaN/Infinity tokens) and names its format."""
    p, _ = fitted()
    doc = json.loads(dumps(p, indent=2), parse_constant=lambda tok: pytest.fail(f"non-standard token {tok}"))
    assert doc["format"] == FORMAT and [r["name"] for r in doc["parameters"]] == list(p)
    assert doc["parameters"][0]["max"] == "inf"


def test_dump_and_load_through_files(tmp_path):
    """dump(params, fp)/load(fp) round-trip through a real file, text or binary."""
    p, _ = fitted()
    path = tmp_path / "params.json"
    with open(path, "w") as fp:
        dump(p, fp, indent=1)
    with open(path) as fp:
        assert full_state(load(fp)) == full_state(p)
    with open(path, "rb") as fp:
        assert full_state(load(fp)) == full_state(p)


def test_loaded_parameters_fit_like_the_originals():
    """Parameters loaded from JSON start a fit that reaches the same answer."""
    p, _ = fitted()
    q = loads(dumps(p))
    fitcore.minimize(residual, q, args=(X, DATA))
    for name in ("amp", "tau", "omega", "period"):
        assert q[name].value == pytest.approx(p[name].value, rel=1e-6)


def _doc(**changes) -> str:
    """A valid one-parameter file with the first entry's fields changed."""
    rec = {"name": "a", "value": 1.0, "vary": True, "min": "-inf", "max": "inf", "expr": None,
           "stderr": None, "correl": None, "init_value": 1.0}
    rec.update(changes)
    return json.dumps({"format": FORMAT, "version": 1, "parameters": [rec, {"name": "b", "value": 2.0}]})


BAD_FILES = [
    ("bad-name", _doc(name="2a"), fitcore.ParameterError, "invalid parameter name"),
    ("keyword-name", _doc(name="for"), fitcore.ParameterError, "invalid parameter name"),
    ("name-missing", _doc(name=None), fitcore.ParameterError, "invalid parameter name"),
    ("min-gt-max", _doc(min=3.0, max=1.0), fitcore.ParameterError, "must be less than max"),
    ("nan-bound", _doc(min="nan"), fitcore.ParameterError, "is NaN"),
    ("text-bound", _doc(max="ten"), fitcore.ParameterError, "numbers are JSON numbers"),
    ("bool-bound", _doc(max=True), fitcore.ParameterError, "must be a number"),
    ("nan-value", _doc(value="nan"), fitcore.ParameterError, "not finite"),
    ("vary-text", _doc(vary="yes"), fitcore.ParameterError, "vary must be true or false"),
    ("expr-and-vary", _doc(expr="b*2"), fitcore.ConstraintError, "vary=true"),
    ("malicious-expr", _doc(vary=False, expr="__import__('os').system('rm -rf /')"), fitcore.ConstraintError,
     "refused"),
    ("dunder-expr", _doc(vary=False, expr="b.__class__"), fitcore.ConstraintError, "attribute access"),
    ("statement-expr", _doc(vary=False, expr="import os"), fitcore.ConstraintError, "not a single expression"),
    ("syntax-expr", _doc(vary=False, expr="b +"), fitcore.ConstraintError, "invalid expression"),
    ("expr-number", _doc(vary=False, expr=3), fitcore.ParameterError, "expr must be a string"),
    ("unknown-key", _doc(colour="red"), fitcore.ParameterError, "unknown key 'colour'"),
    ("bad-correl", _doc(correl={"b": "high"}), fitcore.ParameterError, "correl"),
    ("correl-unknown-name", _doc(correl={"zz": 0.5}), fitcore.ParameterError,
     "correl names 'zz', which is not a parameter in this file"),
    ("correl-self", _doc(correl={"a": 1.0}), fitcore.ParameterError, "correl names itself"),
    ("huge-value", _doc(value=10**400), fitcore.ParameterError, "value is an integer of 401 digits, too large"),
    ("huge-bound", _doc(min=-(10**400)), fitcore.ParameterError, "min is an integer of 402 digits, too large"),
    ("huge-stderr", _doc(stderr=10**400), fitcore.ParameterError, "stderr is an integer of 401 digits"),
    ("huge-correl", _doc(correl={"b": 10**400}), fitcore.ParameterError, "correl['b'] is an integer of 401"),
    ("newline-name", _doc(name="amp\n"), fitcore.ParameterError, "invalid parameter name"),
    ("duplicate-name", json.dumps({"format": FORMAT, "version": 1, "parameters": [{"name": "a", "value": 1},
                                                                                 {"name": "a", "value": 2}]}),
     fitcore.ParameterError, "appears twice"),
    ("duplicate-key", '{"format": "fitcore.parameters", "version": 1, "version": 2, "parameters": []}',
     fitcore.ParameterError, "appears twice"),
    ("not-json", "{not json", fitcore.ParameterError, "not valid JSON"),
    ("wrong-format", json.dumps({"format": "other", "parameters": []}), fitcore.ParameterError,
     "not a fitcore parameter file"),
    ("future-version", json.dumps({"format": FORMAT, "version": 99, "parameters": []}), fitcore.ParameterError,
     "not supported"),
    ("entry-not-object", json.dumps({"format": FORMAT, "version": 1, "parameters": [1]}), fitcore.ParameterError,
     "must be an object"),
    ("deep-json", "[" * 100_000 + "]" * 100_000, fitcore.ParameterError, "not valid JSON"),
]


@pytest.mark.parametrize("name,text,exc,fragment", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_file_fails_clearly(name, text, exc, fragment):
    """A bad file raises a clear error naming what is wrong."""
    with pytest.raises(exc) as caught:
        loads(text)
    assert fragment in str(caught.value)


def test_huge_json_number_as_text():
    """A 400-digit integer written in the file itself (not built by json.dumps) is refused the same way."""
    text = _doc().replace('"value": 1.0', '"value": ' + "9" * 400, 1)
    with pytest.raises(fitcore.ParameterError, match="value is an integer of 400 digits, too large for a float"):
        loads(text)


def test_errors_report_after_a_parameter_was_deleted():
    """Deleting a parameter after a fit leaves correl entries naming it; errors_report and dumps skip them."""
    p, _ = fitted()
    assert "tau" in p["amp"].correl
    del p["tau"]
    text = fitcore.report.errors_report(p, min_correl=0.0)
    assert "tau" not in text and "C(amp, omega)" in text
    q = loads(dumps(p))  # written without the correlations with tau, which a file must not claim
    assert "tau" not in q["amp"].correl and q["amp"].correl["omega"] == p["amp"].correl["omega"]


def test_valid_file_is_accepted_by_the_same_checks():
    """The template of the bad files is itself valid, so each bad file fails for its own reason."""
    q = loads(_doc())
    assert list(q) == ["a", "b"] and q["a"].init_value == 1.0 and q["b"].vary


def test_pickle_parameters():
    """Parameters pickle and unpickle with every slot intact."""
    p, _ = fitted()
    q = pickle.loads(pickle.dumps(p))
    assert isinstance(q, fitcore.Parameters) and full_state(q) == full_state(p)


def test_pickle_minimizer_after_fit_and_refit():
    """A finished Minimizer pickles (its interpreter is dropped) and the copy can fit again."""
    p, fit = fitted()
    assert fit.asteval is not None  # build the interpreter, which itself does not pickle
    copy = pickle.loads(pickle.dumps(fit))
    assert copy.chisqr == fit.chisqr and copy.nfev == fit.nfev and copy.success
    assert np.array_equal(copy.covar, fit.covar) and copy.var_names == fit.var_names
    assert full_state(copy.params) == full_state(p)
    copy.params["amp"].value = 1.0
    assert copy.leastsq()
    assert copy.params["period"].value == pytest.approx(p["period"].value, rel=1e-6)


def lorentzian(x, amp, cen, wid):
    """A user function for constraint expressions (module level, so it pickles)."""
    return amp / (1 + ((x - cen) / wid) ** 2)


def test_pickled_minimizer_keeps_user_functions():
    """Functions the user added to Minimizer.asteval.symtable travel with the pickle; refits use them."""
    p, _ = fitted()
    p.add("peak", expr="lorentzian(1.0, amp, 1.0, tau)")
    fit = fitcore.Minimizer(residual, p, fcn_args=(X, DATA))
    fit.asteval.symtable["lorentzian"] = lorentzian
    fit.asteval.symtable["table"] = np.array([1.0, 2.0])
    assert fit.leastsq()
    copy = pickle.loads(pickle.dumps(fit))
    assert copy.asteval.symtable["lorentzian"] is lorentzian
    assert np.array_equal(copy.asteval.symtable["table"], [1.0, 2.0])
    assert copy.leastsq() and copy.params["peak"].value == pytest.approx(p["amp"].value, rel=1e-9)


def test_pickle_fit_report():
    """fit_report text round-trips through pickle, and a report of an unpickled fit is identical."""
    _, fit = fitted()
    report = fitcore.fit_report(fit)
    assert pickle.loads(pickle.dumps(report)) == report
    assert fitcore.fit_report(pickle.loads(pickle.dumps(fit))) == report


def test_in_memory_streams():
    """dump/load accept any text stream, not only files."""
    p, _ = fitted()
    buf = io.StringIO()
    dump(p, buf)
    buf.seek(0)
    assert full_state(load(buf)) == full_state(p)
