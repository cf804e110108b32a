# The two commands: `make demo` (set up, run the main job on synthetic data) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export OROSTAT_HOME ?= $(CURDIR)/var
export DAGSTER_HOME ?= $(OROSTAT_HOME)/dagster

.PHONY: setup demo test dev lint bench clean postgres chromium

setup: $(VENV)/.installed

# Reinstall when the dependencies change.
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "orostat needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

demo: setup
	$(BIN)/orostat demo

test: setup postgres chromium
	$(BIN)/ruff check pipelines tests benchmarks
	$(BIN)/ruff format --check pipelines tests benchmarks
	$(BIN)/pytest -n 2

# $(call debian_package,<package>,<shell test that it is there>,<test file that needs it>): root installs
# the Debian package quietly; anyone else is told which package to install.
define debian_package
	@{ $(2); } >/dev/null 2>&1 || \
	if [ "$$(id -u)" = 0 ]; then \
		echo "Installing $(1) (apt-get install $(1)) for $(3)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(1)) >/dev/null; \
	else \
		echo "make test needs Debian's $(1) package for $(3); install it, e.g.: sudo apt-get install $(1)" >&2; \
		exit 1; \
	fi
endef

# PostgreSQL's server programs (tests/pipeline/test_postgres_storage.py starts its own server). Debian keeps
# initdb in /usr/lib/postgresql/<version>/bin, outside PATH.
postgres:
	$(call debian_package,postgresql,command -v initdb || ls /usr/lib/postgresql/*/bin/initdb,tests/pipeline/test_postgres_storage.py)

# Debian's Chromium, which Playwright drives (a browser download does not work here).
chromium:
	$(call debian_package,chromium,command -v chromium,tests/stage6/test_report_in_browser.py)

# The webserver and daemon create the runs of backfills started in the UI: one planned event per asset for
# a range, as orostat's own runs (pipelines/core/instance.py, DAGSTER_ENVIRONMENT).
dev: export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS ?= true
dev: setup
	@mkdir -p $(DAGSTER_HOME) && [ -f $(DAGSTER_HOME)/dagster.yaml ] || cp dagster.yaml $(DAGSTER_HOME)/
	$(BIN)/dagster dev

bench: setup
	$(BIN)/python benchmarks/bench_national_year.py

clean:
	rm -rf $(OROSTAT_HOME)
