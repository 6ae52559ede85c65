# modelgate: every command a user or CI needs. `make run` and `make test` set everything up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
PORT ?= 3000
EVENT ?= events/generate.json
STACK ?= modelgate
# The functions' runtime (template.yaml: python3.12): `make package` compiles their bytecode with it, and
# `make bench` and `make smoke` run the artifact on it. Found on the PATH, through pyenv or through uv
# (deploy/lambda_python.sh, once, when a target needs it), or named: LAMBDA_PYTHON=/path/to/python3.12.
ifndef LAMBDA_PYTHON
LAMBDA_PYTHON = $(eval LAMBDA_PYTHON := $(shell deploy/lambda_python.sh "make $(or $(MAKECMDGOALS),package)"))$(LAMBDA_PYTHON)
endif
PACKAGE_DIR ?= build/function
# A Python of the functions' runtime with what Lambda's Python runtime provides besides the artifact:
# boto3 and the runtime interface client (awslambdaric), for the cold-import bench and `make smoke`.
LAMBDA_VENV ?= .venv-lambda
BOTO3_PIN := $(shell grep -E '^boto3==' requirements-dev.txt)
RIC_PIN := $(shell grep -oE '^awslambdaric==[^ ]+' requirements-dev.txt)
SAM ?= sam
# routes.toml goes into the function package; the guided deploy offers it as RoutesFile (and runs again
# when routes.toml appears after the answers were saved without it).
ROUTES_OVERRIDE := $(if $(wildcard routes.toml),--parameter-overrides RoutesFile=routes.toml)

.PHONY: help install run test lint format bench openapi fuzz load compat invoke keys-create keys-list keys-disable keys-enable usage set-key add-spare-key rotate cost clean package smoke deploy

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

# routes.toml at the top level is used when ROUTES_FILE is not set (see routes.example.toml);
# `ROUTES_FILE= make run` runs without it.
# JSON_LOGS=1 prints the JSON log lines and EMF metrics as Lambda writes them.
run: $(STAMP) ## serve the gateway at http://127.0.0.1:3000 (PORT=...); JSON_LOGS=1 for Lambda's JSON lines
	$(if $(wildcard routes.toml),ROUTES_FILE=$${ROUTES_FILE-routes.toml}) PORT=$(PORT) $(PY) -m local.server \
		--run-env $(RUN_ENV) $(if $(JSON_LOGS),--json-logs)

# The suite runs in TEST_WORKERS processes (pytest-xdist): most tests wait on loopback servers, so even
# two cores keep four busy. TEST_WORKERS=0 runs it in one process. Only the plugins it uses are loaded:
# each other one installed (schemathesis, anyio) costs every worker its import, and pytest rewrites the
# asserts of a plugin's whole distribution (hypothesis included): 1.6 s of CPU a process, before any test.
TEST_WORKERS ?= 4
TEST_PLUGINS := --disable-plugin-autoload -p xdist.plugin -p pytest_socket -p _hypothesis_pytestplugin
test: $(STAMP) ## run the whole test suite (TEST_WORKERS=4, PYTEST_ARGS=... passes options to pytest)
	$(PY) -m pytest $(TEST_PLUGINS) -n $(TEST_WORKERS) --dist loadscope --ignore=tests/smoke $(PYTEST_ARGS)

lint: $(STAMP) ## ruff, ruff format --check, mypy, import-linter (the layers), cfn-lint, pip-audit
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/cfn-lint template.yaml
	$(PY) -m tools.audit

format: $(STAMP) ## ruff format and autofix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP) package $(LAMBDA_VENV)/.runtime ## the gateway's own time per request, routing and streaming figures, AWS calls, cold import of the built function
	$(PY) -m bench.overhead
	$(PY) -m bench.routing
	$(PY) -m bench.streaming
	$(PY) -m bench.cold_import --artifact $(PACKAGE_DIR) --python $(LAMBDA_VENV)/bin/python

$(LAMBDA_VENV)/.runtime: requirements-dev.txt
	@test -n "$(LAMBDA_PYTHON)" || exit 2
	rm -rf $(LAMBDA_VENV) && $(LAMBDA_PYTHON) -m venv $(LAMBDA_VENV)
	$(LAMBDA_VENV)/bin/python -m pip install --quiet --disable-pip-version-check "$(BOTO3_PIN)" "$(RIC_PIN)"
	@touch $@

# lib/http/openapi.json, which GET /openapi.json serves (a test fails when it is stale).
openapi: $(STAMP) ## write lib/http/openapi.json (GET /openapi.json) after changing a route
	$(PY) -m tools.openapi

# The suite's property tests with FUZZ_EXAMPLES random examples each, then schemathesis against the
# `make run` server for FUZZ_SECONDS, from its GET /openapi.json.
FUZZ_EXAMPLES ?= 2000
FUZZ_SECONDS ?= 120
fuzz: $(STAMP) ## long property tests, then schemathesis against make run (FUZZ_EXAMPLES, FUZZ_SECONDS)
	FUZZ_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/fuzz -q -p no:logging
	$(PY) -m bench.schemathesis_run --seconds $(FUZZ_SECONDS)

