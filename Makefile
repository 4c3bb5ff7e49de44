# fleetform: every target sources scripts/env.sh, the one place that fixes paths and offline defaults.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ENV := source scripts/env.sh &&
PYTHON := .venv/bin/python
STACK ?= dev

.PHONY: demo test bootstrap fleet fleet-down lint unit preview up destroy promote

## make demo: set everything up and deploy the sample app to the embedded local fleet
demo: bootstrap fleet
	$(ENV) scripts/demo $(STACK)

## make test: set everything up and run the whole test suite (unit, components, fleet, e2e) and lint
test: bootstrap fleet lint
	$(ENV) scripts/test

bootstrap:
	scripts/bootstrap

fleet:
	$(ENV) scripts/fleet up

fleet-down:
	$(ENV) scripts/fleet down

lint:
	$(ENV) $(PYTHON) -m ruff check components tests __main__.py
	$(ENV) $(PYTHON) -m ruff format --check components tests __main__.py
	$(ENV) $(PYTHON) -m mypy --strict components/config components/plan components/errors.py \
	  components/promotion.py components/docker_scripts components/known_hosts.py \
	  components/stack_files.py components/stack_config.py components/host_key_check.py \
	  components/day2 components/proxy_scripts.py components/interrupt.py components/accessory_uploads.py components/proxy_files.py

unit:
	$(ENV) $(PYTHON) -m pytest -q tests/unit tests/components

preview up destroy:
	$(ENV) scripts/stack $(STACK) $@

## make promote: preview production with staging's exact digests, show the diff, then deploy
promote:
	$(ENV) scripts/promote production
