"""What both transports' sinks share: how output records spread over sink partitions."""

from __future__ import annotations

import zlib

from bytewax.outputs import FixedPartitionedSink

from config import KafkaSettings
from eventyard.records import OutRecord

__all__ = ["EdgeSink"]


class EdgeSink(FixedPartitionedSink[OutRecord, None]):
    """Items are `(shard_key, OutRecord)`; sink partitions only spread the work.

    A transport implements `build_part`; the producer is shared per process, so
    the number of partitions only sets how many writers bytewax spreads over workers.
    """

    def __init__(self, settings: KafkaSettings, pipeline: str, partitions: int = 8) -> None:
        self.settings = settings
        self.pipeline = pipeline  # metrics label
        self.partitions = partitions

    def list_parts(self) -> list[str]:
        return [str(i) for i in range(self.partitions)]

    def part_fn(self, item_key: str) -> int:
        # crc32, never hash(): every worker must pick the same partition for a key.
        return zlib.crc32(item_key.encode())
