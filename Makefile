# The two commands a new user needs: `make demo` and `make test`.
# `make bench` runs the benchmarks on purpose (~30 min; never in CI), `make bench-quick` in ~5.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-pure bench bench-quick clean

$(STAMP): pyproject.toml eventyard/core/_native.pyx
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/eventyard demo

test: $(STAMP)
	$(BIN)/pytest

# The pure-Python hot path (what runs where the compiled one could not be built)
# through every test that needs no broker: the compiled functions are pure and sit
# behind the engine, whose tests are all here; the broker tests exercise the Kafka
# edge, which is the same code either way. CI runs it after `make test`.
test-pure: $(STAMP)
	EVENTYARD_PURE_PYTHON=1 $(BIN)/pytest -m "not integration"

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# Writes bench/results/latest.json, docs/img/bench-*.png and the top of docs/benchmarks.md.
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench

bench-quick: $(BENCH_STAMP)
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) var build *.egg-info
