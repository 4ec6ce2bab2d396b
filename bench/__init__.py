"""Benchmarks of Eventyard (issue 7): run on purpose with `make bench`, never in CI.

One module per measurement; `python -m bench` runs them, writes
bench/results/latest.json and regenerates the top of docs/benchmarks.md.
"""
