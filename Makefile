# outdial — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8080
DATA   ?= data

.PHONY: run test install check lint typecheck pytest test-services clean

run: install  ## set up and start outdial on the embedded SQLite store
	$(BIN)/outdial serve --host $(HOST) --port $(PORT) --data-dir $(DATA)

test: install test-services lint typecheck pytest  ## set up and run every check and test

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "outdial needs Python 3.11+; run make PYTHON=python3.11 …")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

test-services:  ## make sure PostgreSQL binaries (throwaway test cluster) and sipp (SIP tests) exist
	@bash scripts/test-services.sh

lint: install
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench

typecheck: install
	$(BIN)/mypy src

pytest: install
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
