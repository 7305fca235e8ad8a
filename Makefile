# The two commands of the quick start: `make run` and `make test`. Both set themselves up.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: run test lint sandbox bench chaos rhythm soak clean

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

## Run every benchmark (figures, not tests) and write benchmarks/RESULTS.md (about 20 minutes).
## P2, P5, P8 and P9 run the GUI offscreen; P6 starts its own Xvfb + trayer + dbus-daemon (hence
## "test"). P7 queues BENCH_P7_MESSAGES (2,000) on moto, whose time grows with the backlog squared.
bench:
	@bash .ci/bootstrap.sh test
	@rm -rf benchmarks/.data/results
	$(PY) -m benchmarks.p1_ingest
	QT_QPA_PLATFORM=offscreen $(PY) -m benchmarks.p2_ui
	$(PY) -m benchmarks.p3_recovery
	$(PY) -m benchmarks.p4_scale
	QT_QPA_PLATFORM=offscreen $(PY) -m benchmarks.p5_memory
	$(PY) -m benchmarks.p6_startup
	QT_QPA_PLATFORM=offscreen $(PY) -m benchmarks.p8_steady
	$(PY) -m benchmarks.p7_backlog
	QT_QPA_PLATFORM=offscreen $(PY) -m benchmarks.p9_scale
	$(PY) -m benchmarks.report

## The chaos run alone, 10 faults of each kind (CHAOS_PER_KIND; about 2 minutes). make test runs
## it with 3 of each, the soak with at least 50.
CHAOS_PER_KIND ?= 10
chaos:
	@bash .ci/bootstrap.sh venv
	CHAOS_PER_KIND=$(CHAOS_PER_KIND) QT_QPA_PLATFORM=offscreen $(PY) -m pytest -p no:cacheprovider -s -q \
		tests/chaos/test_chaos.py::test_survives_every_fault_kind_in_random_order $(ARGS)

## The CI-sized rhythm alone: a fault every 5-10 s on a moving org with production timings, no
## waiting for calm (about 90 s; make test runs it); prints the staleness table per fault kind,
## writes artifacts/chaos-rhythm-ci.txt.
rhythm:
	@bash .ci/bootstrap.sh venv
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -p no:cacheprovider -s -q \
		tests/chaos/test_rhythm.py::test_rhythm_recovers_within_bounds_after_healthy_sessions $(ARGS)

## The long chaos runs, SOAK_MINUTES each (default 30): every fault kind against the engine and
## its window (at least 50 of each kind; artifacts/chaos-soak.txt), then the rhythm, rounds of
## every burst (artifacts/chaos-rhythm-soak.txt), then the faults of a day: the org unreachable
## at start, the keyring locked or hanging, long suspends, a task raising, clock jumps (at least
## 10 of each kind; artifacts/chaos-life-soak.txt), then the EventBridge faults: delivery held
## 3-20 s, duplicates, reordering, poison messages, SQS unreachable, with the WebSocket dropping
## or stalling too (at least 10 of each kind; artifacts/chaos-bridge-soak.txt).
SOAK_MINUTES ?= 30
soak:
	@bash .ci/bootstrap.sh venv
	SOAK_MINUTES=$(SOAK_MINUTES) QT_QPA_PLATFORM=offscreen $(PY) -m pytest -p no:cacheprovider \
		-s -q tests/chaos/test_chaos.py::test_soak tests/chaos/test_rhythm.py::test_rhythm_soak \
		tests/chaos/test_life.py::test_life_soak tests/chaos/test_bridge_chaos.py::test_bridge_soak \
		$(ARGS)

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
