"""EventTimeMerge: a task's input partitions merged into one event-time order.

A task reads partition p of every input topic. Partitions are read at different
speeds (a backlog on one topic, a slow fetch), so arrival order says little about
what happened first. The merge releases records in (timestamp, topic, partition,
offset) order, the same order replay uses, and releases a record only once every
partition of the task has been read up to its timestamp: a partition with records
waiting vouches with its oldest one, an empty one with its input time (the wall
clock when caught up, else the newest timestamp read from it).

This is Kafka Streams' timestamp synchronization across a task's partitions. It
goes further in one way: a caught-up partition reports the wall clock instead of
making the task idle for `max.task.idle.ms`, so an idle topic delays nothing.

The buffer is bounded (records and bytes). At the bound the oldest record is
released even though a partition has not vouched for it yet; a record read later
with an older timestamp is then late, and the engine records that order for
replay (an AppliedOutOfOrder decision) like any late event.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from eventyard.core.records import SourceMessage

__all__ = ["EventTimeMerge", "MergeBounds"]

_UNBOUNDED = 1 << 62


@dataclass(frozen=True)
class MergeBounds:
    records: int = 20_000
    bytes: int = 64 << 20


class EventTimeMerge:
    def __init__(self, partitions: list[tuple[str, int]], bounds: MergeBounds = MergeBounds()) -> None:
        self._bounds = bounds
        self._heap: list[tuple[int, str, int, int, SourceMessage]] = []
        self._buffered: dict[tuple[str, int], int] = {tp: 0 for tp in partitions}
        self._input_ms: dict[tuple[str, int], int] = {tp: 0 for tp in partitions}
        self._bytes = 0
        self.stream_ms = 0  # the newest timestamp released: the task's stream time
        self.forced = 0  # records released at the bound, before every partition vouched

    # -- feeding -------------------------------------------------------------------
    def add(self, records: list[SourceMessage]) -> None:
        heap = self._heap
        for msg in records:
            heapq.heappush(heap, (msg.timestamp_ms, msg.topic, msg.partition, msg.offset, msg))
            tp = (msg.topic, msg.partition)
            self._buffered[tp] += 1
            self._bytes += len(msg.value or b"")

    def set_input_time(self, topic: str, partition: int, input_ms: int) -> None:
        """How far the partition has been read, in event time (see module doc)."""
        tp = (topic, partition)
        if input_ms > self._input_ms[tp]:
            self._input_ms[tp] = input_ms

    def buffered(self, topic: str, partition: int) -> int:
        return self._buffered[(topic, partition)]

    def __len__(self) -> int:
        return len(self._heap)

    # -- releasing -------------------------------------------------------------------
    def vouched_ms(self) -> int:
        """Event time up to which every partition has been read. A partition with
        records waiting vouches for at least the oldest record waiting (the head),
        so only empty partitions bound it; with none empty it is unbounded."""
        low = _UNBOUNDED
        buffered = self._buffered
        for tp, input_ms in self._input_ms.items():
            if not buffered[tp] and input_ms < low:
                low = input_ms
        return low

    def head_ms(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def over_bound(self) -> bool:
        return len(self._heap) > self._bounds.records or self._bytes > self._bounds.bytes

    def pop(self) -> SourceMessage:
        ts, _, _, _, msg = heapq.heappop(self._heap)
        self._buffered[(msg.topic, msg.partition)] -= 1
        self._bytes -= len(msg.value or b"")
        if ts > self.stream_ms:
            self.stream_ms = ts
        return msg

    def resume_offsets(self, read_next: dict[tuple[str, int], int | None]) -> dict[tuple[str, int], int | None]:
        """Where each partition must be read from again after a restart: its oldest
        record still waiting here, else the reader's next offset."""
        waiting: dict[tuple[str, int], int] = {}
        for _, topic, partition, offset, _ in self._heap:
            tp = (topic, partition)
            if tp not in waiting or offset < waiting[tp]:
                waiting[tp] = offset
        return {tp: waiting.get(tp, nxt) for tp, nxt in read_next.items()}
