# The two commands of the quick start: `make run` and `make test`. Both set themselves up.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: run test lint sandbox bench clean

## Launch the app against the embedded sandbox org (no account needed).
run:
	@bash .ci/bootstrap.sh run
	@$(PY) main.py --demo $(ARGS)

## Install what is missing, start the desktop test bed, run ruff, mypy --strict and pytest, stop it all.
test:
	@bash tests/testbed/run.sh $(ARGS)

## Lint and type-check only (needs the venv).
lint:
	@bash .ci/bootstrap.sh venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

## Run the sandbox org alone: make sandbox ARGS="--port 8765 --users 50"
sandbox:
	@bash .ci/bootstrap.sh venv
	@$(PY) -m sandbox $(ARGS)

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
