# BankSight: `make run` and `make test` do all the set-up on a fresh machine with Python 3.11.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
BOOTSTRAP_VERSION := 5.3.9
VENDOR := static/vendor/bootstrap

.PHONY: run test test-vllm lint format install vendor browser stop clean

run: install ## web + worker + beat with private PostgreSQL and Redis; Ctrl-C stops all
	$(PY) -m banksight.runner

test: install browser ## lint, then the whole suite against real PostgreSQL, Redis and a Celery worker
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

# Not part of `make test`: vLLM's OpenAI server (CPU build, own venv under .var/) serving the
# development model, and the sidecar contract tests against it. Several minutes, ~4 GB.
test-vllm: install
	bash .ci/vllm/run.sh

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

# llama-cpp-python compiles llama.cpp on a machine without its wheel in pip's cache:
# CPU only, no tools or examples, two jobs (see requirements/local-model.txt).
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=ON -DGGML_CUDA=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF \
	-DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF

$(INSTALLED): $(PY) requirements/base.txt requirements/dev.txt requirements/local-model.txt
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 \
	  $(PY) -m pip install --quiet -r requirements/dev.txt
	touch $@

# Debian's Chromium for tests/browser (Playwright drives it; it never downloads a browser).
# Without it (no root, no apt) those tests are skipped with the reason, the rest still run.
browser:
	@test -x /usr/bin/chromium || { \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium; \
	} || echo "make browser: could not install chromium; the browser tests will be skipped"

# Bootstrap is vendored from the npm registry at setup time; nothing loads from a CDN.
vendor: $(VENDOR)/bootstrap.min.css

$(VENDOR)/bootstrap.min.css:
	@mkdir -p $(VENDOR)
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  (cd "$$tmp" && npm pack --silent bootstrap@$(BOOTSTRAP_VERSION) >/dev/null && tar -xzf bootstrap-$(BOOTSTRAP_VERSION).tgz) && \
	  cp "$$tmp"/package/dist/js/bootstrap.bundle.min.js{,.map} $(VENDOR)/ && \
	  cp "$$tmp"/package/dist/css/bootstrap.min.css{,.map} $(VENDOR)/ && \
	  cp "$$tmp/package/LICENSE" $(VENDOR)/LICENSE

stop: ## stop private servers (database, Redis, model servers) left running by a killed run
	$(PY) -c 'from banksight import localservices, modelserver; localservices.stop_all(); modelserver.stop_all()'

clean: stop
	rm -rf $(VENV) .var staticfiles $(VENDOR)
