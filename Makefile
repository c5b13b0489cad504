# vip-tiers: the two Quick start commands (`make run`, `make test`) and a few helpers.
# Everything runs from the project's own virtualenv (.venv, Python 3.11), created on first use.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# pip runs again only when pyproject.toml is newer than this stamp.
INSTALL_STAMP := $(VENV)/.vip-tiers-installed
# The local Dagster instance (runs, schedules, event log) lives in .dagster/ (ignored by git).
export DAGSTER_HOME := $(CURDIR)/.dagster
# Never prompt (CI, no stdin); quiet pip.
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_NO_INPUT := 1

# Members per program of the data `make check-engines` builds on both DuckDB and Spark.
ENGINE_CHECK_MEMBERS ?= 40
# Extra arguments for `make run`, e.g. make run ARGS="--as-of 2024-06-30 --full-refresh"
ARGS ?=

.PHONY: help run test test-daily check-engines dev setup system-deps spark-deps lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

run: setup ## build the warehouse: `vip-tiers run` (sample data in .data/; ARGS="..." to add options)
	$(BIN)/vip-tiers run $(ARGS)

test: setup spark-deps ## lint, the test suite, a 14-day daily-runs sequence, DuckDB vs Spark
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q
	DAILY_DAYS=14 DAILY_LAST_DAY=2024-01-07 $(BIN)/pytest -q -m daily_sequence
	$(MAKE) --no-print-directory check-engines

check-engines: setup spark-deps ## build the same data on DuckDB and on Spark, compare the marts
	$(BIN)/vip-tiers check-engines --members $(ENGINE_CHECK_MEMBERS) --as-of 2024-06-30

test-daily: setup ## the 90-day daily-runs sequence against a full rebuild (about an hour)
	$(BIN)/pytest -q -m daily_sequence

dev: setup ## Dagster UI on http://127.0.0.1:3000 (same definitions as `vip-tiers run`)
	$(BIN)/dagster dev -m orchestration.definitions

setup: system-deps $(INSTALL_STAMP) $(DAGSTER_HOME)/dagster.yaml

# System packages the build needs beyond Python, installed only when missing (idempotent):
# Chromium, for the dashboard test (tests/test_dashboard.py opens the page headless).
system-deps: ## check / install system packages (chromium)
	@if [ ! -x "$(BIN)/python" ] && ! command -v "$(PYTHON)" >/dev/null 2>&1; then \
		echo "$(PYTHON) not found: install Python 3.11 (or run make PYTHON=/path/to/python3.11)"; \
		exit 1; \
	fi
	@command -v chromium >/dev/null 2>&1 || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) || \
		(echo "system-deps: could not install chromium (Debian: sudo apt-get install chromium)"; exit 1)

# The `spark` engine: a Java 17 runtime for the local Spark, and the `spark` extra.
spark-deps: setup ## install Java 17 (when missing) and pyspark / dbt-spark
	@command -v java >/dev/null 2>&1 || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y openjdk-17-jre-headless) || \
		(echo "spark-deps: could not install Java 17 (Debian: sudo apt-get install openjdk-17-jre-headless)"; exit 1)
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALL_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

lint: setup ## fix what ruff can fix, then format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean: ## remove generated data, the Dagster instance and dbt artifacts (keeps .venv)
	rm -rf .data .dagster dbt_project/target dbt_project/logs logs .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
