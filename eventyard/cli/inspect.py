"""Read one workflow instance from its task store without disturbing the pipeline
(`eventyard state show`, `replay --aggregate`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from eventyard.config import EventyardSettings
from eventyard.core.errors import StoreMissingError
from eventyard.core.routing import task_of
from eventyard.runtime.cluster import recorded_machine
from eventyard.state import OutboxEntry, TaskStore, StateDirectory

__all__ = ["InstanceView", "read_instance"]


@dataclass(frozen=True)
class InstanceView:
    aggregate_id: str
    task: int
    instance: dict[str, Any] | None
    outbox: list[OutboxEntry]

    @staticmethod
    def time(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


def read_instance(settings: EventyardSettings, aggregate_id: str) -> InstanceView:
    """Open the aggregate's task store read-only (RocksDB allows this next to a writer).

    The task is the partition Kafka's default partitioner gives the key; a producer
    with its own partitioner may have put it elsewhere, so the other stores are
    searched when that one does not have it."""
    directory = StateDirectory(settings.state.dir, settings.name)
    directory.check_layout()
    found = directory.manifest()
    tasks = directory.existing_tasks()
    if found is None or not tasks:
        raise StoreMissingError(
            f"no task stores at {directory.root}: the pipeline has not applied an event yet, or "
            f"state.dir points elsewhere{_elsewhere(directory)}")
    home = task_of(aggregate_id, int(found["tasks"]))
    view = None
    for task in [home, *(t for t in tasks if t != home)]:
        view = _read(directory, task, aggregate_id)
        if view is not None and (view.instance is not None or view.outbox):
            return view
    if home not in tasks:
        raise StoreMissingError(
            f"task {home} (of {aggregate_id!r}) has no store at {directory.task_path(home)}: the pipeline "
            f"has not seen this aggregate's partition yet, or state.dir points elsewhere{_elsewhere(directory)}")
    return InstanceView(aggregate_id, home, None, [])


def _elsewhere(directory: StateDirectory) -> str:
    machine = recorded_machine(directory.root)
    return (f"; this state directory is {machine} of a cluster, so the task may be on another "
            "machine: run this there") if machine else ""


def _read(directory: StateDirectory, task: int, aggregate_id: str) -> InstanceView | None:
    path = directory.task_path(task)
    if not path.exists():
        return None
    store = TaskStore.open(path, task, read_only=True)
    try:
        key = aggregate_id.encode()
        outbox = [e for e in store.outbox_after(0) if e.record.key == key]
        return InstanceView(aggregate_id, task, store.get_instance(aggregate_id), outbox)
    finally:
        store.close()
