# hoso: `make run` serves the app on SQLite; `make test` runs the whole suite on SQLite and PostgreSQL.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HOSO_DATABASE_URL ?= sqlite:///var/hoso.sqlite3

.PHONY: run test lint typecheck check clean bench soak browser screenshots messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

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

test: $(VENV)/.installed-dev browser
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
bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench.all

# The long form of the fault tests: the crash-mid-write run for 10 minutes with 6 clients,
# and the state machine with many more examples. Needs PostgreSQL.
soak: $(VENV)/.installed-dev
	HOSO_CRASH_SECONDS=600 HOSO_CRASH_CLIENTS=6 HOSO_MACHINE_EXAMPLES=1000 \
		$(BIN)/pytest -q -s tests/reliability

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
