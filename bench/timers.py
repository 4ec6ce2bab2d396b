"""Timers: firing lateness while M open workflows keep 2M timers pending.

Probe orders are published with Kafka timestamps back-dated so that their payment
reminder comes due 5-15 s after sending (timers start at the event's time). The
engine publishes a TimerFired decision for every timer it fires; lateness is that
record's produce time minus its due time.
"""

from __future__ import annotations

import time

import orjson
from kafka import KafkaProducer

from bench.open_state import REMINDER_AFTER_S, Session
from bench.saga_env import BenchError
from bench.scale import Scale
from bench.stats import percentile
from bench.workload import Workload, consumer_from_start

__all__ = ["run"]

DECISIONS = "order_saga.decisions"
LEAD_S = (5.0, 15.0)  # probes come due spread over this window after sending


def run(scale: Scale, session: Session) -> tuple[dict[str, float], dict[str, list]]:
    loaded = session.open_saga(scale.open_large)
    env, probes = loaded.env, scale.timer_probes
    consumer = consumer_from_start(env.bootstrap, DECISIONS)
    now_ms = int(time.time() * 1000)
    span_ms = (LEAD_S[1] - LEAD_S[0]) * 1000
    records = list(Workload(open_workflows=probes, prefix="timer-probe").records())
    # Each probe gets its own back-dated timestamp, so its reminder is due at `due`.
    producer = KafkaProducer(bootstrap_servers=env.bootstrap.split(","), acks="all", linger_ms=5)
    for i, record in enumerate(records):
        due = now_ms + int(LEAD_S[0] * 1000 + span_ms * i / probes)
        producer.send(record.topic, key=record.key, value=record.value,
                      timestamp_ms=due - REMINDER_AFTER_S * 1000)
    producer.flush()
    producer.close()
    loaded.note_extra_events(probes)
    lateness: list[float] = []
    deadline = time.monotonic() + LEAD_S[1] + 120
    while len(lateness) < probes and time.monotonic() < deadline:
        for messages in consumer.poll(timeout_ms=200, max_records=5000).values():
            for m in messages:
                decision = orjson.loads(m.value)
                payload = decision.get("payload", {})
                if decision.get("type") == "TimerFired" and payload.get("timer") == "payment_reminder" \
                        and str(decision.get("aggregate_id", "")).startswith("timer-probe"):
                    lateness.append(m.timestamp - payload["due_ms"])
    consumer.close()
    if not lateness:
        raise BenchError("no probe timer fired")
    figures = {
        "timers.pending": 2 * loaded.open_workflows,
        "timers.probes": probes,
        "timers.fired": len(lateness),
        "timers.lateness_p50_ms": percentile(lateness, 50),
        "timers.lateness_p99_ms": percentile(lateness, 99),
        "timers.lateness_max_ms": max(lateness),
    }
    return figures, {"timer_lateness_ms": sorted(lateness)}
