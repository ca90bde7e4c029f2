"""report_errors and fit_report in the manual's layout; fitcore.printfuncs spelling."""

from __future__ import annotations

import re

import numpy as np
import pytest

import fitcore
from fitcore import Parameters, fit_report, minimize, report_errors


@pytest.fixture
def fitted(toy_4_2):
    """The manual's section 4.2 toy problem, fitted, with an expression and a fixed parameter."""
    x, y = toy_4_2
    p = Parameters()
    p.add_many(("a", 0.1), ("b", 1))
    p.add("ab", expr="a*b")
    p.add("k", value=3.0, vary=False)
    fit = minimize(lambda q: 1 / (q["a"].value * x) + q["b"].value - y, p)
    return fit, p


LINE = re.compile(r"^\s+(\w+):\s+(-?\d+\.\d{5}) \+/- (\d+\.\d{5}|0)(.*)$")


def _parse(text):
    rows = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            rows[m.group(1)] = (float(m.group(2)), m.group(3), m.group(4))
    return rows


def test_report_errors_layout(fitted, capsys):
    """'name: value +/- stderr (initial= ...)' per parameter, then 'Correlations:' and C(a, b) = 0.601."""
    _, p = fitted
    report_errors(p)
    out = capsys.readouterr().out
    lines = out.splitlines()
    rows = _parse(out)
    assert list(rows) == ["a", "b", "ab", "k"]
    for name in ("a", "b"):
        value, err, tail = rows[name]
        assert value == pytest.approx(p[name].value, abs=6e-6)
        assert float(err) == pytest.approx(p[name].stderr, abs=6e-6)
        assert tail == f" (initial= {p[name].init_value:f})"
    assert rows["ab"][2] == " == 'a*b'" and float(rows["ab"][1]) == pytest.approx(p["ab"].stderr, abs=6e-6)
    assert rows["k"] == (3.0, "0.00000", " (fixed)")
    assert lines[4] == "Correlations:"
    assert re.fullmatch(r"\s+C\(a, b\)\s+= 0\.601", lines[5]), lines[5]
    assert len(lines) == 6


def test_manual_numbers_for_the_section_4_2_problem(fitted):
    """The fitted a, b, their errors and C(a, b) agree with the manual's printed figures."""
    _, p = fitted
    assert p["a"].value == pytest.approx(0.09992, abs=3 * 0.00019)
    assert p["b"].value == pytest.approx(2.00189, abs=3 * 0.01196)
    assert p["a"].stderr == pytest.approx(0.00019, rel=0.1)
    assert p["b"].stderr == pytest.approx(0.01196, rel=0.1)
    assert p["a"].correl["b"] == pytest.approx(0.601, abs=0.01)


def test_show_correl_false_and_min_correl(fitted, capsys):
    """show_correl=False prints no correlations; min_correl filters small ones."""
    _, p = fitted
    report_errors(p, show_correl=False)
    assert "Correlations" not in capsys.readouterr().out
    report_errors(p, min_correl=0.7)
    assert "Correlations" not in capsys.readouterr().out
    report_errors(p, min_correl=0.5)
    assert "C(a, b)" in capsys.readouterr().out


def test_negative_correlation_and_ordering():
    """Correlations are listed largest magnitude first, negative ones signed, each pair once."""
    p = Parameters()
    for name in ("a", "b", "c"):
        p.add(name, value=1.0)
    p["a"].correl = {"b": -0.95, "c": 0.2}
    p["b"].correl = {"a": -0.95, "c": 0.5}
    p["c"].correl = {"a": 0.2, "b": 0.5}
    text = fitcore.report.errors_report(p)
    corr = [ln.strip() for ln in text.splitlines()[text.splitlines().index("Correlations:") + 1:]]
    assert [re.sub(r"\s+", " ", c) for c in corr] == ["C(a, b) = -0.950", "C(b, c) = 0.500", "C(a, c) = 0.200"]


def test_modelpars_are_printed_beside_values(fitted, capsys):
    """modelpars (numbers or Parameters) print as (model_value= ...)."""
    _, p = fitted
    truth = Parameters()
    truth.add("a", value=0.1)
    report_errors(p, modelpars={"a": truth["a"], "b": 2.0}, show_correl=False)
    rows = _parse(capsys.readouterr().out)
    assert rows["a"][2].endswith("(model_value= 0.10000)")
    assert rows["b"][2].endswith("(model_value= 2.00000)")


def test_printfuncs_spelling(fitted, capsys):
    """fitcore.printfuncs.report_errors is the manual's lmfit.printfuncs.report_errors."""
    fit, _ = fitted
    fitcore.printfuncs.report_errors(fit.params)
    via_printfuncs = capsys.readouterr().out
    report_errors(fit.params)
    assert via_printfuncs == capsys.readouterr().out and "C(a, b)" in via_printfuncs


def test_fit_report_has_statistics_variables_and_correlations(fitted):
    """fit_report returns text with the fit statistics, the variables and the correlations."""
    fit, p = fitted
    text = fit_report(fit)
    assert isinstance(text, str)
    sections = [ln for ln in text.splitlines() if ln.startswith("[[")]
    assert sections == ["[[Fit Statistics]]", "[[Variables]]", "[[Correlations]]"]
    stats = dict(re.findall(r"^\s+([\w -]+?)\s+= (.+)$", text.split("[[Variables]]")[0], re.MULTILINE))
    assert stats["engine"] == "leastsq" and stats["success"] == "True"
    assert int(stats["function evals"]) == fit.nfev and int(stats["data points"]) == 100
    assert int(stats["variables"]) == 2
    assert float(stats["chi-square"]) == pytest.approx(fit.chisqr, rel=1e-6)
    assert float(stats["reduced chi-square"]) == pytest.approx(fit.redchi, rel=1e-6)
    assert float(stats["Akaike info crit"]) == pytest.approx(fit.aic, rel=1e-6)
    assert float(stats["Bayesian info crit"]) == pytest.approx(fit.bic, rel=1e-6)
    rows = _parse(text)
    assert rows["a"][0] == pytest.approx(p["a"].value, abs=6e-6)
    assert re.search(r"C\(a, b\)\s+= 0\.601", text)


def test_fit_report_says_why_there_are_no_error_bars():
    """Without error bars, fit_report states the reason and prints stderr as 0."""
    x = np.linspace(0, 1, 20)
    p = Parameters()
    p.add("slope", value=1.0)
    p.add("unused", value=2.0)
    fit = minimize(lambda q: 3 * x - q["slope"].value * x, p)
    text = fit_report(fit)
    assert re.search(r"error bars\s+= not estimated: .*'unused'.*no effect", text)
    assert _parse(text)["slope"][1] == "0"
