# Two commands for a newcomer: `make forecast` and `make test`.
# Both create (or reuse) .venv with a Python >= 3.12 found by tools/find-python.sh.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
PYTHON ?=
export PYTHON

MODEL ?= models/russia_syria.toml
EVIDENCE ?= models/russia_syria_evidence.csv
OUT ?= out/forecast

.PHONY: help forecast validate test test-slow lint typecheck bench fuzz clean

help:
	@echo "make forecast   set up .venv and run the forecast on the bundled model and evidence"
	@echo "make test       set up .venv, lint, type-check and run the test suite"
	@echo "make test-slow  the long runs kept out of 'make test'"
	@echo "make bench      benchmarks, writes benchmarks/RESULTS.md"

$(PY):
	@py="$$(bash tools/find-python.sh)" || exit 1; \
	echo "Creating $(VENV) with $$py ($$($$py --version 2>&1))"; \
	"$$py" -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $(INSTALLED)

forecast: $(INSTALLED)
	$(VENV)/bin/syriaforecast forecast --model $(MODEL) --evidence $(EVIDENCE) --out $(OUT)

validate: $(INSTALLED)
	$(VENV)/bin/syriaforecast validate $(MODEL) $(EVIDENCE)

lint: $(INSTALLED)
	$(VENV)/bin/ruff check src tests benchmarks tools

typecheck: $(INSTALLED)
	$(VENV)/bin/mypy

test: lint typecheck
	$(VENV)/bin/pytest

test-slow: $(INSTALLED)
	$(VENV)/bin/pytest -m slow

bench: $(INSTALLED)
	$(PY) benchmarks/run.py

fuzz: $(INSTALLED)
	SYRIAFORECAST_FUZZ_EXAMPLES=5000 $(VENV)/bin/pytest tests/test_fuzz_loaders.py tests/test_fuzz_hardening.py \
		-p no:cacheprovider

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .mypy_cache
