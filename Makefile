# RKH Photo Orders — the two commands: `make run` and `make test`.
# Python packages come from uv.lock only (uv sync --frozen), so every install is the same.

PYTHON      ?= python3
UV_VERSION  := 0.13.8
TOOLS       := var/tools
UV          := $(TOOLS)/bin/uv
VENV        := .venv
BIN         := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

# make run: web (HTTP + WebSocket) on 127.0.0.1:56789 unless PORT / BIND say otherwise.
PORT        ?= 56789
BIND        ?= 127.0.0.1
# Tests run against real PostgreSQL; Redis is REDIS_URL, or a private Valkey of the test run's
# own (started for it and stopped after it: a test run leaves no server behind).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/rkh
# The suite runs in this many processes (pytest-xdist; each its own PostgreSQL and Redis
# database): much of it waits on browsers, workers and sockets, so 2 pay off even on 2 cores.
TEST_WORKERS ?= 2
# The drills kill real workers and Redis and time the recovery against a bound (60 s): they
# run after the rest, alone, as a benchmark would (sharing the two cores with the other tests
# tripled their recovery times, 21 s alone became 63 s).
DRILLS := tests/drills

.PHONY: run test lint format venv venv-dev migrate seed check-deploy clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

# Front-end packages (Chart.js; ESLint for `make test`) from package-lock.json only; npm writes
# this file on every install, so it is the stamp: `npm ci` runs again only when the lock file changes.
NODE_MODULES := node_modules/.package-lock.json
$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# --inexact: `make run` (or check-deploy) after `make test` leaves the dev tools installed, so a
# later `make test` or a test run in another terminal does not find pytest gone.
venv: $(UV) $(NODE_MODULES)
	$(UV) sync --frozen --no-dev --inexact

venv-dev: $(UV) $(NODE_MODULES)
	$(UV) sync --frozen

run: venv
	@mkdir -p var
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	@echo "RKH Photo Orders on http://$(BIND):$(PORT)/"
	PATH="$(CURDIR)/$(BIN):$$PATH" DEBUG=$${DEBUG:-1} RKH_PORT=$(PORT) RKH_BIND=$(BIND) \
		$(BIN)/python -m rkh_site.procs start -f Procfile $$( [ -z "$$REDIS_URL" ] && echo redis ) web worker worker-ai beat \
		$$( [ -n "$$HOT_FOLDER" ] && echo hotfolder ) \
		$$( [ -z "$$RUNWARE_API_KEY" ] && echo runware-sim ) \
		$$( [ -z "$$GEMINI_API_KEY" ] && echo gemini-sim ) \
		$$( [ -z "$$PMR_BASE_URL" ] && echo pmr-sim )

lint: venv-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	node_modules/.bin/eslint .

format: venv-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: venv-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	node_modules/.bin/eslint .
	DEBUG=1 DATABASE_URL=sqlite:///:memory: $(BIN)/python manage.py makemigrations --check --dry-run
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
		$(BIN)/python -m rkh_site.embedded_redis --wrap -- \
		$(BIN)/pytest -n $(TEST_WORKERS) --ignore=$(DRILLS) $(PYTEST_ARGS)
	$(if $(strip $(PYTEST_ARGS)),@echo "PYTEST_ARGS given: the drills are left out",\
		DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
		$(BIN)/python -m rkh_site.embedded_redis --wrap -- $(BIN)/pytest -p no:xdist $(DRILLS))

# Production settings with made-up secrets of the right kind: demo or empty PMR secrets and
# a missing EMAIL_URL are refused (rkh_site/checks.py), so a real deployment sets its own.
TOKEN := $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(48))'
FERNET_KEY := $(BIN)/python -c 'from utilities.config import new_fernet_key; print(new_fernet_key())'
check-deploy: venv
	DEBUG=0 SECRET_KEY=$$($(TOKEN)) PMR_CLIENT_SECRET=$$($(TOKEN)) PMR_API_KEY=$$($(TOKEN)) \
		PMR_WEBHOOK_SECRET=$$($(TOKEN)) METRICS_TOKEN=$$($(TOKEN)) ALLOWED_HOSTS=photos.example.com \
		EMAIL_URL=smtp+tls://studio:$$($(TOKEN))@smtp.example.com:587 \
		FIELD_ENCRYPTION_KEYS=$$($(FERNET_KEY)) FIELD_HASH_KEY=$$($(TOKEN)) \
		$(BIN)/python manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) $(TOOLS) staticfiles node_modules
