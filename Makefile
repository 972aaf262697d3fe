# Two entry points: `make demo` and `make test`. Both build .venv and re-install
# only when pyproject.toml changed (the stamp files track it).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/landmask demo -o demo-output --overwrite

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check landmask tests benchmarks scripts
	$(BIN)/ruff format --check landmask tests benchmarks scripts
	$(BIN)/mypy landmask

test: lint
	$(BIN)/python -m pytest -n 2 --dist worksteal -q

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_classify.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
