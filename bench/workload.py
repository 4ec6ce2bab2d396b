"""The order-saga workload: N orders with an outcome mix, M open workflows.

Built on eventyard.demo.traffic (the same scenarios the demo and tests use);
this module only decides which events to publish and publishes them fast.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from eventyard.demo.traffic import FAST_OUTCOMES, Outcome, plan_orders
from eventyard.core.records import OutRecord

__all__ = ["Workload", "publish", "INPUT_TOPICS", "consumer_from_start"]

# Topics the initial events of the order saga go to (shipping only gets reactions).
INPUT_TOPICS = ("orders", "payments", "inventory")


@dataclass(frozen=True)
class Workload:
    """`orders` orders that settle without timers (completed / payment failed /
    out of stock, 1/3 each) plus `open_workflows` orders that stay open: only
    OrderPlaced, so each keeps its payment reminder and timeout timers pending."""

    orders: int = 0
    open_workflows: int = 0
    outcomes: tuple[Outcome, ...] = FAST_OUTCOMES
    prefix: str = "order"

    def records(self) -> Iterator[OutRecord]:
        for scenario in plan_orders(self.orders, self.outcomes, duplicate_rate=0, prefix=self.prefix):
            yield from scenario.initial_events()
        for scenario in plan_orders(self.open_workflows, (Outcome.PAYMENT_TIMEOUT,), duplicate_rate=0,
                                    prefix=f"{self.prefix}-open"):
            yield scenario.placed()


def publish(bootstrap: str, records: Iterable[OutRecord], timestamp_ms: int | None = None,
            causal: bool = False) -> int:
    """Send every record (acks=all) and flush; return how many were sent.

    `causal`: stamp record i at (now - count + i) ms, in the past and one millisecond
    apart, as services answering each other would. Stamped by the producer at send
    time instead, an order's events share a millisecond and the task's event-time
    merge breaks the tie by topic name (InventoryReserved before OrderPlaced),
    which parks and redelivers events no live system would see that early.
    """
    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), linger_ms=20, acks="all",
                             batch_size=512 * 1024)
    sent = 0
    if causal:
        records = list(records)
        start = int(time.time() * 1000) - len(records)
    try:
        for r in records:
            stamp = start + sent if causal else timestamp_ms
            producer.send(r.topic, key=r.key, value=r.value, headers=list(r.headers) or None,
                          timestamp_ms=stamp)
            sent += 1
        producer.flush()
    finally:
        producer.close()
    return sent


def consumer_from_start(bootstrap: str, topic: str, fetch_max_wait_ms: int = 50) -> KafkaConsumer:
    """A group-less consumer of every partition of `topic`, from the first record."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), enable_auto_commit=False,
                             fetch_max_wait_ms=fetch_max_wait_ms)
    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    return consumer
