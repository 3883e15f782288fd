# Parcours — every command creates .venv if missing and installs the project into it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: install install-test demo test test-fast bench lint clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (or run: make PYTHON=python3 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	@touch $@

$(TEST_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@ $(STAMP)

install: $(STAMP)  ## install the project; afterwards .venv/bin/parcours exists

install-test: $(TEST_STAMP)  ## install the project with the test tools (pytest, hypothesis, ruff)

demo: $(STAMP)  ## simulated journeys through the whole pipeline, summary + HTML report
	$(BIN)/parcours demo

test: $(TEST_STAMP)  ## unit, property, schema and integration tests (real broker, real chDB)
	$(BIN)/python -m pytest -q -n 2

test-fast: $(TEST_STAMP)  ## without the integration tier
	$(BIN)/python -m pytest -q -n 2 -m "not integration"

bench: $(STAMP)  ## replay 100 000 simulated events and print events/s
	$(BIN)/python -m jobs.bench

clean:
	rm -rf .parcours .pytest_cache

lint: $(TEST_STAMP)  ## ruff over the code and the tests
	$(BIN)/ruff check pipeline jobs tests
