# Two commands for a newcomer: `make forecast` and `make test`.
# Both create (or reuse) .venv with a Python >= 3.12 found by tools/find-python.sh.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
# Two stamps: the runtime (make forecast) and the test extras (make test) on top of it.
# Each is redone only when pyproject.toml changes, so switching targets reinstalls nothing.
RUNTIME := $(VENV)/.installed-runtime
TESTENV := $(VENV)/.installed-test
PYTHON ?=
export PYTHON

MODEL ?= src/syriaforecast/data/russia_syria.toml
EVIDENCE ?= src/syriaforecast/data/russia_syria_evidence.csv
OUT ?= out/forecast

.PHONY: help forecast validate test test-slow lint typecheck bench fuzz docs clean

help:
	@echo "make forecast   set up .venv and run the forecast on the bundled model and evidence"
	@echo "make test       set up .venv, lint, type-check and run the test suite"
	@echo "make test-slow  the long runs kept out of 'make test'"
	@echo "make bench      benchmarks (about 15 minutes), writes benchmarks/RESULTS.md"
	@echo "make docs       build the documentation site into docs/_build/html"

$(PY):
	@py="$$(bash tools/find-python.sh)" || exit 1; \
	echo "Creating $(VENV) with $$py ($$($$py --version 2>&1))"; \
	"$$py" -m venv $(VENV)

# Packages go in with uv, itself installed into the venv by pip. On a clean clone here uv put
# in the runtime and the test extras in 59 s with an empty cache (17 s of it without
# compiling bytecode), where pip took 2 min 15 s to 2 min 42 s; both chose the same release of
# every package (pip freeze compared). For the runtime, bytecode is compiled at install, as
# pip does, because this machine sets PYTHONDONTWRITEBYTECODE: without it every process
# compiles what it imports (16-20 s against 5-6 s to import pymc). Where uv cannot be
# installed or fails, pip does the work as before. $(1) is what to install, $(2) uv's options.
define install
	{ $(PY) -m pip install --quiet uv && $(VENV)/bin/uv pip install --quiet $(2) --python $(PY) $(1); } || \
	{ echo "uv unavailable: installing with pip"; \
	  $(PY) -m pip install --quiet --upgrade pip && $(PY) -m pip install --quiet $(1); }
endef

$(RUNTIME): pyproject.toml | $(PY)
	@$(call install,-e .,--compile-bytecode)
	@touch $(RUNTIME)

# From scratch, one run installs the runtime and the test extras together. Without compiling
# bytecode (42 s of the 59): make test lets the tests write it for what they import instead.
$(TESTENV): pyproject.toml | $(PY)
	@$(call install,-e ".[test]",)
	@touch $(RUNTIME) $(TESTENV)

# Bytecode may be written here too: a venv made by make test first has none for the runtime
# (see $(TESTENV)) until the tests have run, and without it every fresh process compiled what
# it imported: 2.5 s of the 10 s of a first forecast here (cProfile, bundled model, idle machine).
forecast: $(RUNTIME)
	PYTHONDONTWRITEBYTECODE= $(VENV)/bin/syriaforecast forecast --model $(MODEL) --evidence $(EVIDENCE) --out $(OUT)

validate: $(RUNTIME)
	PYTHONDONTWRITEBYTECODE= $(VENV)/bin/syriaforecast validate $(MODEL) $(EVIDENCE)

lint: $(TESTENV)
	$(VENV)/bin/ruff check src tests benchmarks tools

typecheck: $(TESTENV)
	$(VENV)/bin/mypy

# Two workers, one per core, each taking whole test files (a file's module fixtures, such as
# the calibration studies, are computed once); tests/conftest.py compiles the kernels first.
TEST_WORKERS ?= 2
# mypy (one core, about a minute from an empty cache) runs beside the tests rather than before
# them: the tests leave a core idle now and then (while the kernels compile, at the end of
# the last files), and make test stays one command that fails if either fails. Its report
# is printed after the tests'. The tests may write bytecode (PYTHONDONTWRITEBYTECODE emptied,
# which this machine sets): the test install compiles none, and each module is then compiled
# once, by the first process that imports it, instead of in every process.
MYPY_LOG := $(VENV)/.mypy-report
test: lint
	@echo "$(VENV)/bin/mypy (beside the tests; its report follows theirs)"
	@$(VENV)/bin/mypy > $(MYPY_LOG) 2>&1 & mypy=$$!; \
	PYTHONDONTWRITEBYTECODE= $(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile; tests=$$?; \
	wait $$mypy; typed=$$?; \
	echo "$(VENV)/bin/mypy:"; cat $(MYPY_LOG); rm -f $(MYPY_LOG); \
	exit $$(( tests != 0 || typed != 0 ))

test-slow: $(TESTENV)
	$(VENV)/bin/pytest -m slow

# Fresh processes are timed: each would otherwise compile every module it imports (as for forecast).
bench: $(TESTENV)
	PYTHONDONTWRITEBYTECODE= $(PY) benchmarks/run.py

DOCS_INSTALLED := $(VENV)/.installed-docs
$(DOCS_INSTALLED): $(RUNTIME)
	@$(call install,-e ".[docs]",--compile-bytecode)
	@touch $(DOCS_INSTALLED)

# Warnings are errors and every cross-reference must resolve (nitpicky); the
# notebooks are rendered with their stored outputs, never executed here.
docs: $(DOCS_INSTALLED)
	$(VENV)/bin/sphinx-build -b html -W --keep-going -n docs docs/_build/html
	@echo "open docs/_build/html/index.html"

fuzz: $(TESTENV)
	SYRIAFORECAST_FUZZ_EXAMPLES=5000 $(VENV)/bin/pytest tests/test_fuzz_loaders.py tests/test_fuzz_hardening.py \
		-p no:cacheprovider

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .mypy_cache docs/_build docs/_generated