# Clients' own test suites (LangChain's standard tests for ChatOpenAI, OpenAIEmbeddings and ChatAnthropic)
# and OpenAI Agents SDK scenarios against a capable loopback model, directly and through the gateway;
# prints each class's counts and fails when a test passes directly and not through it (unless marked as
# a known bug). Its own venv: those suites bring pytest plugins that must not load into `make test`.
COMPAT_VENV ?= .venv-compat
$(COMPAT_VENV)/.installed: requirements-compat.txt requirements-dev.txt requirements.txt
	@test -x $(COMPAT_VENV)/bin/python || $(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/python -m pip install --disable-pip-version-check -r requirements-compat.txt
	@touch $@
compat: $(COMPAT_VENV)/.installed ## LangChain's standard tests (ChatOpenAI, OpenAIEmbeddings, ChatAnthropic) and the OpenAI Agents SDK, directly and through the gateway (docs/reliability.md)
	$(COMPAT_VENV)/bin/python -m pytest compat -q -o asyncio_mode=auto -o asyncio_default_test_loop_scope=session \
		-o asyncio_default_fixture_loop_scope=session $(PYTEST_ARGS)

# Concurrent clients against the `make run` server for LOAD_SECONDS (at most LOAD_REQUESTS), then the
# usage check: what the table recorded equals the usage in the replies. URL=... drives a running one.
LOAD_SECONDS ?= 20
LOAD_CLIENTS ?= 8
LOAD_REQUESTS ?= 5000
load: $(STAMP) ## concurrent clients against make run, then the usage check (LOAD_SECONDS, LOAD_CLIENTS)
	$(PY) -m bench.load --seconds $(LOAD_SECONDS) --clients $(LOAD_CLIENTS) --requests $(LOAD_REQUESTS) \
		$(if $(URL),--url $(URL))

# The stack's monthly AWS cost: make cost [REQUESTS=10k,100k,1M] [SET="KeyStore=secretsmanager ..."] [CACHEABLE_SHARE=1]
# [STREAM_SHARE=0.5] (with EnableStreaming=true) [WITH="feature,feature"] (bench/measure.py's OPTIONAL_FEATURES)
REQUESTS ?= 10k,100k,1M
comma := ,
COST_OPTIONS = $(foreach item,$(SET),--set "$(item)") $(if $(UPSTREAM_SECONDS),--upstream-seconds $(UPSTREAM_SECONDS)) \
	$(if $(CACHEABLE_SHARE),--cacheable-share $(CACHEABLE_SHARE)) $(if $(STREAM_SHARE),--stream-share $(STREAM_SHARE)) \
	$(if $(WITH),--with "$(subst $(comma),"  --with ",$(WITH))")
cost: $(STAMP) ## monthly AWS cost of the stack: REQUESTS=10k,100k,1M SET="KeyStore=secretsmanager ..."
	$(PY) -m bench.cost --requests "$(REQUESTS)" $(strip $(COST_OPTIONS))

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

clean: ## remove .venv, .venv-lambda, .venv-compat, the build and the tool caches
	rm -rf $(VENV) $(LAMBDA_VENV) $(COMPAT_VENV) .aws-sam build .pytest_cache .mypy_cache .ruff_cache

# ---- Packaging and deploying ----
# The functions' artifact (deploy/package.py): handler.py, lib/ and the runtime requirements, with
# bytecode for the runtime's Python; rebuilt only when something that goes into it changed.
PACKAGE_INPUTS := handler.py requirements.txt template.yaml deploy/package.py $(wildcard routes.toml) \
	$(shell find lib -type f -not -path '*/__pycache__/*' -not -name '*.pyc')
$(PACKAGE_DIR).zip: $(PACKAGE_INPUTS)
	@test -n "$(LAMBDA_PYTHON)" || exit 2
	$(LAMBDA_PYTHON) -m deploy.package --out $(PACKAGE_DIR) --zip $@ --quiet

# The same artifact sam build deploys, for other deployment tools: a folder and a zip. No SAM needed.
package: $(PACKAGE_DIR).zip ## the functions' artifact without SAM (build/function and its zip), with its size
	@$(LAMBDA_PYTHON) -m deploy.package --out $(PACKAGE_DIR) --zip $< --report

# The built artifact run as Lambda runs it (tests/smoke/): each function under awslambdaric on Python
# 3.12 with only boto3 beside it, against a loopback Runtime API, with the template's environment and
# DynamoDB, SSM and Secrets Manager on a moto server that enforces the template's IAM actions; the
# streaming function's run.sh as the Web Adapter starts it. About a minute; CI runs it.
smoke: $(STAMP) $(PACKAGE_DIR).zip $(LAMBDA_VENV)/.runtime ## the built functions run as Lambda runs them (awslambdaric, IAM enforced)
	SMOKE_ARTIFACT=$(PACKAGE_DIR) SMOKE_PYTHON=$(LAMBDA_VENV)/bin/python $(PY) -m pytest tests/smoke -p no:xdist -q

# `sam build` calls these (Metadata: BuildMethod: makefile, in this folder): both functions get the
# artifact above, built once.
build-ApiFunction build-StreamFunction build-RotationFunction: $(PACKAGE_DIR).zip
	cp -R $(PACKAGE_DIR)/. "$(ARTIFACTS_DIR)"

# Build and deploy STACK: guided the first time (it saves the answers in samconfig.toml, under the
# stack's name), from the saved answers after. Needs the SAM CLI and AWS credentials and a region, both
# checked before the first question (deploy/preflight.py; docs/deploying.md: in five steps).
deploy: $(STAMP) ## build and deploy STACK: guided the first time, from the saved answers after
	@command -v $(SAM) >/dev/null || { echo "make deploy: needs the AWS SAM CLI (docs/deploying.md: Deploy in five steps)"; exit 2; }
	@$(PY) -m deploy.preflight
	$(SAM) build
	@if grep -qs '^\[$(STACK)\.deploy' samconfig.toml && { [ ! -f routes.toml ] || grep -qs RoutesFile samconfig.toml; }; then \
		echo "$(SAM) deploy --config-env $(STACK)   (the answers saved in samconfig.toml)"; \
		$(SAM) deploy --config-env $(STACK); \
	else \
		$(SAM) deploy --guided --stack-name $(STACK) --config-env $(STACK) $(ROUTES_OVERRIDE); \
	fi
