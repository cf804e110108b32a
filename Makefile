# The two commands: `make demo` (set up, run the main job on synthetic data) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export OROSTAT_HOME ?= $(CURDIR)/var
export DAGSTER_HOME ?= $(OROSTAT_HOME)/dagster

.PHONY: setup demo test dev lint bench clean

setup: $(VENV)/.installed

# Reinstall when the dependencies change.
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "orostat needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

demo: setup
	$(BIN)/orostat demo

test: setup
	$(BIN)/ruff check pipelines tests benchmarks
	$(BIN)/ruff format --check pipelines tests benchmarks
	$(BIN)/pytest -n 2

dev: setup
	@mkdir -p $(DAGSTER_HOME) && [ -f $(DAGSTER_HOME)/dagster.yaml ] || cp dagster.yaml $(DAGSTER_HOME)/
	$(BIN)/dagster dev

bench: setup
	$(BIN)/python benchmarks/bench_national_year.py

clean:
	rm -rf $(OROSTAT_HOME)
