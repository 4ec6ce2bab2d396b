"""One replay: read decisions, merge inputs by timestamp, rebuild, report progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaProducer

from eventyard.config import EventyardSettings
from eventyard.kafka.reader import PartitionStream, merged, open_streams, read_topic
from eventyard.core.records import OutRecord
from eventyard.replay.decisions import DecisionLog
from eventyard.replay.rebuild import Rebuilder, RebuildStats
from eventyard.operators.decisions import merge_key
from eventyard.pipelines.definition import PipelineDefinition
from eventyard.runtime.flow import input_tasks

__all__ = ["ReplayProgress", "ReplayResult", "run_replay"]


@dataclass(frozen=True)
class ReplayProgress:
    done: int  # offsets consumed, all partitions
    total: int  # offsets to consume as reported at the start
    partitions: dict[str, tuple[int, int]]  # "topic[p]" -> (offsets done, offsets to do)
    events_per_s: float


@dataclass(frozen=True)
class ReplayResult:
    stats: RebuildStats
    decisions: int
    seconds: float

    @property
    def events_per_s(self) -> float:
        return self.stats.events / self.seconds if self.seconds else 0.0


def _progress(streams: list[PartitionStream], started: float, events: int) -> ReplayProgress:
    parts = {f"{s.tp.topic}[{s.tp.partition}]": (s.position - s.start, max(s.end, s.position) - s.start)
             for s in streams}
    done = sum(position for position, _ in parts.values())
    total = sum(end for _, end in parts.values())
    return ReplayProgress(done, total, parts, events / max(time.monotonic() - started, 1e-9))


def run_replay(definition: PipelineDefinition, settings: EventyardSettings, target: Path, *,
               since_ms: int | None = None, emit: bool = False, aggregate: str | None = None,
               on_progress: Callable[[ReplayProgress], None] | None = None) -> ReplayResult:
    started = time.monotonic()
    decisions = DecisionLog.from_records(read_topic(settings.kafka, settings.pipeline.decisions))
    producer = KafkaProducer(**settings.kafka.client_options(), linger_ms=5) if emit else None

    def send(records: list[OutRecord]) -> None:
        assert producer is not None
        for r in records:
            producer.send(r.topic, key=r.key, value=r.value, headers=list(r.headers))

    tasks = input_tasks(settings)
    rebuilder = Rebuilder(definition, settings, target, decisions, send if producer else None, aggregate, tasks)
    streams = open_streams(settings.kafka, list(settings.pipeline.inputs), since_ms)
    try:
        for n, msg in enumerate(merged(streams, merge_key), 1):
            rebuilder.feed(msg)
            if on_progress and n % 500 == 0:
                on_progress(_progress(streams, started, n))
        stats = rebuilder.finish()
        if on_progress:
            on_progress(_progress(streams, started, stats.events))
        if producer:
            producer.flush()
    finally:
        rebuilder.close()
        for stream in streams:
            stream.close()
        if producer:
            producer.close()
    return ReplayResult(stats, decisions.records, time.monotonic() - started)
