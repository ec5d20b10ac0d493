# hoso: `make run` serves the app on SQLite; `make test` runs the whole suite on SQLite and PostgreSQL.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HOSO_DATABASE_URL ?= sqlite:///var/hoso.sqlite3

.PHONY: run test lint typecheck check clean bench soak

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

test: $(VENV)/.installed-dev
	$(BIN)/pytest -n 2 --dist loadfile -q

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
