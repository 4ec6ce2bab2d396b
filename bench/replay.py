"""Replay: events/s one process rebuilds state from the input topics, and two.

Fills a fresh broker with order traffic (no live pipeline), then times
`run_replay` into a scratch state directory. The reference, measured in the same
run on the same topics: kafka-python consume-only with one consumer over every
partition (the transport's rate), and with replay's merged per-partition reader.
Then the same replay with its tasks split over 2 processes (`eventyard replay -p 2`).
"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

from bench.ceiling import consume_only
from bench.saga_env import PIPELINE, BenchError, SagaEnv, patched_environ
from bench.scale import Scale
from bench.workload import Workload, publish
from eventyard.kafka.reader import merged, open_streams
from eventyard.pipelines import get_pipeline
from eventyard.replay import run_replay
from eventyard.operators.decisions import merge_key

__all__ = ["run"]


def _replay_child(env: dict[str, str], target: Path, processes: int, queue: Any) -> None:
    try:
        with patched_environ(env):
            definition = get_pipeline(PIPELINE)
            result = run_replay(definition, definition.settings(), target, processes=processes)
        queue.put(result.events_per_s)
    except BaseException as exc:
        queue.put(f"{type(exc).__name__}: {exc}")


def _fresh_replay(env: dict[str, str], target: Path, processes: int) -> float:
    """events/s of `run_replay(processes=...)` in a freshly spawned process."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_replay_child, args=(env, target, processes, queue))
    child.start()
    got = queue.get(timeout=1800)
    child.join()
    if isinstance(got, str):
        raise BenchError(f"replay -p {processes} failed: {got}")
    return float(got)


def run(scale: Scale) -> dict[str, float]:
    with SagaEnv("replay") as env:
        events = publish(env.bootstrap, Workload(orders=scale.replay_orders).records(), causal=True)
        plain = consume_only("kafka-python", env.bootstrap, events)
        started = time.monotonic()
        streams = open_streams(env.settings.kafka, list(env.settings.pipeline.inputs))
        consumed = sum(1 for _ in merged(streams, merge_key))
        for s in streams:
            s.close()
        merged_rate = consumed / (time.monotonic() - started)
        with patched_environ(env.env):
            cpu = time.process_time()
            result = run_replay(env.definition, env.settings, env.work / "rebuilt")
            cpu_s = time.process_time() - cpu  # all threads: robust to a busy box, unlike events/s
        # -p 1 and -p 2 each from a fresh process, as `eventyard replay` runs: this
        # one has used RocksDB, and a forked replay worker of it would hang.
        one = _fresh_replay(env.env, env.work / "rebuilt-1p", 1)
        two = _fresh_replay(env.env, env.work / "rebuilt-2p", 2)
    return {
        "replay.2p.events_per_s": two,
        "replay.2p_vs_1p": two / one,
        "replay.events": events,
        "replay.events_per_s": result.events_per_s,
        "replay.seconds": result.seconds,
        "replay.cpu_us_per_event": 1e6 * cpu_s / max(result.stats.events, 1),
        "replay.consume_only": plain,
        "replay.merged_reader": merged_rate,
    }
