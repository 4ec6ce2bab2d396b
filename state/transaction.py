"""TaskTransaction: the effects of one event (or one timer) in one WriteBatch.

`new_transaction` makes one: this class, or its compiled twin
(eventyard/core/_transaction.pxi) where the compiled hot path was built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from rocksdict import WriteBatch

from eventyard.core.native import choose
from eventyard.core.records import OutRecord
from eventyard.state import keys
from eventyard.state.outbox import encode_entry, outbox_value

if TYPE_CHECKING:
    from eventyard.state.store import TaskStore

__all__ = ["TaskTransaction", "new_transaction"]

_DELETED = object()


class TaskTransaction:
    """Buffers writes; reads see this transaction's own writes first.

    Nothing reaches RocksDB until `commit()`, so an exception in a handler
    leaves the store exactly as it was. A grouped transaction ignores `commit()`
    and writes everything on `flush()`: a bytewax batch of events becomes one
    WriteBatch, which is still atomic (a crash loses the whole batch, watermarks
    included, and bytewax re-reads it).
    """

    def __init__(self, store: "TaskStore", grouped: bool = False) -> None:
        self._store = store
        self._grouped = grouped
        self._writes: dict[bytes, Any] = {}
        self._outbox: list[bytes] = []
        # Records written in this transaction, as the objects given (None:
        # deleted), encoded once at flush: the engine writes a key several times
        # per event and reads it right back (to drain its queue), and encoding and
        # decoding each time was ~5% of its time. Callers write a record back
        # after every change, so the object holds what the transaction wrote.
        self._instances: dict[str, dict[str, Any] | None] = {}
        self._watermarks: dict[bytes, int] = {}
        self._seen: list[str] = []
        self.min_timer_due: int | None = None  # earliest timer set in this transaction

    def _get(self, key: bytes) -> bytes | None:
        value = self._writes.get(key)
        if value is _DELETED:
            return None
        return value if value is not None else self._store.get(key)

    def _put(self, key: bytes, value: bytes) -> None:
        self._writes[key] = value

    def _delete(self, key: bytes) -> None:
        self._writes[key] = _DELETED

    # -- workflow instances ------------------------------------------------------
    def get_instance(self, aggregate_id: str) -> dict[str, Any] | None:
        if aggregate_id in self._instances:
            return self._instances[aggregate_id]
        return self._store.cached_instance(aggregate_id)

    def put_instance(self, aggregate_id: str, instance: dict[str, Any]) -> None:
        self._instances[aggregate_id] = instance

    def delete_instance(self, aggregate_id: str) -> None:
        self._instances[aggregate_id] = None

    # -- timer index ---------------------------------------------------------------
    def set_timer(self, due_ms: int, aggregate_id: str, name: str) -> None:
        self._put(keys.timer_key(due_ms, aggregate_id, name), b"")
        if self.min_timer_due is None or due_ms < self.min_timer_due:
            self.min_timer_due = due_ms

    def cancel_timer(self, due_ms: int, aggregate_id: str, name: str) -> None:
        self._delete(keys.timer_key(due_ms, aggregate_id, name))

    # -- applied-offset watermark -------------------------------------------------
    def watermark(self, topic: str, partition: int) -> int:
        key = keys.watermark_key(topic, partition)
        offset = self._watermarks.get(key)
        return self._store.watermark_at(key) if offset is None else offset

    def set_watermark(self, topic: str, partition: int, offset: int) -> None:
        self._watermarks[keys.watermark_key(topic, partition)] = offset

    # -- processed event ids (dedup) ---------------------------------------------
    def seen(self, event_id: str) -> bool:
        key = keys.seen_key(event_id)
        if key in self._writes:
            return self._writes[key] is not _DELETED
        return self._store.maybe_seen(event_id) and self._store.get(key) is not None

    def mark_seen(self, event_id: str, now_ms: int) -> None:
        self._put(keys.seen_key(event_id), b"%d" % now_ms)
        self._put(keys.seen_expiry_key(now_ms, event_id), b"")
        self._seen.append(event_id)

    def unmark_seen(self, event_id: str) -> None:
        """Forget that `event_id` was processed (it was dead-lettered after all)."""
        raw = self._get(keys.seen_key(event_id))
        if raw is None:
            return
        self._delete(keys.seen_key(event_id))
        # The expiry entry too: left behind, it would later drop a newer mark early.
        self._delete(keys.seen_expiry_key(int(raw), event_id))

    # -- outbox ------------------------------------------------------------------------
    def append_outbox(self, record: OutRecord, now_ms: int) -> None:
        self._outbox.append(encode_entry(now_ms, record))

    def commit(self) -> None:
        if not self._grouped:
            self.flush()

    def flush(self) -> None:
        if not self._writes and not self._outbox and not self._instances and not self._watermarks:
            return
        batch = WriteBatch(raw_mode=True)
        for aggregate_id, instance in self._instances.items():
            if instance is None:
                batch.delete(keys.instance_key(aggregate_id))
            else:
                batch.put(keys.instance_key(aggregate_id), orjson.dumps(instance))
        for key, offset in self._watermarks.items():
            batch.put(key, b"%d" % offset)
        for key, value in self._writes.items():
            if value is _DELETED:
                batch.delete(key)
            else:
                batch.put(key, value)
        seq = self._store.next_outbox_seq
        if self._outbox:  # one value for the commit's entries, keyed by the first's sequence
            batch.put(keys.outbox_key(seq), outbox_value(self._outbox), self._store.outbox_family)
            seq += len(self._outbox)
        self._store.write(batch)
        self._store.next_outbox_seq = seq
        self._store.committed(self._instances, self._watermarks, self._seen)
        self._writes.clear()
        self._outbox.clear()
        self._instances = {}
        self._watermarks = {}
        self._seen = []
        self.min_timer_due = None

    def discard(self) -> None:
        """Abandon what is buffered (the store's decoded records may hold part of it)."""
        self._writes.clear()
        self._outbox.clear()
        self._instances = {}
        self._watermarks = {}
        self._seen = []
        self._store.forget_cached()


# new_transaction(store, grouped): a TaskTransaction, compiled when it can be
new_transaction: Callable[..., TaskTransaction] = choose(
    TaskTransaction, "TaskTransaction", WriteBatch, encode_entry, outbox_value, keys.watermark_key, orjson.dumps)
