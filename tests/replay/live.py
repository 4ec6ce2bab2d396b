"""A live run without Kafka: the pipeline's operators on real task stores, fed in
arrival order, timers fired by a hand-moved stream time. What it publishes to the
decisions topic is what a replay (eventyard.replay.Rebuilder) must obey."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from eventyard.config import EventyardSettings
from eventyard.core.deadletter import DeadLetterRecord
from eventyard.core.records import OutRecord, SourceMessage

from eventyard.operators.decode import Inbound
from eventyard.pipelines.definition import PipelineDefinition
from eventyard.replay import DecisionLog, Rebuilder, compare_states
from eventyard.runtime.flow import build_decoder, build_operators
from eventyard.state import StateDirectory, TaskStore

__all__ = ["LiveRun", "replay_differences"]


@dataclass
class LiveRun:
    definition: PipelineDefinition
    settings: EventyardSettings
    root: Path
    outputs: list[OutRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        s = self.settings
        self.operators = build_operators(self.definition, s)
        self.decoder = build_decoder(self.definition, s)
        self.directory = StateDirectory(self.root, s.name, 1)
        self.directory.ensure()
        self.stores: dict[int, TaskStore] = {}

    def _store(self, task: int) -> TaskStore:
        if task not in self.stores:
            self.stores[task] = TaskStore.open(self.directory.task_path(task), task, create=True)
        return self.stores[task]

    def feed(self, msg: SourceMessage) -> None:
        item = self.decoder(msg)
        assert not isinstance(item, DeadLetterRecord), item
        assert isinstance(item, Inbound)
        for delivery in self.operators.deliveries(item):
            store = self._store(msg.partition)
            self.outputs += self.operators.apply(store.transaction(), delivery)

    def advance_to(self, now_ms: int) -> None:
        """Fire every timer due by `now_ms`, in due order, as stream time passes it."""
        while True:
            due = sorted((t.due_ms, shard, t) for shard, store in self.stores.items()
                         for t in store.due_timers(now_ms))
            if not due:
                return
            _, shard, timer = due[0]
            self.outputs += self.operators.fire(self.stores[shard].transaction(), timer)

    def decisions(self) -> DecisionLog:
        topic = self.settings.pipeline.decisions
        return DecisionLog.from_records(
            SourceMessage(r.topic, 0, i, r.key, r.value, r.headers, 0)
            for i, r in enumerate(self.outputs) if r.topic == topic)

    def close(self) -> None:
        for store in self.stores.values():
            store.close()
        self.stores.clear()


def replay_differences(live: LiveRun, messages: list[SourceMessage], target: Path) -> dict[str, list[str]]:
    """Rebuild from `messages` in replay's merge order, obeying the live decisions;
    the aggregates whose state differs from the live run's (empty: identical)."""
    live.close()
    rebuilder = Rebuilder(live.definition, live.settings, target, live.decisions())
    for msg in sorted(messages, key=lambda m: (m.timestamp_ms, m.topic, m.partition, m.offset)):
        rebuilder.feed(msg)
    rebuilder.finish()
    diff = compare_states(live.directory, StateDirectory(target, live.settings.name))
    return {**diff.different, **{a: ["only live"] for a in diff.only_live},
            **{a: ["only rebuilt"] for a in diff.only_rebuilt}}
