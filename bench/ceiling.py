"""The client ceiling: the plain loop consume -> orjson -> RocksDB get/put ->
orjson -> produce, one output per input, one process; and consume-only.

Per transport: kafka-python (what Eventyard uses) and confluent-kafka used
directly. Inputs are the order-saga workload, on a fresh embedded broker.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
from rocksdict import Rdict

from bench.saga_env import BenchError, SagaEnv
from bench.scale import Scale
from bench.workload import INPUT_TOPICS, Workload, publish
from eventyard.config import KafkaSettings

__all__ = ["run", "kafka_python_messages", "confluent_messages", "plain_loop_on_fresh_broker"]

OUT_TOPIC = "order-commands"
Message = tuple[bytes | None, bytes | None]  # key, value
Send = Callable[[bytes | None, bytes], None]


def kafka_python_messages(bootstrap: str, topics: tuple[str, ...]) -> Iterator[list[Message]]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), enable_auto_commit=False,
                             max_poll_records=1000, fetch_max_wait_ms=100)
    try:
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        while True:
            # poll(0) as the Eventyard source does; a short wait only when idle.
            batches = consumer.poll(timeout_ms=0) or consumer.poll(timeout_ms=50)
            yield [(m.key, m.value) for ms in batches.values() for m in ms]
    finally:
        consumer.close()


def kafka_python_sender(bootstrap: str) -> tuple[Send, Callable[[], None]]:
    from kafka import KafkaProducer

    # As Eventyard's sink configures it (the batch size too: kafka-python's 16 KB
    # default alone cost this loop ~40% of its rate).
    defaults = KafkaSettings()
    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all",
                             linger_ms=int(defaults.linger.total_seconds() * 1000), batch_size=defaults.batch_bytes)

    def send(key: bytes | None, value: bytes) -> None:
        producer.send(OUT_TOPIC, key=key, value=value)

    def close() -> None:
        producer.flush()
        producer.close()

    return send, close


def confluent_messages(bootstrap: str, topics: tuple[str, ...]) -> Iterator[list[Message]]:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-ceiling",
                         "enable.auto.commit": False, "fetch.queue.backoff.ms": 10})
    try:
        metadata = consumer.list_topics(timeout=10)
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING)
                         for t in topics for p in sorted(metadata.topics[t].partitions)])
        while True:
            batch = consumer.consume(num_messages=1000, timeout=0.05)
            yield [(m.key(), m.value()) for m in batch if m.error() is None]
    finally:
        consumer.close()


def confluent_sender(bootstrap: str) -> tuple[Send, Callable[[], None]]:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                         "queue.buffering.max.messages": 1_000_000})

    def send(key: bytes | None, value: bytes) -> None:
        while True:
            try:
                producer.produce(OUT_TOPIC, value, key)
                producer.poll(0)
                return
            except BufferError:
                producer.poll(0.01)

    def close() -> None:
        producer.flush(30)

    return send, close


TRANSPORTS = {
    "kafka-python": (kafka_python_messages, kafka_python_sender),
    "confluent": (confluent_messages, confluent_sender),
}


def _drain(messages: Iterator[list[Message]], expected: int, timeout: float,
           work: Callable[[list[Message]], None]) -> float:
    """Handle `expected` records; return when the first one arrived (monotonic)."""
    seen, started = 0, None
    deadline = time.monotonic() + timeout
    for batch in messages:
        if batch:
            started = started or time.monotonic()
            work(batch)
            seen += len(batch)
            if seen >= expected:
                break
        if time.monotonic() > deadline:
            raise BenchError(f"plain loop saw {seen} of {expected} records in {timeout:.0f}s")
    assert started is not None
    return started


def plain_loop(transport: str, bootstrap: str, expected: int, db_dir: Path) -> tuple[float, float]:
    """(events/s, CPU microseconds per event of this process, all threads)."""
    messages_fn, sender_fn = TRANSPORTS[transport]
    send, close = sender_fn(bootstrap)
    db = Rdict(str(db_dir))

    def work(batch: list[Message]) -> None:
        for key, value in batch:
            event = orjson.loads(value or b"{}")
            state_key = key or b""
            old = db.get(state_key)
            state = orjson.loads(old) if old is not None else {"events": 0}
            state["events"] += 1
            state["last"] = event["type"]
            db[state_key] = orjson.dumps(state)
            send(key, orjson.dumps({"type": "Ack", "cause": event["event_id"], "n": state["events"]}))

    try:
        messages = messages_fn(bootstrap, INPUT_TOPICS)
        cpu = time.process_time()
        started = _drain(messages, expected, 300, work)
        close()  # the final flush is part of the loop's cost
        rate = expected / (time.monotonic() - started)
        cpu_us = 1e6 * (time.process_time() - cpu) / expected
        messages.close()
        return rate, cpu_us
    finally:
        db.close()


def plain_loop_on_fresh_broker(transport: str, events: int) -> tuple[float, float]:
    """`plain_loop` over about `events` order-saga events on a broker of its own."""
    with SagaEnv("ceiling") as env:
        published = publish(env.bootstrap, Workload(orders=max(1, events * 10 // 25)).records())
        db_dir = Path(tempfile.mkdtemp(prefix="bench-ceiling-db-"))
        try:
            return plain_loop(transport, env.bootstrap, published, db_dir)
        finally:
            shutil.rmtree(db_dir, ignore_errors=True)


def consume_only(transport: str, bootstrap: str, expected: int) -> float:
    messages = TRANSPORTS[transport][0](bootstrap, INPUT_TOPICS)
    try:
        started = _drain(messages, expected, 300, lambda batch: None)
        return expected / (time.monotonic() - started)
    finally:
        messages.close()


def run(scale: Scale) -> dict[str, float]:
    figures: dict[str, float] = {}
    orders = max(1, scale.ceiling_events * 10 // 25)  # fast outcomes: ~2.5 events per order
    with SagaEnv("ceiling") as env:
        events = publish(env.bootstrap, Workload(orders=orders).records())
        figures["ceiling.events"] = events
        for transport in TRANSPORTS:
            db_dir = Path(tempfile.mkdtemp(prefix="bench-ceiling-db-"))
            try:
                figures[f"consume_only.{transport}"] = consume_only(transport, env.bootstrap, events)
                rate, cpu_us = plain_loop(transport, env.bootstrap, events, db_dir)
                figures[f"ceiling.{transport}"] = rate
                figures[f"ceiling.{transport}.cpu_us_per_event"] = cpu_us
            finally:
                shutil.rmtree(db_dir, ignore_errors=True)
    return figures
