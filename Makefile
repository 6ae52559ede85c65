# modelgate: every command a user or CI needs. `make run` and `make test` set everything up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
PORT ?= 3000
EVENT ?= events/generate.json
STACK ?= modelgate

.PHONY: help install run test lint format bench openapi fuzz load invoke keys-create keys-list keys-disable keys-enable usage set-key add-spare-key rotate cost clean

help: ## list every target
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

# The first run installs into .venv (about two minutes): pip shows each package as it goes.
$(STAMP): requirements.txt requirements-dev.txt
	@echo "modelgate: installing the dependencies into $(VENV) (first run only; about two minutes)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@
	@echo "modelgate: dependencies installed"

install: $(STAMP) ## create .venv with every dependency (the other targets do it themselves)

# routes.toml at the top level is used when ROUTES_FILE is not set (see routes.example.toml).
# JSON_LOGS=1 prints the JSON log lines and EMF metrics as Lambda writes them.
run: $(STAMP) ## serve the gateway at http://127.0.0.1:3000 (PORT=...); JSON_LOGS=1 for Lambda's JSON lines
	$(if $(wildcard routes.toml),ROUTES_FILE=$${ROUTES_FILE:-routes.toml}) PORT=$(PORT) $(PY) -m local.server \
		--run-env $(RUN_ENV) $(if $(JSON_LOGS),--json-logs)

test: $(STAMP) ## run the whole test suite (PYTEST_ARGS=... passes options to pytest)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff, ruff format --check, mypy, cfn-lint and pip-audit of requirements.txt
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint template.yaml
	$(PY) -m tools.audit

format: $(STAMP) ## ruff format and autofix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP) ## the gateway's own time per request, routing and streaming figures, AWS calls, cold import
	$(PY) -m bench.overhead
	$(PY) -m bench.routing
	$(PY) -m bench.streaming

# lib/openapi.json, which GET /openapi.json serves (a test fails when it is stale).
openapi: $(STAMP) ## write lib/openapi.json (GET /openapi.json) after changing a route
	$(PY) -m tools.openapi

# The suite's property tests with FUZZ_EXAMPLES random examples each, then schemathesis against the
# `make run` server for FUZZ_SECONDS, from its GET /openapi.json.
FUZZ_EXAMPLES ?= 2000
FUZZ_SECONDS ?= 120
fuzz: $(STAMP) ## long property tests, then schemathesis against make run (FUZZ_EXAMPLES, FUZZ_SECONDS)
	FUZZ_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/fuzz -q -p no:logging
	$(PY) -m bench.schemathesis_run --seconds $(FUZZ_SECONDS)

# Concurrent clients against the `make run` server for LOAD_SECONDS (at most LOAD_REQUESTS), then the
# usage check: what the table recorded equals the usage in the replies. URL=... drives a running one.
LOAD_SECONDS ?= 20
LOAD_CLIENTS ?= 8
LOAD_REQUESTS ?= 5000
load: $(STAMP) ## concurrent clients against make run, then the usage check (LOAD_SECONDS, LOAD_CLIENTS)
	$(PY) -m bench.load --seconds $(LOAD_SECONDS) --clients $(LOAD_CLIENTS) --requests $(LOAD_REQUESTS) \
		$(if $(URL),--url $(URL))

# The stack's monthly AWS cost: make cost [REQUESTS=10k,100k,1M] [SET="KeyStore=secretsmanager ..."] [CACHEABLE_SHARE=1]
REQUESTS ?= 10k,100k,1M
cost: $(STAMP) ## monthly AWS cost of the stack: REQUESTS=10k,100k,1M SET="KeyStore=secretsmanager ..."
	$(PY) -m bench.cost --requests "$(REQUESTS)" $(foreach item,$(SET),--set "$(item)") \
		$(if $(UPSTREAM_SECONDS),--upstream-seconds $(UPSTREAM_SECONDS)) \
		$(if $(CACHEABLE_SHARE),--cacheable-share $(CACHEABLE_SHARE))

invoke: $(STAMP) ## one event through the handler: EVENT=events/<file>.json
	$(PY) -m local.invoke $(EVENT)

# Client keys and usage of a deployed stack (STACK, default modelgate) or of TABLE_NAME. While
# `make run` serves, it writes its table's settings to $(RUN_ENV), and these act on that local
# table unless STACK=... is given.
RUN_ENV ?= .make-run.env
LOCAL_ADMIN_ENV = $(if $(and $(wildcard $(RUN_ENV)),$(filter file,$(origin STACK))),env $$(cat $(RUN_ENV)))
ADMIN := $(PY) -m lib.admin --stack $(STACK)
keys-create: $(STAMP) ## create a client key, printed once: NAME=... [RPM= BURST= DAILY_TOKENS=]
	$(LOCAL_ADMIN_ENV) $(ADMIN) keys create --name "$(NAME)" $(if $(RPM),--rpm $(RPM)) \
		$(if $(BURST),--burst $(BURST)) $(if $(DAILY_TOKENS),--daily-tokens $(DAILY_TOKENS))

keys-list: $(STAMP) ## list client keys (ids, names, limits; never the keys)
	$(LOCAL_ADMIN_ENV) $(ADMIN) keys list

keys-disable: $(STAMP) ## disable a client key: KEY_ID=key_...
	$(LOCAL_ADMIN_ENV) $(ADMIN) keys disable "$(KEY_ID)"

keys-enable: $(STAMP) ## enable a client key again: KEY_ID=key_...
	$(LOCAL_ADMIN_ENV) $(ADMIN) keys enable "$(KEY_ID)"

usage: $(STAMP) ## today's and this month's tokens and cost per caller
	$(LOCAL_ADMIN_ENV) $(ADMIN) usage

# The provider key of a deployed stack: set it (hidden prompt), add a spare for the rotation pool,
# or rotate now.
set-key: $(STAMP) ## store the provider key of STACK (hidden prompt, or piped in)
	$(ADMIN) provider-key set

add-spare-key: $(STAMP) ## add a spare provider key to STACK's rotation pool
	$(ADMIN) provider-key set --spare

rotate: $(STAMP) ## rotate STACK's provider key now
	$(ADMIN) rotate

clean: ## remove .venv and the tool caches
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache

# `sam build` calls these (Metadata: BuildMethod: makefile): only handler.py, lib/ and the runtime
# requirements go into the function, never tests/, local/ or dev dependencies.
build-ApiFunction build-RotationFunction:
	cp handler.py "$(ARTIFACTS_DIR)/"
	cp -r lib "$(ARTIFACTS_DIR)/lib"
	python3 -m pip install --quiet --target "$(ARTIFACTS_DIR)" --platform manylinux2014_aarch64 \
		--implementation cp --python-version 3.12 --only-binary=:all: -r requirements.txt
