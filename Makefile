# The two commands of the quick start: `make up` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: up test soak lint bench perf-docs clean

# With the bench extra: the suite smoke-runs the benchmark runner, whose chart and peer engine need it.
# The web pages' front-end files (package-lock.json) come with it: jianyi serves them under /static.
$(BIN)/.installed: pyproject.toml constraints.txt package.json package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev,bench]"
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

up: $(BIN)/.installed  ## start Prefect, the API, the executor and an SMTP sink on 127.0.0.1
	$(BIN)/jianyi up

test: $(BIN)/.installed  ## the whole suite: units, PostgreSQL and SQLite, end to end on real servers
	$(BIN)/pytest

soak: $(BIN)/.installed  ## the long fault soak (minutes; SOAK_SECONDS=600 of faults, SOAK_SEED= to replay one)
	JIANYI_SOAK_SECONDS=$${SOAK_SECONDS:-600} JIANYI_SOAK_SEED=$${SOAK_SEED:-} $(BIN)/pytest -s --timeout=0 -p no:cacheprovider -m soak tests/e2e/test_soak_e2e.py

bench: $(BIN)/.installed  ## the benchmarks (minutes; not in CI): make bench ARGS="--only sweep --quick"
	$(BIN)/python -m bench.run $(ARGS)

perf-docs: $(BIN)/.installed  ## rewrite docs/performance.md from bench/results/, running nothing
	$(BIN)/python -m bench.run --write-docs-only

lint: $(BIN)/.installed
	$(BIN)/ruff check jianyi tests bench
	$(BIN)/ruff format --check jianyi tests bench
	$(BIN)/mypy jianyi bench

clean:
	rm -rf $(VENV) var
