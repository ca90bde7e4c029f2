# The README's two commands. Both set up what they need in .venv first.
# make test runs the suite on every core (pytest-xdist), one test file per worker so that module fixtures
# (subprocess batteries, built distributions) run once; `make test WORKERS=0` runs it in one process.
PYTHON ?= python3
WORKERS ?= auto
VENV   ?= .venv
PY     := $(VENV)/bin/python
PLUGINS := $(wildcard plugins/*/pyproject.toml)

.PHONY: demo test setup bench clean

$(VENV)/.installed: pyproject.toml $(PLUGINS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]" $(foreach p,$(dir $(PLUGINS)),-e ./$(p))
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(PY) examples/damped_sine.py

test: setup
	$(PY) -m ruff check fitcore plugins
	$(PY) -m mypy
	$(PY) -m pytest -q -p no:cacheprovider -n $(WORKERS) --dist loadfile

bench: setup
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) benchmarks/overhead.py

clean:
	rm -rf $(VENV) build *.egg-info plugins/*/*.egg-info
