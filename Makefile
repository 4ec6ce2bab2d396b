# The two commands a new user needs: `make demo` and `make test`.
# `make bench` runs the benchmarks on purpose (~10 min; never in CI), `make bench-quick` in ~5.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-pure bench bench-quick clean

# setup.py compiles the engine's operators/*.py too: an edited one is rebuilt here (until
# then it runs from source: eventyard/core/source_first.py).
$(STAMP): pyproject.toml setup.py $(wildcard operators/*.py) eventyard/core/_native.pyx $(wildcard eventyard/core/*.pxi)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/eventyard demo

test: $(STAMP)
	$(BIN)/pytest

# The whole suite again on the pure-Python hot path (what runs where the compiled
# one could not be built; EVENTYARD_PURE_PYTHON=1). CI runs it after `make test`.
test-pure: $(STAMP)
	EVENTYARD_PURE_PYTHON=1 $(BIN)/pytest

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
