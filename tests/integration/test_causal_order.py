"""Causal order on the real broker: whichever topic a worker reads first, each
order's outcome and outputs are those of in-order delivery, and replay agrees.

The inputs are produced as backlogs in a random topic order (every shipment on the
broker before any payment, say), each record stamped with when its event happened;
the pipeline starts on that backlog, is killed part-way (SIGKILL) and restarted.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from eventyard.core.records import SourceMessage
from eventyard.core.routing import task_of
from eventyard.demo.traffic import envelope_record
from eventyard.kafka.reader import read_topic
from eventyard.operators.merge import EventTimeMerge
from eventyard.operators.task import Task, TaskSettings
from eventyard.pipelines import get_pipeline
from eventyard.runtime.flow import build_decoder, build_operators
from eventyard.state import StateDirectory, TaskStore
from tests.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.both_transports]

PLACED = dict(customer_id="c", amount=10, currency="EUR", items=[{"sku": "s", "quantity": 1}])
OUTPUT_TOPICS = ("order-commands", "order-events")
# Enough that a kill can land before the first epoch commits. At most 1,200: order n
# happened 50 ms after order n-1, starting a minute ago, and all must be in the past.
ORDERS = 1000


def _history(n: int, t0: int) -> list[tuple[str, object, int]]:
    """(topic, record, timestamp) of order n: most complete, every fourth payment fails."""
    oid, at = f"o-{n:03d}", t0 + n * 50
    events = [("OrderPlaced", PLACED, 0)]
    if n % 4 == 3:
        events += [("PaymentFailed", {"payment_id": f"p-{n}", "reason": "declined"}, 10)]
    else:
        events += [("PaymentReceived", {"payment_id": f"p-{n}", "amount": 10}, 10),
                   ("InventoryReserved", {"reservation_id": f"r-{n}"}, 20),
                   ("ShipmentCreated", {"shipment_id": f"s-{n}"}, 30)]
    topic = {"OrderPlaced": "orders", "PaymentReceived": "payments", "PaymentFailed": "payments",
             "InventoryReserved": "inventory", "ShipmentCreated": "shipping"}
    return [(topic[kind], envelope_record(topic[kind], kind, oid, payload, f"{oid}-{kind}"), at + dt)
            for kind, payload, dt in events]


def _in_order_outputs(settings, records: list[tuple[str, object, int]], root: Path) -> set[str]:
    """The outputs of in-order delivery: every record through one task, all at once."""
    definition = get_pipeline("order_saga")
    out: set[str] = set()
    by_partition: dict[int, list[SourceMessage]] = {}
    for topic, record, ts in records:
        p = task_of(record.key.decode(), settings.kafka.topic_partitions)
        by_partition.setdefault(p, []).append(SourceMessage(topic, p, len(by_partition.get(p, [])), record.key,
                                                            record.value, record.headers, ts))
    for p, msgs in by_partition.items():
        store = TaskStore.open(root / f"task-{p}", p, create=True)
        task = Task(p, store, build_operators(definition, settings), build_decoder(definition, settings),
                    EventTimeMerge([(t, p) for t in definition.task_inputs(settings)]),
                    TaskSettings(settings.name, settings.pipeline.dead_letter))
        task.offer(sorted(msgs, key=lambda m: m.timestamp_ms))
        now = int(time.time() * 1000)
        for tp in task.merge._input_ms:
            task.merge.set_input_time(*tp, now)  # every partition read, caught up
        out |= {orjson.loads(r.value)["event_id"] for r in task.run(now_ms=now)
                if r.topic in OUTPUT_TOPICS}
        task.close()
    return out


def _live_outputs(settings) -> list[dict]:
    return [orjson.loads(m.value) for topic in OUTPUT_TOPICS for m in read_topic(settings.kafka, topic)]


def test_backlogged_topics_read_in_any_order_give_the_in_order_outcome(live_settings, start_pipeline, tmp_path,
                                                                        transport):
    settings = live_settings()
    rng = random.Random(f"causal-{transport}")
    t0 = int(time.time() * 1000) - 60_000  # a minute ago: no payment timeout is due
    records = [r for n in range(ORDERS) for r in _history(n, t0)]
    producer = KafkaProducer(**settings.kafka.client_options())
    topics = ["orders", "payments", "inventory", "shipping"]
    rng.shuffle(topics)  # e.g. every shipment is on the broker before any order
    for topic in topics:
        for t, record, ts in records:
            if t == topic:
                producer.send(topic, key=record.key, value=record.value, timestamp_ms=ts)
    producer.flush()
    producer.close()

    expected = _in_order_outputs(settings, records, tmp_path / "reference")
    run = start_pipeline(processes=2)
    deadline = time.monotonic() + 180
    while len({e["event_id"] for e in _live_outputs(settings)} & expected) < len(expected) // 3:
        run.check_alive()
        assert time.monotonic() < deadline
        time.sleep(0.2)
    run.process.kill()  # SIGKILL part-way: the rest after a restart
    run.process.wait()
    run.stopped = True
    run = start_pipeline(processes=2)
    while not expected <= {e["event_id"] for e in _live_outputs(settings)} or "worker 1 of" not in run.log.read_text():
        run.check_alive()
        assert time.monotonic() < deadline, sorted(expected - {e["event_id"] for e in _live_outputs(settings)})[:5]
        time.sleep(0.2)
    assert run.stop() == 0

    live = {e["event_id"] for e in _live_outputs(settings)}
    assert live == expected  # nothing else either: no output of another order of events
    assert list(read_topic(settings.kafka, settings.pipeline.dead_letter)) == []
    states = dict(StateDirectory(settings.state.dir, settings.name).read_instances())
    assert {k: v["state"] for k, v in states.items()} == {
        f"o-{n:03d}": "cancelled" if n % 4 == 3 else "completed" for n in range(ORDERS)}
    result = subprocess.run([sys.executable, "-m", "eventyard", "replay", "order_saga", "--verify"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"identical: {ORDERS} aggregates" in result.stdout
