# The two commands a newcomer needs: `make run` and `make test`.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed

# PostgreSQL for the second pass of the suite (growth mode); override freely.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bridge
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test test-sqlite test-postgres lint venv

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

## Run the bridge on the embedded default with a demo account.
run: $(STAMP)
	$(PY) manage.py demo

## Run every test: once on SQLite, once on PostgreSQL with Redis.
test: $(STAMP)
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite: $(STAMP)
	BRIDGE_DATA_DIR=$(CURDIR)/.test-data/sqlite $(PY) -m pytest $(PYTEST_ARGS)

test-postgres: $(STAMP)
	@if $(PY) tests/services_up.py "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)"; then \
		BRIDGE_DATA_DIR=$(CURDIR)/.test-data/postgres \
		DATABASE_URL=$(TEST_DATABASE_URL) BRIDGE_TEST_REDIS_URL=$(TEST_REDIS_URL) \
		$(PY) -m pytest $(PYTEST_ARGS); \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL or Redis is not reachable; CI needs both"; exit 1; \
	else \
		echo "Skipping the PostgreSQL pass: PostgreSQL or Redis is not reachable"; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
