# The README's commands. `make run` serves the demo; `make test` is what CI runs.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
# Some machines' pip configuration names local indexes that do not exist; pip warns per package.
PIP_QUIET := { grep -v '^WARNING: Location' || true; }
.DEFAULT_GOAL := help

# Python 3.12: on PATH, or a pyenv install the shim doesn't expose.
PYTHON ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install messages run test test-suite lint format migrations-check pytest pytest-sqlite browser-deps bench clean

help:
	@echo "make run    - install, migrate, load demo data and serve on http://127.0.0.1:$(PORT) with a worker and scheduler"
	@echo "make test   - lint, migrations check and the whole suite (PostgreSQL, Redis, Chromium)"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - benchmark scenarios in bench/"

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.12 is required (python3.12 not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | $(PIP_QUIET)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]' 2>&1 | $(PIP_QUIET)
	@touch $@

install: $(VENV)/.installed

# Catalogs are compiled in the build, never committed.
messages: install
	@command -v msgfmt >/dev/null || { echo "installing gettext"; $(call apt_install,gettext); }
	@$(BIN)/python manage.py compilemessages -v 0 --ignore '.venv/*'

run: install messages
	@mkdir -p var
	$(BIN)/python manage.py migrate --noinput -v 0
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py seed_demo_messages
	$(BIN)/python manage.py seed_demo_campaigns
	$(BIN)/python manage.py rundemo --port $(PORT)

# Lint, migrations check and the suite on PostgreSQL and Redis (see .ci/services.sh for where
# they come from), plus the browser tests in the system's Chromium.
test: install messages browser-deps
	bash .ci/services.sh $(MAKE) --no-print-directory test-suite

test-suite: lint migrations-check pytest pytest-sqlite

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy accounts/services.py accounts/selectors.py accounts/api members/services members/selectors members/loyalty.py members/events.py members/api scrm/exceptions.py scrm/shells.py scrm/api_exceptions.py scrm/api_schema.py scrm/bulk.py scrm/lookups.py

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrations-check: install
	DJANGO_SETTINGS_MODULE=scrm.settings.test $(BIN)/python manage.py makemigrations --check --dry-run

pytest: install
	$(BIN)/pytest $(PYTEST_ARGS)

# The demo's embedded database takes its own code paths (no COPY, no row locks): the tests marked
# "sqlite" run on it too.
pytest-sqlite: install
	SCRM_TEST_ALLOW_SQLITE=1 DATABASE_URL=sqlite:///:memory: REDIS_URL= \
	  $(BIN)/pytest -m sqlite -q -p no:cacheprovider $(PYTEST_ARGS)

define apt_install
	if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; \
	else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; fi
endef

browser-deps:
	@command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || { echo "installing chromium and fonts-noto-cjk"; $(call apt_install,chromium fonts-noto-cjk); }

bench: install
	bash .ci/services.sh $(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .mypy_cache .ruff_cache
