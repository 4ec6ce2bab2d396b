"""Read a dead-letter topic: every partition, from the beginning or from saved positions.

Manual `assign` and no consumer group, so nothing is committed and no group join is
waited for. "Caught up" is decided by fetching: a scan ends after consecutive empty
polls once every partition's position reached the high watermark of its fetch
responses (eventyard.kafka.client.caught_up), never by the reported end offset,
which the embedded broker can understate by a producer batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import TracebackType

from kafka import KafkaConsumer, TopicPartition

from eventyard.config import KafkaSettings
from eventyard.dlq.view import DeadLetterView
from eventyard.core.errors import TopicMissingError
from eventyard.kafka.client import caught_up, seek_to_first, source_message

__all__ = ["DeadLetterReader"]

_EMPTY_POLLS_TO_FINISH = 2
# Safety net: a position that never reaches the reported end (a broker oddity) must
# not make a scan spin forever once the topic has clearly stopped yielding records.
_EMPTY_POLLS_TO_GIVE_UP = 20


class DeadLetterReader:
    """Iterates a dead-letter topic as `DeadLetterView`s; close it (or use `with`)."""

    def __init__(self, settings: KafkaSettings, topic: str, poll_ms: int = 500) -> None:
        self.topic = topic
        self._poll_ms = poll_ms
        self._consumer = KafkaConsumer(
            **settings.client_options(),
            enable_auto_commit=False,
            auto_offset_reset="earliest",  # a saved position lost to retention: nothing is skipped
            fetch_max_wait_ms=min(poll_ms, 500),
        )
        partitions = self._consumer.partitions_for_topic(topic)
        if not partitions:
            self._consumer.close()
            raise TopicMissingError(
                f"dead-letter topic {topic!r} does not exist on {settings.bootstrap_servers}: "
                "create it with `eventyard topics create PIPELINE`"
            )
        self._tps = {p: TopicPartition(topic, p) for p in sorted(partitions)}
        self._consumer.assign(list(self._tps.values()))
        self.seek(None)

    @property
    def partitions(self) -> list[int]:
        return list(self._tps)

    def seek(self, positions: Mapping[int, int] | None) -> None:
        """Next offsets to read per partition; partitions not named start at the beginning."""
        self._consumer.resume(*self._tps.values())
        seek_to_first(self._consumer, self._tps.values())
        for partition, offset in (positions or {}).items():
            if partition in self._tps:
                self._consumer.seek(self._tps[partition], offset)

    def scan(self, stop_at: Mapping[int, int] | None = None) -> Iterator[DeadLetterView]:
        """Records from the current positions until caught up (or, with `stop_at`,
        until each partition reaches its given next offset)."""
        empty = 0
        while True:
            if stop_at is not None:
                self._pause_finished(stop_at)
                if len(self._consumer.paused()) == len(self._tps):
                    return
            batch = self._consumer.poll(timeout_ms=self._poll_ms)
            if not batch:
                empty += 1
                if empty >= _EMPTY_POLLS_TO_GIVE_UP or (
                        stop_at is None and empty >= _EMPTY_POLLS_TO_FINISH and self._reached()):
                    return
                continue
            empty = 0
            for tp, messages in batch.items():
                limit = None if stop_at is None else stop_at.get(tp.partition, 0)
                for m in messages:
                    if limit is not None and m.offset >= limit:
                        break
                    yield DeadLetterView.from_message(source_message(m))

    def follow(self) -> Iterator[DeadLetterView]:
        """Records from the current positions, waiting for new ones, forever."""
        self._consumer.resume(*self._tps.values())
        while True:
            for messages in self._consumer.poll(timeout_ms=self._poll_ms).values():
                for m in messages:
                    yield DeadLetterView.from_message(source_message(m))

    def find(self, offset: int, partition: int | None = None) -> list[DeadLetterView]:
        """The record at `offset` in `partition`, or in each partition that has one."""
        wanted = self.partitions if partition is None else [partition]
        if partition is not None and partition not in self._tps:
            return []
        self._consumer.pause(*(tp for p, tp in self._tps.items() if p not in wanted))
        for p in wanted:
            self._consumer.seek(self._tps[p], offset)
        found: list[DeadLetterView] = []
        empty = 0
        while len(self._consumer.paused()) < len(self._tps) and empty < _EMPTY_POLLS_TO_FINISH:
            batch = self._consumer.poll(timeout_ms=self._poll_ms)
            empty = 0 if batch else empty + 1
            for tp, messages in batch.items():
                # Compaction or retention can make the first record a later one.
                found += [DeadLetterView.from_message(source_message(m)) for m in messages[:1] if m.offset == offset]
                self._consumer.pause(tp)
        return sorted(found, key=lambda v: v.partition)

    def _reached(self) -> bool:
        return all(caught_up(self._consumer, tp) for tp in self._tps.values())

    def _pause_finished(self, stop_at: Mapping[int, int]) -> None:
        done = [tp for p, tp in self._tps.items() if self._consumer.position(tp) >= stop_at.get(p, 0)]
        if done:
            self._consumer.pause(*done)

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> "DeadLetterReader":
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

