"""Read a pipeline's output topics and tally what each aggregate received."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import orjson
from kafka import KafkaConsumer, TopicPartition

from eventyard.config import KafkaSettings
from eventyard.kafka.client import seek_to_first, source_message
from eventyard.core.records import SourceMessage

__all__ = ["OutputCollector", "Tally"]


@dataclass
class Tally:
    by_aggregate: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    event_ids: Counter[str] = field(default_factory=Counter)
    payloads: dict[str, list[dict[str, object]]] = field(default_factory=lambda: defaultdict(list))
    dead_letters: list[SourceMessage] = field(default_factory=list)

    @property
    def repeats(self) -> int:
        """Publications beyond the first of the same event_id (at-least-once)."""
        return sum(n - 1 for n in self.event_ids.values())

    def distinct(self, aggregate: str) -> Counter[str]:
        return self.by_aggregate.get(aggregate, Counter())


class OutputCollector:
    """Consumes output and dead-letter topics from the beginning; counts each
    distinct event_id once per aggregate (repeats are counted separately)."""

    def __init__(self, settings: KafkaSettings, outputs: list[str], dead_letter: str) -> None:
        self._consumer = KafkaConsumer(**settings.client_options(), enable_auto_commit=False,
                                       auto_offset_reset="earliest")
        self.dead_letter = dead_letter
        parts = []
        for topic in [*outputs, dead_letter]:
            partitions = self._consumer.partitions_for_topic(topic) or set()
            parts += [TopicPartition(topic, p) for p in partitions]
        self._consumer.assign(parts)
        seek_to_first(self._consumer, parts)
        self.tally = Tally()

    def poll(self, timeout_ms: int = 200) -> list[tuple[str, str, dict[str, object]]]:
        """Consume what is there; return newly seen (aggregate, type, payload)."""
        fresh = []
        for tp, messages in self._consumer.poll(timeout_ms=timeout_ms, max_records=5000).items():
            for m in messages:
                if tp.topic == self.dead_letter:
                    self.tally.dead_letters.append(source_message(m))
                    continue
                envelope = orjson.loads(m.value)
                self.tally.event_ids[envelope["event_id"]] += 1
                if self.tally.event_ids[envelope["event_id"]] > 1:
                    continue
                aggregate, kind = envelope["aggregate_id"], envelope["type"]
                self.tally.by_aggregate[aggregate][kind] += 1
                self.tally.payloads[aggregate].append({"type": kind, **envelope["payload"]})
                fresh.append((aggregate, kind, envelope["payload"]))
        return fresh

    def close(self) -> None:
        self._consumer.close()
