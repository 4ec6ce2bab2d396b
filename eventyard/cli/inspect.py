"""Read one workflow instance from its shard store without disturbing the pipeline
(`eventyard state show`, `replay --aggregate`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from eventyard.config import EventyardSettings
from eventyard.core.errors import StoreMissingError
from eventyard.core.routing import shard_of
from eventyard.runtime.cluster import recorded_machine
from eventyard.state import OutboxEntry, ShardStore, StateDirectory

__all__ = ["InstanceView", "read_instance"]


@dataclass(frozen=True)
class InstanceView:
    aggregate_id: str
    shard: int
    instance: dict[str, Any] | None
    outbox: list[OutboxEntry]

    @staticmethod
    def time(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


def read_instance(settings: EventyardSettings, aggregate_id: str) -> InstanceView:
    """Open the aggregate's shard read-only (RocksDB allows this next to a writer)."""
    directory = StateDirectory(settings.state.dir, settings.name, settings.state.shards)
    shard = shard_of(aggregate_id, settings.state.shards)
    path = directory.shard_path(shard)
    if not path.exists():
        machine = recorded_machine(directory.root)
        elsewhere = (f"; this state directory is {machine} of a cluster, so the shard may be on another "
                     "machine: run this there") if machine else ""
        raise StoreMissingError(
            f"shard {shard} (of {aggregate_id!r}) has no store at {path}: the pipeline has not "
            f"seen this aggregate's shard yet, or state.dir points elsewhere{elsewhere}"
        )
    store = ShardStore.open(path, shard, read_only=True)
    try:
        key = aggregate_id.encode()
        outbox = [e for e in store.outbox_after(0) if e.record.key == key]
        return InstanceView(aggregate_id, shard, store.get_instance(aggregate_id), outbox)
    finally:
        store.close()
