# meldingshub — `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=
PYTEST_ARGS ?=

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.PHONY: install
install: $(VENV)/.installed ## create .venv and install the hub

.PHONY: dev
dev: $(VENV)/.installed-dev ## create .venv with the test and lint tools

# PYTHONMALLOC=malloc: glibc's allocator for Python's objects too, so what each checkpoint of the
# embedded broker frees goes back to the system; pymalloc's arenas stayed fragmented and grew
# (bench/README.md, (f)).
.PHONY: run
run: $(VENV)/.installed ## run the hub with its embedded defaults (ARGS="..." passes options to `meldingshub run`)
	PYTHONMALLOC=malloc $(BIN)/meldingshub run $(ARGS)

.PHONY: lint
lint: $(VENV)/.installed-dev ## ruff (style and bug patterns) and the import contract (the layers)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

.PHONY: typecheck
typecheck: $(VENV)/.installed-dev ## mypy --strict over every package and the tests
	$(BIN)/mypy

.PHONY: test
test: lint typecheck ## lint, typecheck, then the whole test suite (unit and integration)
	$(BIN)/pytest $(PYTEST_ARGS)

.PHONY: fuzz
fuzz: $(VENV)/.installed-dev ## the long fuzz run: every mutation of every corpus document through every ingress of a running hub
	MELDINGSHUB_FUZZ=long $(BIN)/pytest tests/fuzz $(PYTEST_ARGS)

.PHONY: bench
bench: $(VENV)/.installed-dev ## benchmarks under bench/ (each prints ratios against a baseline of the same run)
	@for b in bench/*.py; do [ "$$(basename $$b)" = "__init__.py" ] && continue; echo "== $$b"; $(BIN)/python $$b || exit 1; done

.PHONY: format
format: $(VENV)/.installed-dev ## apply ruff's formatter and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

.PHONY: clean
clean: ## remove .venv and local data
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
