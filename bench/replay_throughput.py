"""Replay throughput: events/s one process rebuilds from input topics.

Run on purpose (not in CI):  .venv/bin/python -m bench.replay_throughput --orders 20000

Fills the embedded broker's input topics with generated order traffic (no live
pipeline), then times `run_replay` into a scratch state directory. Consume-only
throughput of the same topics is measured in the same run as the reference.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from kafka import KafkaProducer

from eventyard.broker import EmbeddedBroker
from eventyard.demo.traffic import FAST_OUTCOMES, plan_orders
from eventyard.kafka import create_topics
from eventyard.kafka.reader import merged, open_streams
from eventyard.replay import run_replay
from operators.decisions import merge_key
from pipelines import get_pipeline


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="eventyard-bench-"))
    with EmbeddedBroker() as broker:
        os.environ.update(EVENTYARD_KAFKA__BOOTSTRAP_SERVERS=broker.bootstrap_servers,
                          EVENTYARD_STATE__DIR=str(work / "state"), EVENTYARD_RECOVERY__DIR=str(work / "rec"))
        definition = get_pipeline("order_saga")
        settings = definition.settings()
        create_topics(settings.kafka, definition.topics(settings))
        producer = KafkaProducer(**settings.kafka.client_options(), linger_ms=20, batch_size=256 * 1024)
        events = 0
        for scenario in plan_orders(args.orders, FAST_OUTCOMES, duplicate_rate=0):
            for r in scenario.initial_events():
                producer.send(r.topic, key=r.key, value=r.value)
                events += 1
        producer.flush()
        producer.close()

        started = time.monotonic()
        streams = open_streams(settings.kafka, list(settings.pipeline.inputs))
        consumed = sum(1 for _ in merged(streams, merge_key))
        for s in streams:
            s.close()
        consume_rate = consumed / (time.monotonic() - started)

        result = run_replay(definition, settings, work / "rebuilt")
    shutil.rmtree(work, ignore_errors=True)
    print(f"input events:            {events:,}")
    print(f"consume-only (merged):   {consume_rate:,.0f} events/s")
    print(f"replay (rebuild state):  {result.events_per_s:,.0f} events/s per process "
          f"({result.events_per_s / consume_rate:.0%} of consume-only)")


if __name__ == "__main__":
    main()
