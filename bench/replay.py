"""Replay: events/s one process rebuilds state from the input topics, and two.

Fills a fresh broker with order traffic (no live pipeline), then times
`run_replay` into a scratch state directory. The reference, measured in the same
run on the same topics: kafka-python consume-only with one consumer over every
partition (the transport's rate), and with replay's merged per-partition reader.
Then the same replay with its tasks split over 2 processes (`eventyard replay -p 2`).
"""

from __future__ import annotations

import time

from bench.ceiling import consume_only
from bench.saga_env import SagaEnv, patched_environ
from bench.scale import Scale
from bench.workload import Workload, publish
from eventyard.kafka.reader import merged, open_streams
from eventyard.replay import run_replay
from eventyard.operators.decisions import merge_key

__all__ = ["run"]


def run(scale: Scale) -> dict[str, float]:
    with SagaEnv("replay") as env:
        events = publish(env.bootstrap, Workload(orders=scale.replay_orders).records())
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
            two = run_replay(env.definition, env.settings, env.work / "rebuilt-2p", processes=2)
    return {
        "replay.2p.events_per_s": two.events_per_s,
        "replay.2p_vs_1p": two.events_per_s / result.events_per_s,
        "replay.events": events,
        "replay.events_per_s": result.events_per_s,
        "replay.seconds": result.seconds,
        "replay.cpu_us_per_event": 1e6 * cpu_s / max(result.stats.events, 1),
        "replay.consume_only": plain,
        "replay.merged_reader": merged_rate,
    }
