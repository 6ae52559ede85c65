# modelgate: every command a user or CI needs. `make run` and `make test` set everything up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
PORT ?= 3000
EVENT ?= events/generate.json
STACK ?= modelgate

.PHONY: help install run test lint format bench invoke keys-create keys-list keys-disable keys-enable usage set-key add-spare-key rotate cost clean

help:
	@echo "make run      serve the gateway at http://127.0.0.1:$(PORT) (embedded AWS, built-in model)"
	@echo "make test     run the whole test suite"
	@echo "make lint     ruff, mypy and cfn-lint"
	@echo "make bench    gateway overhead and cold-import figures"
	@echo "make invoke EVENT=events/<file>.json   one event through the handler"

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# routes.toml at the top level is used when ROUTES_FILE is not set (see routes.example.toml).
run: $(STAMP)
	$(if $(wildcard routes.toml),ROUTES_FILE=$${ROUTES_FILE:-routes.toml}) PORT=$(PORT) $(PY) -m local.server

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint template.yaml

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(PY) -m bench.overhead
	$(PY) -m bench.routing
	$(PY) -m bench.streaming

# The stack's monthly AWS cost: make cost [REQUESTS=10k,100k,1M] [SET="KeyStore=secretsmanager ..."]
REQUESTS ?= 10k,100k,1M
cost: $(STAMP)
	$(PY) -m bench.cost --requests "$(REQUESTS)" $(foreach item,$(SET),--set "$(item)") \
		$(if $(UPSTREAM_SECONDS),--upstream-seconds $(UPSTREAM_SECONDS))

invoke: $(STAMP)
	$(PY) -m local.invoke $(EVENT)

# Client keys and usage of a deployed stack (STACK, default modelgate) or of TABLE_NAME.
ADMIN := $(PY) -m lib.admin --stack $(STACK)
keys-create: $(STAMP)
	$(ADMIN) keys create --name "$(NAME)" $(if $(RPM),--rpm $(RPM)) $(if $(BURST),--burst $(BURST)) \
		$(if $(DAILY_TOKENS),--daily-tokens $(DAILY_TOKENS))

keys-list: $(STAMP)
	$(ADMIN) keys list

keys-disable: $(STAMP)
	$(ADMIN) keys disable "$(KEY_ID)"

keys-enable: $(STAMP)
	$(ADMIN) keys enable "$(KEY_ID)"

usage: $(STAMP)
	$(ADMIN) usage

# The provider key of a deployed stack: set it (hidden prompt), add a spare for the rotation pool,
# or rotate now.
set-key: $(STAMP)
	$(ADMIN) provider-key set

add-spare-key: $(STAMP)
	$(ADMIN) provider-key set --spare

rotate: $(STAMP)
	$(ADMIN) rotate

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache

# `sam build` calls these (Metadata: BuildMethod: makefile): only handler.py, lib/ and the runtime
# requirements go into the function, never tests/, local/ or dev dependencies.
build-ApiFunction build-RotationFunction:
	cp handler.py "$(ARTIFACTS_DIR)/"
	cp -r lib "$(ARTIFACTS_DIR)/lib"
	python3 -m pip install --quiet --target "$(ARTIFACTS_DIR)" --platform manylinux2014_aarch64 \
		--implementation cp --python-version 3.12 --only-binary=:all: -r requirements.txt
