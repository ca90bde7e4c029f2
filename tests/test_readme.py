"""The README's example runs as written and fits what it says."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs_and_reports_a_successful_fit(tmp_path):
    """The first Python block of the README runs in a fresh interpreter and prints a successful report."""
    block = re.search(r"## Example\s+```python\n(.*?)```", README.read_text(), re.S)
    assert block, "README has no '## Example' python block"
    assert len(block.group(1).strip().splitlines()) <= 12, "the README example should stay about 10 lines"
    out = subprocess.run([sys.executable, "-c", block.group(1)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert "success            = True" in out.stdout
    omega = float(re.search(r"omega:\s+([-\d.]+)", out.stdout).group(1))
    assert abs(omega - 3.0) < 0.01
