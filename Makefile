# lakejobs: every target sets up what it needs first, so each works alone on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo python3)
VENV   := .venv
PY     := $(VENV)/bin/python
FORMAT ?= parquet
# One lake per format: a Parquet run refuses a Delta table, and a Delta table started over a
# Parquet table's folder would leave its files beside it.
LAKE   ?= $(if $(filter delta,$(FORMAT)),lake-delta,lake)
RAW    ?= data/sample/rawData
PYTEST_ARGS ?=
# Two pytest-xdist workers: the tests that start servers or JVMs of their own beside the
# in-process ones (tests/conftest.py, pytest_xdist_make_scheduler). TEST_WORKERS= runs one.
TEST_WORKERS ?= -n 2 --dist loadgroup

DEPS_STAMP := $(VENV)/.deps-stamp
JARS_STAMP := .jars/.stamp
ARCHIVE_STAMP := .jars/.archive-stamp
CHROMIUM_STAMP := .jars/tools/.chromium-stamp

.PHONY: help setup run run-s3 test lint sample clean bench bench-field bench-experiments bench-profile render stepfunctions postgresql warehouse-demo run-field sample-field package cluster-demo

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(DEPS_STAMP) $(JARS_STAMP) $(ARCHIVE_STAMP) ## venv with the pinned packages, the JVM jars in .jars/ and a class archive of them

$(DEPS_STAMP): requirements-dev.txt requirements.lock setup.py
	@command -v java >/dev/null || { echo "make: java not found: install a JDK 17 (Debian: apt-get install openjdk-17-jdk-headless)"; exit 1; }
	@test -x $(VENV)/bin/pip || $(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "make: $(PYTHON) is $$($(PYTHON) -V 2>&1); the development environment's pinned packages need Python 3.11 (as on Glue 5; job code also runs on EMR 7's 3.9): pass PYTHON=python3.11"; exit 1; }
	@test -x $(VENV)/bin/pip || { rm -rf $(VENV); $(PYTHON) -m venv $(VENV) >/dev/null 2>&1; } || { rm -rf $(VENV); echo "make: $(PYTHON) -m venv failed: install the venv module (Debian: apt-get install python3-venv)"; exit 1; }
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt -c requirements.lock
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	@touch $@

