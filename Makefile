# govhub — the two set-up commands are `make run` and `make test`; both build .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ROOMS := bench catalog cli connectors core dags exchange govhub lake quality schemas simulators web

.PHONY: run test test-slow test-all bench reliability lint format clean venv screenshots

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "govhub needs Python 3.11 or newer (set PYTHON=python3.11)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip uv
	$(VENV)/bin/uv pip install --python $(PY) --quiet -e '.[dev]' || $(PY) -m pip install --quiet -e '.[dev]'
	@# bytecode ahead of time: where PYTHONDONTWRITEBYTECODE is set nothing is cached, and every process
	@# (CLI, Airflow task, test worker) would compile ~1,100 modules again: about 6 s each (bench/README.md)
	$(PY) -m compileall -q -j 0 $(VENV)/lib $(ROOMS) >/dev/null || true
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/govhub demo $(ARGS)

# the fast lane covers every room; the `slow` marker (reliability suite, full pipelines) is the rest.
# TEST_WORKERS=2 runs it in two processes (pytest-xdist, a test module's tests in one, so module fixtures
# are made once): on a busy shared machine 14 % less wall for 20 % more CPU (bench/README.md).
TEST_WORKERS ?= 0
test: $(STAMP)
	$(VENV)/bin/pytest -q -m "not slow" $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile) $(ARGS)

test-slow: $(STAMP)
	$(VENV)/bin/pytest -q -m slow $(ARGS)

test-all: test test-slow

# docs/screenshots: every page as headless Chromium draws it with the network cut (needs chromium)
screenshots: $(STAMP)
	$(VENV)/bin/python tests/web/take_screenshots.py docs/screenshots

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(VENV)/bin/uv pip install --python $(PY) --quiet -e '.[dev,bench]' || $(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m bench $(ARGS)

reliability: $(STAMP)
	$(PY) -m tests.reliability $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf .govhub
