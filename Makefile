# Two commands do all set-up on a fresh machine with python3 and make:
#   make demo   - the main job on the embedded stores (DuckDB file + SQLite file)
#   make test   - the whole test suite (lint, types, layers, pytest incl. real PostgreSQL)
PYTHON ?= python3
VENV   := .venv
UV_VERSION := 0.13.9
STAMP  := $(VENV)/.synced

.PHONY: demo test setup system-deps lint bench clean

$(STAMP): pyproject.toml uv.lock
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@UV_PROJECT_ENVIRONMENT=$(VENV) $(VENV)/bin/uv sync --locked --quiet --compile-bytecode --python $(VENV)/bin/python
	@touch $(STAMP)

setup: $(STAMP)

system-deps:
	@scripts/system-deps.sh

demo: setup
	$(VENV)/bin/aftersale demo --dir demo

test: setup system-deps
	@scripts/test.sh

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: setup
	$(VENV)/bin/python bench/bench_ingest.py

clean:
	rm -rf $(VENV) demo .pytest_cache .mypy_cache .ruff_cache
