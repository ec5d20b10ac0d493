# hoso: `make run` serves the app on SQLite; `make test` runs the whole suite on SQLite and PostgreSQL.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HOSO_DATABASE_URL ?= sqlite:///var/hoso.sqlite3

.PHONY: run test lock compile-locks lock-check lint typecheck check clean bench soak browser failover screenshots messages

# Every dependency, runtime and dev, comes from the hashed locks in requirements/ (`make lock`
# writes them from pyproject.toml's ranges): run.txt for `make run`, dev.txt (a superset, same
# versions) for `make test`, tools.txt for the installer. uv installs exactly the locked set
# (`pip sync`: nothing newer, nothing unlisted) into a venv of the machine's own Python.
LOCK := requirements
UV := $(BIN)/uv
UV_SYNC := $(UV) pip sync --quiet --python $(BIN)/python --require-hashes
UV_EDITABLE := $(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
export UV_PYTHON_DOWNLOADS := never

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): $(LOCK)/tools.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
		-r $(LOCK)/tools.txt
	touch $@

# hoso itself is installed editable and without its dependencies (they are the lock's).
$(VENV)/.installed: $(LOCK)/run.txt pyproject.toml | $(UV)
	$(UV_SYNC) $(LOCK)/run.txt
	$(UV_EDITABLE)
	rm -f $(VENV)/.installed-dev
	touch $@

$(VENV)/.installed-dev: $(LOCK)/dev.txt pyproject.toml | $(UV)
	$(UV_SYNC) $(LOCK)/dev.txt
	$(UV_EDITABLE)
	touch $@ $(VENV)/.installed

# Re-resolve the locks on purpose: after a change to the ranges in pyproject.toml, or to take
# newer releases (`make lock UPGRADE=1`). Review the diff, run `make test`, commit the three files.
UV_COMPILE := $(UV) pip compile --quiet --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)
lock: | $(UV)
	$(MAKE) --no-print-directory compile-locks

compile-locks:
	$(UV_COMPILE) pyproject.toml $(LOCK)/tools.in --extra dev -o $(LOCK)/dev.txt
	$(UV_COMPILE) pyproject.toml $(LOCK)/tools.in -c $(LOCK)/dev.txt -o $(LOCK)/run.txt
	$(UV_COMPILE) $(LOCK)/tools.in -c $(LOCK)/dev.txt -o $(LOCK)/tools.txt

# Fails when the locks no longer say what pyproject.toml asks for: the locks are compiled again
# in a scratch copy (keeping their pins as preferences) and must come out byte for byte the same.
lock-check: | $(UV)
	@scratch=$$(mktemp -d) && trap 'rm -rf "$$scratch"' EXIT && \
	cp -r pyproject.toml $(LOCK) "$$scratch"/ && \
	$(MAKE) --no-print-directory -s -f $(CURDIR)/Makefile -C "$$scratch" compile-locks UV=$(CURDIR)/$(UV) && \
	if diff -ru $(LOCK) "$$scratch"/$(LOCK); then echo "lock: requirements/ matches pyproject.toml"; \
	else echo "lock: requirements/ is out of date with pyproject.toml: run make lock" >&2; exit 1; fi

run: $(VENV)/.installed
	$(BIN)/hoso migrate
	$(BIN)/hoso demo --if-empty
	$(BIN)/hoso serve --host 127.0.0.1 --port 8000

# The browser tests (tests/browser) drive Debian's Chromium through Playwright and decode the
# receipt's QR code with zbarimg: installed here when missing, as root (CI, these machines).
# Where that cannot be done they skip with the reason, or fail under CI=true.
BROWSER_PACKAGES := chromium zbar-tools
browser:
	@if [ -x /usr/bin/chromium ] && command -v zbarimg >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's $(BROWSER_PACKAGES) for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    $(BROWSER_PACKAGES) >/dev/null || echo "could not install $(BROWSER_PACKAGES)"; \
	else echo "browser tests: install Debian's $(BROWSER_PACKAGES) to run them"; fi

# The failover tests (tests/reliability/test_failover.py) run a real pg_auto_failover cluster
# (monitor, primary, synchronous standby): Debian's packages, installed the same way.
FAILOVER_PACKAGES := postgresql-15-auto-failover pg-auto-failover-cli
failover:
	@if command -v pg_autoctl >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's $(FAILOVER_PACKAGES) for the failover tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    $(FAILOVER_PACKAGES) >/dev/null || echo "could not install $(FAILOVER_PACKAGES)"; \
	else echo "failover tests: install Debian's $(FAILOVER_PACKAGES) to run them"; fi

test: $(VENV)/.installed-dev browser failover lock-check
	$(BIN)/pytest -n 2 --dist loadfile -q

# The browser tests alone, copying the README's screenshots to docs/screenshots/.
screenshots: $(VENV)/.installed-dev browser
	HOSO_UPDATE_SCREENSHOTS=1 $(BIN)/pytest -q -p no:cacheprovider tests/browser

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache *.egg-info

# Benchmarks: long, never part of `make test`. Needs PostgreSQL (HOSO_BENCH_POSTGRES_URL).
# The page benchmarks load the server with wrk (Debian's package).
bench: $(VENV)/.installed-dev
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || \
	  echo "bench: install Debian's wrk for the page benchmarks"
	$(BIN)/python -m bench.all

# The long form of the fault tests: the crash-mid-write run for 10 minutes with 6 clients,
# 12 failovers of the pg_auto_failover cluster under load, the state machine with many
# more examples, and every row of the demo store tampered with, one at a time, for
# `hoso verify` to catch. Needs PostgreSQL.
soak: $(VENV)/.installed-dev failover
	HOSO_CRASH_SECONDS=600 HOSO_CRASH_CLIENTS=6 HOSO_FAILOVERS=12 HOSO_MACHINE_EXAMPLES=1000 \
		HYPOTHESIS_PROFILE=explore \
		$(BIN)/pytest -q -s tests/reliability
	HOSO_TAMPER_TRIALS=all HOSO_TAMPER_DOSSIERS=120 \
		$(BIN)/pytest -q -s tests/test_verify_every_row.py -k every_changed_row

# Translatable text: extract from the templates and Python (babel.cfg) into
# web/locale/messages.pot, merge it into each catalog, then compile the .mo files the app
# loads (committed, so a fresh checkout runs without this step). Vietnamese text is the
# msgid: the vi catalog stays empty, and tests/test_i18n.py fails while an English msgstr
# is missing.
messages: $(VENV)/.installed-dev
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --project hoso \
		-o web/locale/messages.pot .
	$(BIN)/pybabel update -i web/locale/messages.pot -d web/locale --no-fuzzy-matching
	$(BIN)/pybabel compile -d web/locale --statistics
