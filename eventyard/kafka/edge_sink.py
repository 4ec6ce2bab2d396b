"""What both transports' sinks share: each worker process writes the records it made."""

from __future__ import annotations

from bytewax.outputs import FixedPartitionedSink

from eventyard.config import KafkaSettings
from eventyard.core.errors import ConfigError
from eventyard.core.records import OutRecord

__all__ = ["EdgeSink", "MAX_PROCESSES", "flatten", "process_part"]

MAX_PROCESSES = 256  # a cap on a cluster (tasks cap useful parallelism: one per input partition)
# The partitions of releases before process-local ones ("0".."7"): a recovery
# store written by one holds their snapshots. They sort before every "pNNN".
_LEGACY_PARTS = tuple(str(i) for i in range(8))


def process_part(process: int) -> str:
    """The sink partition of worker process `process`."""
    return f"p{process:03d}"


def flatten(items: list[list[OutRecord]]) -> list[OutRecord]:
    """The records of a sink batch's items (a task run's records each), in order."""
    if len(items) == 1:
        return items[0]
    return [record for records in items for record in records]


class EdgeSink(FixedPartitionedSink[list[OutRecord], None]):
    """Items are `(key, [OutRecord, ...])`, one per task run; a process's records go to
    its own partition.

    bytewax moves an item to the worker that is primary for its sink partition,
    pickling it both ways when that is another process: with partitions shared by
    all workers, half of every output record did, a quarter of each worker's thread
    with 2 processes (docs/benchmarks.md). Now each process lists a partition no
    other lists (so it is primary for it) and `part_fn` always picks it. At-least-
    once is unchanged: every partition flushes its process's shared producer at
    the end of an epoch in which it wrote.

    Every worker also lists the partitions of processes not running now and the
    legacy ones: bytewax resumes each partition in its recovery store on a worker
    that lists it, and panics if none does (fewer processes than last run, or a
    store from an older release). They are built only if resumed and never written.

    A transport implements `build_part`; the producer is shared per process.
    """

    def __init__(self, settings: KafkaSettings, pipeline: str, process: int = 0, processes: int = 1) -> None:
        if not 0 < processes <= MAX_PROCESSES or not 0 <= process < processes:
            raise ConfigError(f"worker process {process} of {processes}: "
                              f"at most {MAX_PROCESSES} processes, numbered from 0")
        self.settings = settings
        self.pipeline = pipeline  # metrics label
        self.process = process
        self.processes = processes

    def list_parts(self) -> list[str]:
        absent = [process_part(p) for p in range(self.processes, MAX_PROCESSES)]
        return [process_part(self.process), *absent, *_LEGACY_PARTS]

    def part_fn(self, item_key: str) -> int:
        # bytewax indexes the sorted union of every worker's list_parts with this:
        # the legacy names, then p000..p255.
        return len(_LEGACY_PARTS) + self.process
