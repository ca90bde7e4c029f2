"""Every script in examples/ runs as a user would run it, exits 0 and prints a fit report."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))
REPORT_LINE = re.compile(r"^\s+\w+:\s+-?\d+\.\d+ \+/- \d+\.\d+ \(initial= -?\d+\.\d+\)", re.MULTILINE)


@pytest.fixture(scope="module")
def runs():
    """Start every example at once (they are independent) and collect their output."""
    procs = {p.name: subprocess.Popen([sys.executable, str(p)], cwd=p.parent, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for p in EXAMPLES}
    return {name: (proc.wait(timeout=300), *proc.communicate()) for name, proc in procs.items()}


def test_examples_exist():
    """The manual's examples are all present as scripts (make demo runs damped_sine.py)."""
    names = {p.name for p in EXAMPLES}
    assert {"damped_sine.py", "manual_2_4_simple.py", "manual_2_3_add_many.py", "manual_3_2_fitting_function.py",
            "manual_3_5_prepare_fit.py", "constraints_5.py", "constraints_5_3_lorentzian.py"} <= names


@pytest.mark.slow
@pytest.mark.parametrize("name", [p.name for p in EXAMPLES])
def test_example_runs_and_prints_a_report(runs, name):
    """The example exits 0, warns about nothing, and prints successful fits with error bars."""
    code, out, err = runs[name]
    assert code == 0, err
    assert "Warning" not in err, err
    assert "[[Variables]]" in out and REPORT_LINE.search(out), out
    assert re.findall(r"success\s+= (\w+)", out) and set(re.findall(r"success\s+= (\w+)", out)) == {"True"}
    assert "error bars         = not estimated" not in out
