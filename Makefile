# The README's commands. Every pip call goes through constraints.txt so that torch stays 2.13.0.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q -c constraints.txt

.PHONY: install demo test test-fast lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PIP) torch==2.13.0
	$(PIP) -e '.[dev,perceptual]'
	touch $@

demo: install
	$(VENV)/bin/staa run demo --out runs/demo

test: install
	$(PY) -m pytest -q

test-fast: install  # everything but the end-to-end runs marked slow (a whole experiment, torchrun, learning)
	$(PY) -m pytest -q -m "not slow"

lint: install  # ruff's lint rules and formatting (pyproject.toml), as CI checks them
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install
	$(PY) benchmarks/run_all.py

clean:
	rm -rf runs .pytest_cache
