"""Edge metrics shared by both transports, counted once per batch to stay cheap."""

from __future__ import annotations

from collections import Counter

from prometheus_client import Gauge

from eventyard.observe import metrics
from eventyard.core.records import OutRecord

__all__ = ["PartitionMeter", "count_out"]

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


def count_out(pipeline: str, records: list[OutRecord]) -> None:
    """Count a written batch by (topic, eventyard.type header); "" when a record has none."""
    counts: Counter[tuple[str, bytes]] = Counter()
    for record in records:
        kind = b""
        for name, value in record.headers:
            if name == _TYPE_HEADER:
                kind = value
                break
        counts[(record.topic, kind)] += 1
    for (topic, kind), n in counts.items():
        metrics.EVENTS_OUT.labels(pipeline, topic, kind.decode(errors="replace")).inc(n)
