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

# PostgreSQL's server programs, for tests/pipeline/test_postgres_storage.py (it starts its own server).
# Debian keeps initdb in /usr/lib/postgresql/<version>/bin, outside PATH. Root installs the package quietly.
postgres:
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	if [ "$$(id -u)" = 0 ]; then \
		echo "Installing PostgreSQL (apt-get install postgresql) for tests/pipeline/test_postgres_storage.py"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql) >/dev/null; \
	else \
		echo "make test needs PostgreSQL's server programs (initdb, pg_ctl) for tests/pipeline/test_postgres_storage.py." >&2; \
		echo "Install the 'postgresql' package, e.g.: sudo apt-get install postgresql" >&2; \
		exit 1; \
	fi

# Debian's Chromium, for tests/stage6/test_report_in_browser.py (Playwright drives it; no browser download).
chromium:
	@command -v chromium >/dev/null 2>&1 || \
	if [ "$$(id -u)" = 0 ]; then \
		echo "Installing Chromium (apt-get install chromium) for tests/stage6/test_report_in_browser.py"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) >/dev/null; \
	else \
		echo "make test needs Debian's chromium for tests/stage6/test_report_in_browser.py." >&2; \
		echo "Install it, e.g.: sudo apt-get install chromium" >&2; \
		exit 1; \
	fi

dev: setup
	@mkdir -p $(DAGSTER_HOME) && [ -f $(DAGSTER_HOME)/dagster.yaml ] || cp dagster.yaml $(DAGSTER_HOME)/
	$(BIN)/dagster dev

bench: setup
	$(BIN)/python benchmarks/bench_national_year.py

clean:
	rm -rf $(OROSTAT_HOME)
