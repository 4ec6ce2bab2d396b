"""The bytewax stateful step: one logic per virtual shard, state in RocksDB.

bytewax keeps only this small object per shard in memory and snapshots just
`{"shard", "outbox_seq"}`; workflow state lives in the shard's RocksDB store.

At-least-once output across crashes: every output is appended to the shard's
outbox (same WriteBatch as the state change) with a sequence number. The snapshot
taken at the end of an epoch records the last sequence emitted in that epoch;
the sink flushes the producer before the epoch commits. On resume, every outbox
entry after the snapshot's sequence may not have reached Kafka, so it is emitted
again (same bytes, same event_id). This covers timer outputs too, which have no
input offset to be re-read from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from bytewax.operators import StatefulBatchLogic

from eventyard.records import OutRecord
from eventyard.routing import shard_of
from operators.decode import Inbound
from operators.engine import WorkflowEngine
from state import ShardStore, StateDirectory

__all__ = ["ShardRuntime", "ShardLogic"]

log = logging.getLogger(__name__)

_HOUSEKEEPING_EVERY = timedelta(seconds=30)
_TIMERS_PER_NOTIFY = 1000


@dataclass
class ShardRuntime:
    """What every shard logic of one worker shares."""

    directory: StateDirectory
    engine: WorkflowEngine
    outbox_retention: timedelta
    dedup_retention: timedelta
    rebuild_missing: bool = False

    def open_store(self, shard: int, known: bool) -> ShardStore:
        """A shard bytewax has a snapshot for (`known`) must already have a store."""
        create = not known or self.rebuild_missing
        return ShardStore.open(self.directory.shard_path(shard), shard, create=create)

    def builder(self, resume: dict[str, Any] | None) -> "ShardLogic":
        return ShardLogic(self, resume)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


class ShardLogic(StatefulBatchLogic[Inbound, OutRecord, dict[str, Any]]):
    def __init__(self, runtime: ShardRuntime, resume: dict[str, Any] | None) -> None:
        self.runtime = runtime
        self.engine = runtime.engine
        self.store: ShardStore | None = None
        # Outbox entries after this sequence must be (re-)emitted before new work.
        self.emitted_seq: int = resume["outbox_seq"] if resume else 0
        self.resend_pending = True
        self.next_housekeeping = datetime.now(timezone.utc)
        if resume is not None:
            self._open(resume["shard"], known=True)

    def _open(self, shard: int, known: bool) -> ShardStore:
        self.store = self.runtime.open_store(shard, known)
        return self.store

    def _resend(self) -> list[OutRecord]:
        if not self.resend_pending or self.store is None:
            return []
        self.resend_pending = False
        records = [entry.record for entry in self.store.outbox_after(self.emitted_seq)]
        if records:
            log.info("shard %d: re-emitting %d outbox records not confirmed before restart",
                     self.store.shard, len(records))
        return records

    def on_batch(self, values: list[Inbound]) -> tuple[list[OutRecord], bool]:
        if self.store is None:
            first = values[0].envelope.aggregate_id
            self._open(shard_of(first, self.runtime.directory.shards), known=False)
        store = self.store
        assert store is not None
        out = self._resend()
        for inbound in values:
            out.extend(self.engine.apply(store.transaction(), inbound))
        return out, StatefulBatchLogic.RETAIN

    def notify_at(self) -> datetime | None:
        if self.store is None:
            return None
        if self.resend_pending:
            return datetime.now(timezone.utc)
        timer = self.store.earliest_timer()
        due = self.next_housekeeping if timer is None else min(_utc(timer.due_ms), self.next_housekeeping)
        return due

    def on_notify(self) -> tuple[list[OutRecord], bool]:
        # Always move notify_at forward (bytewax #578: a past due time busy-loops).
        store = self.store
        if store is None:
            return [], StatefulBatchLogic.RETAIN
        out = self._resend()
        now = datetime.now(timezone.utc)
        now_ms = int(now.timestamp() * 1000)
        for timer in store.due_timers(now_ms, limit=_TIMERS_PER_NOTIFY):
            out.extend(self.engine.fire(store.transaction(), timer))
        if now >= self.next_housekeeping:
            self.next_housekeeping = now + _HOUSEKEEPING_EVERY
            store.expire(
                outbox_before_ms=now_ms - int(self.runtime.outbox_retention.total_seconds() * 1000),
                seen_before_ms=now_ms - int(self.runtime.dedup_retention.total_seconds() * 1000),
            )
        return out, StatefulBatchLogic.RETAIN

    def snapshot(self) -> dict[str, Any]:
        assert self.store is not None
        self.emitted_seq = self.store.next_outbox_seq - 1
        return {"shard": self.store.shard, "outbox_seq": self.emitted_seq}
