"""A bytewax worker thread keeps its Python thread state between batches.

In a cluster (`-p 2` and up) bytewax runs workers in threads started from Rust;
without keep_thread_state each batch ran in a fresh Python thread state, losing
thread-local data (and paying to build the state again)."""

import ast
import subprocess
import sys

import pytest

# Two workers in one process: bytewax's cluster entry point, worker threads from Rust.
# The source's one partition reports, per batch, whether thread-local data set in
# an earlier batch is still there.
_FLOW = """
import sys, threading
import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.run import cli_main
from bytewax.testing import TestingSink
from eventyard.runtime.thread_state import keep_thread_state

KEEP = sys.argv[1] == "keep"
local = threading.local()

class Part(StatefulSourcePartition):
    def __init__(self):
        self.batches = 0
    def next_batch(self):
        if self.batches == 5:
            raise StopIteration
        self.batches += 1
        kept = getattr(local, "marker", None) == "set"
        local.marker = "set"
        return [kept] if self.batches > 1 else []
    def snapshot(self):
        return None

class Source(FixedPartitionedSource):
    def list_parts(self):
        return ["only"]
    def build_part(self, step_id, for_part, resume_state):
        if KEEP:
            keep_thread_state()
        return Part()

seen = []
flow = Dataflow("thread_state")
op.output("out", op.input("in", flow, Source()), TestingSink(seen))
cli_main(flow, workers_per_process=2)
print(seen)
"""


def _kept_between_batches(mode: str) -> list[bool]:
    done = subprocess.run([sys.executable, "-c", _FLOW, mode], capture_output=True, text=True,
                          timeout=120, check=True)
    return ast.literal_eval(done.stdout.strip().splitlines()[-1])  # the printed list


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="CPython's thread states")
def test_worker_thread_keeps_thread_local_data_between_batches():
    assert _kept_between_batches("keep") == [True] * 4


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="CPython's thread states")
def test_without_it_bytewax_cluster_workers_lose_thread_state():
    # The behaviour keep_thread_state exists for; if a bytewax release stops it,
    # this fails and the helper can go.
    assert _kept_between_batches("lose") == [False] * 4
