# Strata: two commands on a fresh machine.
#   make demo   set up .venv, install, run the main job on the embedded default
#   make test   set up .venv, install, run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TOOLS  := .venv-tools/.installed

.PHONY: demo test lint typecheck clean bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

# stac-api-validator pins its own dependencies: it lives in a venv of its own (tests/api run it).
$(TOOLS):
	test -x .venv-tools/bin/python || $(PYTHON) -m venv .venv-tools
	.venv-tools/bin/python -m pip install -q 'stac-api-validator>=0.6.8'
	touch $(TOOLS)

demo: $(STAMP)
	$(BIN)/strata demo

test: $(STAMP) $(TOOLS)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy src/strata

clean:
	rm -rf $(VENV) .venv-tools strata-data build dist .pytest_cache .mypy_cache .ruff_cache
