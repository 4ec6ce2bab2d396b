"""EventTimeMerge: a task's input partitions merged into one event-time order.

A task reads partition p of every input topic. Partitions are read at different
speeds (a backlog on one topic, a slow fetch), so arrival order says little about
what happened first. The merge takes the partition whose next record has the
smallest (timestamp, topic, partition, offset), the k-way merge replay does, and
releases that record only once every partition of the task has been read up to its
timestamp: a partition with records waiting vouches with its next one, an empty
one with its input time (the wall clock when caught up, else the newest timestamp
read from it). Within a partition records keep their offset order, whatever their
timestamps say (producers may stamp out of order): the engine's applied-offset
watermark relies on it, and so does replay.

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
from collections import deque
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
        self._queues: dict[tuple[str, int], deque[SourceMessage]] = {tp: deque() for tp in partitions}
        # One entry per partition with records waiting: its next record's merge key.
        self._heads: list[tuple[int, str, int, int]] = []
        self._input_ms: dict[tuple[str, int], int] = {tp: 0 for tp in partitions}
        self._count = 0
        self._bytes = 0
        self._vouched: int | None = None  # vouched_ms(), until a queue empties or an input time moves
        self.stream_ms = 0  # the newest timestamp released: the task's stream time

    # -- feeding -------------------------------------------------------------------
    def add(self, records: list[SourceMessage]) -> None:
        """Records of the task's partitions, each partition's in offset order."""
        queues = self._queues
        for msg in records:
            queue = queues[(msg.topic, msg.partition)]
            if not queue:
                heapq.heappush(self._heads, (msg.timestamp_ms, msg.topic, msg.partition, msg.offset))
            queue.append(msg)
            self._bytes += len(msg.value or b"")
        self._count += len(records)
        self._vouched = None

    def set_input_time(self, topic: str, partition: int, input_ms: int) -> None:
        """How far the partition has been read, in event time (see module doc)."""
        tp = (topic, partition)
        if input_ms > self._input_ms[tp]:
            self._input_ms[tp] = input_ms
            self._vouched = None

    def buffered(self, topic: str, partition: int) -> int:
        return len(self._queues[(topic, partition)])

    def __len__(self) -> int:
        return self._count

    # -- releasing -------------------------------------------------------------------
    def vouched_ms(self) -> int:
        """Event time up to which every partition has been read. A partition with
        records waiting vouches for at least the next record of all (the head), so
        only empty partitions bound it; with none empty it is unbounded."""
        if self._vouched is not None:  # asked once per released record; it rarely moves
            return self._vouched
        low = _UNBOUNDED
        queues = self._queues
        for tp, input_ms in self._input_ms.items():
            if not queues[tp] and input_ms < low:
                low = input_ms
        self._vouched = low
        return low

    def head_ms(self) -> int | None:
        return self._heads[0][0] if self._heads else None

    def over_bound(self) -> bool:
        return self._count > self._bounds.records or self._bytes > self._bounds.bytes

    def pop(self) -> SourceMessage:
        ts, topic, partition, _ = heapq.heappop(self._heads)
        queue = self._queues[(topic, partition)]
        msg = queue.popleft()
        if queue:
            nxt = queue[0]
            heapq.heappush(self._heads, (nxt.timestamp_ms, topic, partition, nxt.offset))
        else:
            self._vouched = None  # an emptied partition vouches with its input time now
        self._count -= 1
        self._bytes -= len(msg.value or b"")
        if ts > self.stream_ms:
            self.stream_ms = ts
        return msg

    def resume_offsets(self, read_next: dict[tuple[str, int], int | None]) -> dict[tuple[str, int], int | None]:
        """Where each partition must be read from again after a restart: its oldest
        record still waiting here, else the reader's next offset."""
        return {tp: (self._queues[tp][0].offset if self._queues.get(tp) else nxt) for tp, nxt in read_next.items()}
