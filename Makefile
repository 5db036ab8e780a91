# predictive-segments: `make build` and `make test` are all a new user needs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Demo data and warehouse of `make build`.
CUSTOMERS ?= 100000
SEED ?= 42
SEGMENTS_RAW_DIR ?= data/raw
SEGMENTS_DB ?= warehouse.duckdb
export SEGMENTS_RAW_DIR SEGMENTS_DB
# What BI tools read, published after each successful build
# (predictive_segments.serving): a DuckDB copy and a folder of Parquet files.
# SEGMENTS_SERVING_DB moves it (`make clean` removes only the default one).
DEFAULT_SERVING = $(SEGMENTS_DB:.duckdb=).serving.duckdb
SERVING_DB = $(or $(SEGMENTS_SERVING_DB),$(DEFAULT_SERVING))

# Small data set and its own warehouse for `make test`.
CI_CUSTOMERS ?= 5000
CI_SEED ?= 7
CI_DIR := target/ci
CI_RAW_DIR := $(CI_DIR)/raw
CI_DB := $(CI_DIR)/ci.duckdb

DBT := $(BIN)/dbt
DBT_FLAGS := --profiles-dir . --project-dir .
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: help setup demo-data build refresh simulate-weeks test lint unit ci-data ci-build integration clean bench docs

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "predictive-segments needs Python 3.11 (found " + sys.version.split()[0] + "); run make PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

setup: $(STAMP)  ## Create .venv with the pinned dependencies (only when missing or stale)

demo-data: setup  ## Generate demo data into SEGMENTS_RAW_DIR unless it is there for CUSTOMERS and SEED
	@$(BIN)/python -m predictive_segments.synth --skip-if-present --customers $(CUSTOMERS) --seed $(SEED) --out $(SEGMENTS_RAW_DIR)

build: demo-data  ## Set up, generate demo data, build the warehouse (SEGMENTS_DB) and publish its serving copy
	$(DBT) build $(DBT_FLAGS)
	@$(BIN)/python -m predictive_segments.serving publish
	@echo
	@echo "Warehouse built: $(SEGMENTS_DB) (written by builds; readers use the serving copy above)."
	@echo "Query the serving copy from any DuckDB client, read-only, for example:"
	@echo "  $(BIN)/python -c \"import duckdb; print(duckdb.connect('$(SERVING_DB)', read_only=True).sql('select * from fct_customer_segments limit 5'))\""
	@echo "Marts: dim_customers, fct_customer_scores, fct_customer_segments, fct_audience_members, dim_audiences, rpt_*."
	@echo "Activation files: $(basename $(SEGMENTS_DB)).exports/ (unless SEGMENTS_EXPORTS_DIR is set; README, Exports)."
	@echo "The warehouse also holds score_* (churn, purchase propensity, CLV, segments, lookalike, uplift per customer),"
	@echo "        train_* (model registry), feat_customers (features), stg_shop__* (clean raw data),"
	@echo "        int_raw_rows_quarantined (refused rows and why). See README.md (Connect a BI tool)."

refresh: demo-data  ## Daily refresh of SEGMENTS_DB: score with the approved models, load only new raw files; publish
	$(DBT) build $(DBT_FLAGS) --vars '{retrain: false}'
	@$(BIN)/python -m predictive_segments.serving publish

WEEKS ?= 4
simulate-weeks: demo-data  ## Rebuild SEGMENTS_DB at WEEKS weekly as_of_dates (replaces its history) to show migration; publish
	$(BIN)/python -m predictive_segments.simulate_weeks --weeks $(WEEKS) --replace-history

# Pipeline benchmark (benchmarks/bench_pipeline.py): one scale or a list for
# the scaling curve, e.g. make bench BENCH_CUSTOMERS="100000 300000 1000000".
# Demo data (and their daily-file copy for the refresh, hard links and the
# event tables split by day) go to BENCH_DATA_DIR (kept by `make clean`),
# warehouses and results (bench_<customers>.json, bench.md) to BENCH_OUT;
# BENCH_FLAGS adds options (--no-tests, --no-refresh, --regenerate,
# --project-dir DIR).
BENCH_CUSTOMERS ?= 100000
BENCH_SEED ?= 42
BENCH_OUT ?= target/bench
BENCH_DATA_DIR ?= data/bench
BENCH_FLAGS ?=
bench: setup  ## Time generation and dbt build per phase at BENCH_CUSTOMERS; writes BENCH_OUT/bench.md
	$(BIN)/python benchmarks/bench_pipeline.py --customers $(BENCH_CUSTOMERS) --seed $(BENCH_SEED) \
		--out $(BENCH_OUT) --data-dir $(BENCH_DATA_DIR) $(BENCH_FLAGS)

lint: setup  ## ruff and sqlfluff
	$(BIN)/ruff check src tests benchmarks python_models
	$(BIN)/ruff format --check src tests benchmarks python_models
	SEGMENTS_DB=:memory: DBT_TARGET_PATH=target/lint $(BIN)/sqlfluff lint models analyses snapshots tests --processes 2

unit: setup  ## Unit tests of the Python package
	$(BIN)/python -m pytest tests/python -q

ci-data: setup
	@$(BIN)/python -m predictive_segments.synth --skip-if-present --customers $(CI_CUSTOMERS) --seed $(CI_SEED) --out $(CI_RAW_DIR)

# Two weekly builds, so that the history tests (segment stability, migration,
# backtest) run on real history; the second runs every data test and fixture.
ci-build: ci-data  ## dbt build with every data test and the negative fixtures, on small data
	rm -f $(CI_DB) $(CI_DB).wal
	SEGMENTS_RAW_DIR=$(CI_RAW_DIR) SEGMENTS_DB=$(CI_DB) DBT_TARGET_PATH=target/ci/dbt \
		$(BIN)/python -m predictive_segments.simulate_weeks --weeks 2 --vars '{enable_test_fixtures: true}'

DOCS_PORT ?= 8080
docs: setup  ## dbt docs generate for SEGMENTS_DB (built or not; catalog once built) and serve them on DOCS_PORT
	$(DBT) docs generate $(DBT_FLAGS)
	$(DBT) docs serve $(DBT_FLAGS) --port $(DOCS_PORT)

.PHONY: ci-docs
ci-docs: ci-build  ## dbt docs generate and compile the analyses against the CI warehouse
	SEGMENTS_RAW_DIR=$(CI_RAW_DIR) SEGMENTS_DB=$(CI_DB) DBT_TARGET_PATH=target/ci/dbt \
		$(DBT) docs generate $(DBT_FLAGS)
	SEGMENTS_RAW_DIR=$(CI_RAW_DIR) SEGMENTS_DB=$(CI_DB) DBT_TARGET_PATH=target/ci/dbt \
		$(DBT) compile $(DBT_FLAGS) --select "resource_type:analysis"

integration: ci-docs  ## Tests that read the CI warehouse and run their own small builds
	SEGMENTS_CI_RAW_DIR=$(CI_RAW_DIR) SEGMENTS_CI_DB=$(CI_DB) $(BIN)/python -m pytest tests/integration -q --durations=15

test: lint unit integration  ## Set up, lint, unit tests, dbt build with all tests on CI-size data

clean:  ## Remove build output (keeps .venv and data)
	rm -rf target logs $(SEGMENTS_DB) $(SEGMENTS_DB).wal $(basename $(SEGMENTS_DB)).exports \
		$(DEFAULT_SERVING) $(DEFAULT_SERVING:.duckdb=) $(DEFAULT_SERVING:.duckdb=).versions
