"""Edge metrics shared by both transports, counted once per batch to stay cheap."""

from __future__ import annotations

from typing import Any

from prometheus_client import Gauge

from eventyard.observe import metrics
from eventyard.core.records import OutRecord

__all__ = ["PartitionMeter", "OutMeter"]

_TYPE_HEADER = "eventyard.type"


class PartitionMeter:
    """Records read and consumer lag of one input partition (label children resolved once)."""

    def __init__(self, pipeline: str, topic: str, partition: int) -> None:
        self._read = metrics.EVENTS_IN.labels(pipeline, topic)
        self._lag_labels = (pipeline, topic, str(partition))
        self._lag: Gauge | None = None  # created at the first known lag: no false 0 before

    def read(self, count: int) -> None:
        self._read.inc(count)

    def lag(self, highwater: int | None, next_offset: int) -> None:
        """`highwater` comes from the latest fetch response; None before the first one."""
        if highwater is None:
            return
        if self._lag is None:
            self._lag = metrics.CONSUMER_LAG.labels(*self._lag_labels)
        self._lag.set(max(0, highwater - next_offset))


class OutMeter:
    """Records a sink wrote, by (topic, eventyard.type header; "" when a record has
    none), counted once per batch with each label child resolved once."""

    _MAX_CHILDREN = 4096  # dead letters carry their input's headers: types are open-ended

    def __init__(self, pipeline: str) -> None:
        self._pipeline = pipeline
        self._children: dict[tuple[str, bytes], Any] = {}

    def count(self, records: list[OutRecord]) -> None:
        counts: dict[tuple[str, bytes], int] = {}
        for record in records:
            headers = record.headers
            # Outputs carry their type as the second header (operators/outputs.py): look there first.
            if len(headers) > 1 and headers[1][0] == _TYPE_HEADER and headers[0][0] != _TYPE_HEADER:
                kind = headers[1][1]
            else:
                kind = next((value for name, value in headers if name == _TYPE_HEADER), b"")
            key = (record.topic, kind)
            counts[key] = counts.get(key, 0) + 1
        children = self._children
        for key, n in counts.items():
            child = children.get(key)
            if child is None:
                if len(children) >= self._MAX_CHILDREN:
                    children.clear()
                child = children[key] = metrics.EVENTS_OUT.labels(
                    self._pipeline, key[0], (key[1] or b"").decode(errors="replace"))
            child.inc(n)
