# sop-pipeline: `make run` (demo data -> every asset -> data/) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
SOP       := $(VENV)/bin/sop
UV        := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
SOP_DEMO_SIZE ?= small
DATA      ?= data
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export DAGSTER_HOME ?= $(CURDIR)/$(DATA)/dagster_home

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) venv --quiet --allow-existing --python 3.11 $(VENV)
	$(UV) pip install --quiet --python $(PY) -e '.[dev]'
	@touch $@

setup: $(VENV)/.installed  ## create .venv with uv and build the dbt manifest
	$(SOP) parse

run: setup  ## generate demo extracts (if data/extracts is empty) and materialize every asset into data/
	@if ls $(DATA)/extracts/items.* >/dev/null 2>&1; then echo "using existing extracts in $(DATA)/extracts"; \
	 else $(SOP) demo --size $(SOP_DEMO_SIZE) --out $(DATA)/extracts; fi
	$(SOP) run --extracts $(DATA)/extracts --data-dir $(DATA)

test: setup  ## run the whole test suite (unit, integration, browser)
	$(PY) -m pytest -q

ui: setup  ## Dagster UI on http://localhost:3000
	@mkdir -p $(DAGSTER_HOME) && cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster dev -w workspace.yaml -h 0.0.0.0 -p 3000

bench: setup  ## run the benchmarks (see benchmarks/README.md)
	$(PY) benchmarks/ingest.py

clean:  ## remove generated data and build outputs (keeps .venv)
	rm -rf $(DATA) dbt_project/target dbt_project/logs .pytest_cache

.PHONY: help setup run test ui bench clean