$(JARS_STAMP): jars/pom.xml
	@command -v mvn >/dev/null || { echo "make: mvn not found: install Maven (Debian: apt-get install maven) to fetch the JVM jars"; exit 1; }
	@echo "mvn: fetching Delta, hadoop-aws, AWS SDK and PostgreSQL jars into .jars/"
	@mkdir -p .jars && rm -f .jars/*.jar  # a changed pin must not leave the old jar on the classpath
	@mvn -q -B -f jars/pom.xml dependency:copy-dependencies > .jars/fetch.log 2>&1 || { echo "make: mvn could not fetch the jars from Maven Central: $$(grep -m1 -E 'ERROR|Could not' .jars/fetch.log) (full log: .jars/fetch.log)"; exit 1; }
	@touch $@

# Optional: sessions start faster from it, and without it when it could not be built.
$(ARCHIVE_STAMP): $(DEPS_STAMP) $(JARS_STAMP)
	@echo "jvm: archiving Spark's classes for faster JVM starts (.jars/spark-classes.jsa, ~1 min)"
	@$(PY) -m lakejobs.jvm_archive
	@touch $@

# Optional, for the test suite only: the HTML run report's screenshot test renders the page in it,
# and is skipped (saying why) when it could not be fetched.
$(CHROMIUM_STAMP):
	@if command -v chromium chromium-browser >/dev/null; then echo "chromium: the report screenshot test uses the PATH's"; \
	  mkdir -p .jars/tools && touch $@; else \
	  echo "chromium: fetching Debian's chromium into .jars/tools/chromium for the report screenshot test (no root)"; \
	  if bash tests/tools/fetch_chromium.sh .jars/tools/chromium; then mkdir -p .jars/tools && touch $@; \
	  else echo "chromium: not available; that test will be skipped (fetched again next time)"; fi; fi

# The warehouse tests and demo start a private PostgreSQL server from Debian's packages: they
# are installed when missing (as root, or through sudo).
postgresql:
	@if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	  && ! test -x "$$LAKEJOBS_PG_BIN/initdb"; then \
	  echo "postgresql: installing Debian's postgresql for the warehouse tests"; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  { $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; } >/dev/null \
	    || { echo "make: could not install postgresql, which the warehouse tests start: apt-get install postgresql"; exit 1; }; fi

run: setup ## run the sales pipeline on the bundled sample data (FORMAT=parquet|delta LAKE=dir, default lake or lake-delta)
	$(VENV)/bin/lakejobs pipeline --raw $(RAW) --lake $(LAKE) --format $(FORMAT)

test: setup $(CHROMIUM_STAMP) postgresql ## run the whole test suite
	$(VENV)/bin/pytest $(TEST_WORKERS) $(PYTEST_ARGS)

lint: setup ## ruff over the code
	$(VENV)/bin/ruff check lib jobs tests bench
	$(VENV)/bin/ruff format --check lib jobs tests bench

sample: setup ## regenerate data/sample/rawData with the generator (deterministic)
	rm -rf data/sample/rawData
	$(VENV)/bin/lakejobs generate --orders 300 --seed 7 --out data/sample/rawData
	$(PY) -m lakejobs.generate_field --seed 7 --out data/sample/rawData

clean: ## remove the venv, jars, lake and build outputs
	rm -rf $(VENV) .jars $(LAKE) $(if $(filter file,$(origin LAKE)),lake lake-delta) dist build lib/*.egg-info .pytest_cache .ruff_cache

run-s3: setup ## the pipeline on S3: a local S3 API server (moto), boto3 uploads, Spark via s3a (FORMAT=...)
	$(PY) -m lakejobs.s3demo --raw $(RAW) --format $(FORMAT)

SCALES ?= 1000000,5000000,10000000
REPEAT ?= 1
BENCH_LABEL ?=
bench: setup ## benchmark lakejobs vs DuckDB vs Spark's floor (SCALES=1000000,5000000,10000000 REPEAT=1 BENCH_LABEL=)
	$(PY) bench/run.py --scales $(SCALES) --repeat $(REPEAT) $(if $(BENCH_LABEL),--label $(BENCH_LABEL))

EXPERIMENT_SCALE ?= 2000000
FIELD_TRIPS ?= 3000000
FIELD_PRICES ?= 2000000
FIELD_RATES ?= 1000000
FIELD_EVENTS ?= 1000000
FIELD_REPEAT ?= 3
bench-field: setup ## the four field jobs timed on generated data (FIELD_TRIPS FIELD_PRICES FIELD_RATES FIELD_EVENTS FIELD_REPEAT)
	$(PY) bench/field_jobs.py --trips $(FIELD_TRIPS) --prices $(FIELD_PRICES) --rates $(FIELD_RATES) \
	  --events $(FIELD_EVENTS) --repeat $(FIELD_REPEAT) \
	  $(if $(BENCH_LABEL),--label $(BENCH_LABEL))

bench-experiments: setup ## one tuning knob at a time on the whole pipeline (EXPERIMENT_SCALE=2000000)
	$(PY) bench/experiments.py --scale $(EXPERIMENT_SCALE)

PROFILE_SCALE ?= 10000000
PROFILER_JAR := .jars/tools/async-profiler-3.0.jar
$(PROFILER_JAR):
	@mkdir -p .jars/tools
	@mvn -q -B dependency:copy -Dartifact=tools.profiler:async-profiler:3.0 -DoutputDirectory=.jars/tools > .jars/tools/fetch.log 2>&1 || { echo "make: mvn could not fetch async-profiler: $$(grep -m1 -E 'ERROR|Could not' .jars/tools/fetch.log)"; exit 1; }
bench-profile: setup $(PROFILER_JAR) ## CPU seconds per component and job, sampled with async-profiler (PROFILE_SCALE=10000000)
	$(PY) bench/cpu_profile.py --scale $(PROFILE_SCALE) --profiler $(PROFILER_JAR)

render: setup ## rewrite the committed Glue and EMR definitions (glue/, emr/) from the pipeline description
	$(VENV)/bin/lakejobs deploy render

stepfunctions: setup ## rewrite the committed state machines and their IAM policies (stepfunctions/)
	$(PY) -m lakejobs.orchestrate.render

warehouse-demo: setup postgresql ## a private PostgreSQL: run the pipeline, load the mart, rerun, extract it back, stop
	$(PY) -u -m lakejobs.warehousedemo --raw $(RAW) --lake $(LAKE) --format $(FORMAT)

sample-field: setup ## regenerate only the taxi, fx, stocks and transactions samples (deterministic)
	rm -rf $(addprefix data/sample/rawData/,taxi fx stocks transactions)
	$(PY) -m lakejobs.generate_field --seed 7 --out data/sample/rawData

run-field: setup ## taxi_trips, fx_rates, stock_prices and transactions (two batches) on the samples (LAKE=dir)
	$(VENV)/bin/lakejobs run taxi_trips --input_path $(RAW)/taxi --output_path $(LAKE)/processedData/taxi_trips \
	  --quarantine_path $(LAKE)/quarantine/taxi_trips --report_path $(LAKE)/_lakejobs/runs
	$(VENV)/bin/lakejobs run fx_rates --input_path $(RAW)/fx --output_path $(LAKE)/processedData/fx_rates \
	  --quarantine_path $(LAKE)/quarantine/fx_rates --report_path $(LAKE)/_lakejobs/runs
	$(VENV)/bin/lakejobs run stock_prices --input_path $(RAW)/stocks --output_path $(LAKE)/processedData/stock_prices \
	  --quarantine_path $(LAKE)/quarantine/stock_prices --report_path $(LAKE)/_lakejobs/runs
	for batch in $(RAW)/transactions/batch=*; do \
	  $(VENV)/bin/lakejobs run transactions --input_path "$$batch" --format $(FORMAT) \
	    --output_path $(LAKE)/processedData/transactions --quarantine_path $(LAKE)/quarantine/transactions \
	    --report_path $(LAKE)/_lakejobs/runs || exit 1; \
	done

PYVER ?= 3.9,3.11
ARCH  ?= x86_64
EXTRA_REQUIREMENTS ?=
DEMO_PYVER ?= 3.11
package: setup ## build dist/: wheel, lib zip, job scripts, packed envs (PYVER=3.9,3.11 ARCH=x86_64|arm64 EXTRA_REQUIREMENTS=file)
	$(PY) -m lakejobs.packaging --dist dist --pyver $(PYVER) --arch $(ARCH) $(if $(EXTRA_REQUIREMENTS),--extra-requirements $(EXTRA_REQUIREMENTS))

cluster-demo: package ## the jobs from dist/ on a local Spark standalone cluster, reading and writing S3 (moto)
	$(PY) -m lakejobs.clusterdemo --dist dist --pyver $(DEMO_PYVER) --arch $(ARCH)
