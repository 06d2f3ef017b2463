# BankSight: `make run` and `make test` do all the set-up on a fresh machine with Python 3.11.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
BOOTSTRAP_VERSION := 5.3.9
VENDOR := static/vendor/bootstrap

.PHONY: run test lint format install vendor stop clean

run: install ## web + worker + beat with private PostgreSQL and Redis; Ctrl-C stops all
	$(PY) -m banksight.runner

test: install ## lint, then the whole suite against real PostgreSQL, Redis and a Celery worker
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

install: $(INSTALLED) vendor

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "BankSight needs Python 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(INSTALLED): $(PY) requirements/base.txt requirements/dev.txt
	$(PY) -m pip install --quiet -r requirements/dev.txt
	touch $@

# Bootstrap is vendored from the npm registry at setup time; nothing loads from a CDN.
vendor: $(VENDOR)/bootstrap.min.css

$(VENDOR)/bootstrap.min.css:
	@mkdir -p $(VENDOR)
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  (cd "$$tmp" && npm pack --silent bootstrap@$(BOOTSTRAP_VERSION) >/dev/null && tar -xzf bootstrap-$(BOOTSTRAP_VERSION).tgz) && \
	  cp "$$tmp"/package/dist/js/bootstrap.bundle.min.js{,.map} $(VENDOR)/ && \
	  cp "$$tmp"/package/dist/css/bootstrap.min.css{,.map} $(VENDOR)/ && \
	  cp "$$tmp/package/LICENSE" $(VENDOR)/LICENSE

stop: ## stop private servers left running by a killed `make run`
	$(PY) -c 'from banksight import localservices; localservices.stop_all()'

clean: stop
	rm -rf $(VENV) .var staticfiles $(VENDOR)
