"""The order saga end to end: input events/s with 1 and 2 worker processes
(backlog drained from a full broker), and latency from input produce to command
produce at a paced input rate (1 process).

Rate is measured from the first applied event to the last (worker metrics), so
process start-up and shard store opening are excluded; recovery.py measures those.
Latency uses Kafka record timestamps: the producer's send time of OrderPlaced
and the sink's send time of the ChargePayment it caused.
"""

from __future__ import annotations

import time

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from bench.saga_env import SagaEnv
from bench.scale import Scale
from bench.stats import percentile
from bench.workload import Workload, publish
from config import KafkaSettings

__all__ = ["run", "confluent_supported", "drain_rate"]

COMMANDS = "order-commands"


def confluent_supported() -> bool:
    """True when this build of Eventyard has the confluent-kafka transport setting."""
    return "client" in KafkaSettings.model_fields


def drain_rate(orders: int, processes: int, extra_env: dict[str, str] | None = None,
               profile: object | None = None) -> float:
    """Input events/s for `processes` workers draining `orders` fast-outcome orders."""
    with SagaEnv(f"saga{processes}", extra_env) as env:
        events = publish(env.bootstrap, Workload(orders=orders).records())
        env.start_workers(processes)
        first, at_first, done = env.wait_applied(events, timeout=900)
        return (events - at_first) / (done - first)


def _commands_consumer(bootstrap: str) -> KafkaConsumer:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), enable_auto_commit=False,
                             fetch_max_wait_ms=50)
    tps = [TopicPartition(COMMANDS, p) for p in sorted(consumer.partitions_for_topic(COMMANDS) or ())]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    return consumer


def paced_latency(rate: float, seconds: float, extra_env: dict[str, str] | None = None) -> dict[str, float]:
    """Send OrderPlaced at `rate`/s; ms from its produce to ChargePayment's produce."""
    with SagaEnv("latency", extra_env) as env:
        env.start_workers(1)
        # Warm up until the worker is processing, so start-up is not counted.
        publish(env.bootstrap, Workload(orders=20, prefix="warm").records())
        env.wait_applied(1, timeout=120)
        producer = KafkaProducer(bootstrap_servers=env.bootstrap.split(","), acks="all", linger_ms=1)
        consumer = _commands_consumer(env.bootstrap)
        sent: dict[str, int] = {}
        latencies: list[float] = []
        records = Workload(open_workflows=int(rate * seconds), prefix="lat").records()
        started = time.monotonic()
        for i, record in enumerate(records):
            # Pace by schedule, not by sleeping a fixed step, so send cost does not slow the rate.
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent[record.key.decode()] = int(time.time() * 1000)  # type: ignore[union-attr]
            producer.send(record.topic, key=record.key, value=record.value, timestamp_ms=sent[record.key.decode()])  # type: ignore[union-attr]
        producer.flush()
        offered = len(sent) / (time.monotonic() - started)
        deadline = time.monotonic() + 120
        while len(latencies) < len(sent) and time.monotonic() < deadline:
            for messages in consumer.poll(timeout_ms=200, max_records=5000).values():
                for m in messages:
                    out = orjson.loads(m.value)
                    if out["type"] == "ChargePayment" and out["aggregate_id"] in sent:
                        latencies.append(m.timestamp - sent[out["aggregate_id"]])
        consumer.close()
        producer.close()
    return {"latency.offered_rate": offered, "latency.samples": len(latencies),
            "latency.p50_ms": percentile(latencies, 50), "latency.p99_ms": percentile(latencies, 99)}


def run(scale: Scale) -> dict[str, float]:
    figures: dict[str, float] = {"saga.orders": scale.saga_orders}
    one = drain_rate(scale.saga_orders, 1)
    figures["saga.kafka-python.1p"] = one
    figures["saga.kafka-python.2p"] = drain_rate(scale.saga_orders, 2)
    # Latency well below saturation: half the measured one-process rate.
    figures.update(paced_latency(max(50.0, min(one / 2, 5000.0)), scale.latency_seconds))
    if confluent_supported():
        env = {"EVENTYARD_KAFKA__CLIENT": "confluent"}
        figures["saga.confluent.1p"] = drain_rate(scale.saga_orders, 1, env)
        figures["saga.confluent.2p"] = drain_rate(scale.saga_orders, 2, env)
    return figures
