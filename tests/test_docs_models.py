"""docs/models.md cannot rot: its ``>>>`` examples run here, and their printed output is checked."""

import doctest
import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "models.md"


def test_models_guide_examples_run_as_written():
    pytest.importorskip("scipy")
    text = "\n".join(re.findall(r"^```pycon\n(.*?)^```\s*$", GUIDE.read_text(), flags=re.M | re.S))
    assert text.count(">>>") > 30
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {}, "models.md", str(GUIDE), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out: list[str] = []
    runner.run(test, out=out.append)
    assert runner.failures == 0, "".join(out)
