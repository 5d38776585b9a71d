# The team's habits: `make run` serves the app with demo data, `make test` checks everything.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
HOST ?= 127.0.0.1
PORT ?= 8000
# Installs come from uv.lock only; uv itself is bootstrapped with pip, beside the venv's
# packages so that a sync never removes it.
UV_VERSION := 0.13.9
UV := $(VENV)/.uv/bin/uv
UV_SYNC := $(UV) sync --locked --python $(BIN)/python
export UV_PYTHON_DOWNLOADS := never

.PHONY: run manage test test-sqlite test-postgres redis-check lint fmt lock migrate seed serve bench loadtest clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --target $(VENV)/.uv "uv==$(UV_VERSION)"

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV_SYNC) --quiet
	touch $@

$(VENV)/.installed-dev: pyproject.toml uv.lock node_modules/.installed | $(UV)
	$(UV_SYNC) --quiet --extra dev
	touch $(VENV)/.installed $@

# The suite's TypeScript tools (openapi-typescript, tsc), from package-lock.json only.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# After changing pyproject.toml: lock what changed, keeping every other pin.
# `make lock LOCK_ARGS=--upgrade` moves every pin to the newest version inside the ranges.
lock: | $(UV)
	$(UV) lock --python $(BIN)/python $(LOCK_ARGS)

migrate: $(VENV)/.installed
	$(MANAGE) migrate --noinput

run: migrate
	@$(BIN)/python -c "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings.local'); django.setup(); from shop.models import Order; raise SystemExit(0 if Order.objects.exists() else 1)" \
		|| $(MANAGE) seed_demo --customers 500 --orders 5000
	$(MANAGE) ensure_admin
	@echo ""
	@echo "  Store admin:  http://$(HOST):$(PORT)/admin/  (user admin, the password above)"
	@echo "  Connection:   http://$(HOST):$(PORT)/admin/convertedin/  (add a feed token here)"
	@echo "  REST API:     http://$(HOST):$(PORT)/api/docs/  (a key: make manage ARGS=\"api_key create --name me --scopes customers.read\")"
	@echo "  Feed:         curl -X POST http://$(HOST):$(PORT)/convertedin/storeinfo -d token=YOUR_FEED_TOKEN"
	@echo "                (also /convertedin/categories, products, customers and orders, with page and per_page)"
	@echo "  Health:       http://$(HOST):$(PORT)/healthz"
	@echo "  Pushes:       sent by the worker beside the web server (Procfile). Ctrl-C stops both."
	@echo ""
	@# Ctrl-C stops honcho's processes, and only them: on a terminal honcho runs as its own job
	@# (bash -m), so make is not interrupted, and honcho's 130 or 143 after Ctrl-C is a clean stop.
	HOST=$(HOST) WEB_PORT=$(PORT) bash $$([ -t 0 ] && echo -m) -c '$(BIN)/honcho -f Procfile start; \
		status=$$?; [ $$status -eq 130 ] || [ $$status -eq 143 ] || exit $$status'

# Any management command with the project's virtualenv: make manage ARGS="seed_demo --orders 100"
manage: $(VENV)/.installed
	$(MANAGE) $(ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The whole suite on SQLite, then again on a throwaway PostgreSQL server.
test: $(VENV)/.installed-dev lint
	DJANGO_SETTINGS_MODULE=config.settings.test $(MANAGE) makemigrations --check --dry-run
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

# Each run has a throwaway Redis beside it (bin/with-redis) for the limits and the RQ worker.
WITH_REDIS := $(shell command -v redis-server >/dev/null && echo bin/with-redis)

test-sqlite: $(VENV)/.installed-dev redis-check
	@echo "== test suite on SQLite"
	env -u DATABASE_URL $(WITH_REDIS) $(BIN)/pytest $(PYTEST_ARGS)

redis-check:
	@if [ -z "$(WITH_REDIS)" ]; then \
		if [ -n "$$CI" ]; then echo "redis-server is missing: CI must install it." >&2; exit 1; fi; \
		echo "!! redis-server not found: the Redis tests are skipped. apt-get install redis-server" >&2; \
	fi

test-postgres: $(VENV)/.installed-dev redis-check
	@echo "== test suite on PostgreSQL"
	@if bin/with-postgres true 2>/dev/null; then \
		bin/with-postgres $(WITH_REDIS) $(BIN)/pytest $(PYTEST_ARGS); \
	elif [ -n "$$CI" ]; then \
		echo "PostgreSQL server binaries are missing: CI must install them." >&2; exit 1; \
	else \
		echo "" >&2; \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2; \
		echo "!! PostgreSQL server binaries (initdb, pg_ctl) not found: the suite ran on  !!" >&2; \
		echo "!! SQLite only. Install them (apt-get install postgresql) and run again.    !!" >&2; \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2; \
	fi

# Production settings under gunicorn on 127.0.0.1:8000 (HTTP: no TLS redirect locally).
serve: migrate
	$(MANAGE) collectstatic --noinput -v0
	DJANGO_SETTINGS_MODULE=config.settings.production \
	SECRET_KEY="$${SECRET_KEY:-$$(cat var/secret_key)}" \
	ALLOWED_HOSTS="$${ALLOWED_HOSTS:-127.0.0.1,localhost}" \
	SECURE_SSL_REDIRECT="$${SECURE_SSL_REDIRECT:-0}" \
	BIND="$${BIND:-$(HOST):$(PORT)}" \
	$(BIN)/gunicorn -c config/gunicorn.py config.wsgi

seed: migrate
	$(MANAGE) seed_demo

clean:
	rm -rf $(VENV) node_modules db.sqlite3 db.sqlite3-wal db.sqlite3-shm var staticfiles

# Load and fault tests: gunicorn on a throwaway PostgreSQL, loopback only, bounded in time.
loadtest: $(VENV)/.installed-dev
	bin/with-postgres $(BIN)/python -m loadtest $(ARGS)

# The feed, the admin's pages, the REST API and pushing, on SQLite and PostgreSQL.
bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench --admin --api $(ARGS)
	$(BIN)/python -m bench.bulk
	$(BIN)/python -m bench.webhooks
	$(BIN)/python -m bench.imports --orders 100000 --postgres --push-off
	$(BIN)/python -m bench.history
	bin/with-postgres $(BIN)/python -m bench.history
