# sop-pipeline: `make run` (demo data -> every asset -> data/) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
SOP       := $(VENV)/bin/sop
# uv: the one on PATH, else a copy bootstrapped into .venv/.uv with pip --target. That never
# touches the system Python (PEP 668's "externally-managed-environment" does not apply to
# --target) and is a fixed path, so it still resolves once .venv/bin leads PATH.
UV_BOOT   := $(VENV)/.uv
UV        := $(shell command -v uv 2>/dev/null || echo "$(UV_BOOT)/bin/uv")
PYTHON3   := $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null || echo python3)
SOP_DEMO_SIZE ?= small
DATA      ?= data
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
DAGSTER_HOME ?= $(CURDIR)/$(DATA)/dagster_home

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# --compile-bytecode and compileall write the .pyc files once at set-up. Where PYTHONDONTWRITEBYTECODE
# is set (as on this project's CI machines) Python never writes them itself, so without this every
# process (sop run and each of its dbt steps) compiled all it imported again: ~12 s per small cycle.
# constraints.txt pins every package (and its dependencies) to the versions this project was last
# tested with, for every platform (`uv pip compile --universal`): a fresh machine installs what CI
# ran, not whatever was released since. `make lock` re-resolves it from pyproject.toml.
$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x "$(UV)" || command -v "$(UV)" >/dev/null 2>&1 || { \
	  echo "uv not found: installing it into $(UV_BOOT) (pip --target; the system Python is left alone)"; \
	  $(PYTHON3) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target $(UV_BOOT) uv; }
	$(UV) venv --quiet --allow-existing --python $(PYTHON3) $(VENV)
	$(UV) pip install --quiet --compile-bytecode --python $(PY) -c constraints.txt -e '.[dev]'
	$(PY) -m compileall -q -j 0 sop_pipeline
	@touch $@

setup: $(VENV)/.installed  ## create .venv with uv and build the dbt manifest
	$(SOP) parse

run: setup  ## generate demo extracts (if data/extracts is empty) and materialize every asset into data/
	@if ls $(DATA)/extracts/items.* >/dev/null 2>&1; then echo "using existing extracts in $(DATA)/extracts"; \
	 else $(SOP) demo --size $(SOP_DEMO_SIZE) --out $(DATA)/extracts; fi
	$(SOP) run --extracts $(DATA)/extracts --data-dir $(DATA)

browser:  ## Debian's Chromium for the browser test of the meeting pack (needs root + apt)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "could not install chromium: the browser test will be skipped"; \
	  else echo "chromium not found and cannot be installed here: the browser test will be skipped"; fi; }

# Loads the code location as `dagster dev` would (assets, checks, jobs, schedule, sensors) and fails
# on the first definition error, before the slower test suite starts (~30 s on 2 busy cores).
lint: setup  ## ruff check + ruff format --check (settings in ruff.toml; also a unit test)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

validate: setup  ## dagster definitions validate: the code location loads
	$(VENV)/bin/dagster definitions validate -w workspace.yaml

# The suite runs on every core (at most 4: past that the session's shared cycles bound it) with
# pytest-xdist, one test file per work unit so a file's module fixtures are built once; the
# session's cycles are built once for all workers (tests/conftest.py). TEST_WORKERS=0: no xdist.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ "$$n" -gt 4 ] && n=4; echo $$n)
test: setup browser validate  ## validate the definitions, then run the whole test suite (unit, integration, browser)
	$(PY) -m pytest -q --durations=15 -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

ui: setup  ## Dagster UI on http://localhost:3000
	@mkdir -p $(DAGSTER_HOME) && cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME) $(VENV)/bin/dagster dev -w workspace.yaml -h 0.0.0.0 -p 3000

bench: setup  ## run the benchmarks (see benchmarks/README.md)
	$(PY) benchmarks/ingest.py --sizes small medium
	$(PY) benchmarks/safety_stock.py
	$(PY) benchmarks/sequencing.py

DOCS_PORT   ?= 8080
# docs get their own dbt target path: target/ holds the manifest and partial-parse state `sop run` uses
DOCS_TARGET ?= target/docs
docs: setup  ## dbt docs (descriptions, lineage) on http://localhost:8080 (DOCS_PORT=, DATA=, DOCS_TARGET=)
	cd dbt_project && SOP_WAREHOUSE_PATH=$(abspath $(DATA))/warehouse.duckdb \
	  ../$(VENV)/bin/dbt docs generate --profiles-dir . --target-path $(DOCS_TARGET) \
	  && ../$(VENV)/bin/dbt docs serve --profiles-dir . --target-path $(DOCS_TARGET) \
	     --host 127.0.0.1 --port $(DOCS_PORT) --no-browser

lock:  ## re-resolve constraints.txt (the tested versions of every dependency) from pyproject.toml
	@test -x "$(UV)" || command -v "$(UV)" >/dev/null 2>&1 || $(MAKE) --no-print-directory $(VENV)/.installed
	$(UV) pip compile pyproject.toml --all-extras --universal --python-version 3.11 --no-annotate --quiet \
	  --custom-compile-command "make lock" -o constraints.txt

clean:  ## remove generated data and build outputs (keeps .venv)
	rm -rf $(DATA) dbt_project/target dbt_project/logs .pytest_cache

.PHONY: help setup browser lint validate run test ui bench docs lock clean
