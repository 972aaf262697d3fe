# Two entry points: `make demo` and `make test`. Both build .venv and re-install
# only when pyproject.toml changed (the stamp files track it).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench bench-quick clean workflows

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

# the three workflows/*.yaml on data landmask makes for them, all in landmask-workflows/
workflows: $(VENV)/.installed
	$(BIN)/landmask demo -o landmask-workflows --overwrite \
		--workflow workflows/landsat-water.yaml \
		--workflow workflows/naip-rgbn.yaml \
		--workflow workflows/sentinel2-landcover.yaml

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check landmask tests benchmarks scripts
	$(BIN)/ruff format --check landmask tests benchmarks scripts
	$(BIN)/mypy landmask

test: lint
	$(BIN)/python -m pytest -n 2 --dist worksteal -q

# every benchmark job against its baseline, ratios printed, results kept in benchmarks/results/
bench: $(VENV)/.installed
	$(BIN)/python benchmarks/run_all.py

bench-quick: $(VENV)/.installed
	$(BIN)/python benchmarks/run_all.py --quick

clean:
	rm -rf $(VENV) demo-output landmask-workflows .pytest_cache .mypy_cache .ruff_cache
