"""ShardStore: one RocksDB database holding everything one shard knows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from rocksdict import AccessType, Options, Rdict, WriteBatch

from eventyard.core.errors import StoreCorruptError, StoreLockedError, StoreMissingError
from eventyard.core.records import OutRecord
from eventyard.state import keys
from eventyard.state.memory import store_memory
from eventyard.state.outbox import decode_entry, entry_created_ms

if TYPE_CHECKING:
    from eventyard.state.transaction import ShardTransaction

__all__ = ["ShardStore", "TimerEntry", "OutboxEntry"]


@dataclass(frozen=True, slots=True)
class TimerEntry:
    due_ms: int
    aggregate_id: str
    name: str


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    seq: int
    created_ms: int
    record: OutRecord


def _options(create: bool) -> Options:
    opts = Options(raw_mode=True)
    opts.create_if_missing(create)
    store_memory().apply(opts)
    return opts


class ShardStore:
    """Committed reads plus `transaction()` for atomic writes.

    The outbox sequence lives in memory and is recovered on open from the last
    outbox key, so appends never read RocksDB.
    """

    def __init__(self, db: Rdict, path: Path, shard: int, read_only: bool) -> None:
        self._db = db
        self.path = path
        self.shard = shard
        self.read_only = read_only
        last = self._last_key(keys.OUTBOX_PREFIX)
        # The newest outbox entry is never expired (see expire), so the sequence only
        # grows; a store without one has never emitted (or predates that rule).
        self.has_emitted = last is not None
        self.next_outbox_seq = keys.parse_outbox_key(last) + 1 if last else 1
        self._unsynced = False
        meta = db.get(keys.META_KEY)
        self.meta: dict[str, Any] = orjson.loads(meta) if meta else {}

    # -- opening -----------------------------------------------------------
    @classmethod
    def open(
        cls, path: Path, shard: int, *, create: bool = False, read_only: bool = False
    ) -> "ShardStore":
        """Open a shard store. Missing stores are created only if `create`."""
        exists = (path / "CURRENT").exists()
        if not exists and not create:
            raise StoreMissingError(
                f"shard {shard}: store {path} is missing. On several machines, after a change of "
                "--cluster/--machine/--processes the store may be on another machine: copy it here "
                "or start the previous layout. Otherwise restore it from a backup, or rebuild state "
                "with `eventyard replay` (or set state.rebuild_missing=true to start this shard empty)"
            )
        try:
            if read_only:
                db = Rdict(str(path), _options(False), access_type=AccessType.read_only())
            else:
                db = Rdict(str(path), _options(create))
        except Exception as exc:  # rocksdict raises plain Exception
            text = str(exc)
            if "lock" in text.lower():
                raise StoreLockedError(
                    f"shard {shard}: store {path} is in use by another process ({text})"
                ) from None
            raise StoreCorruptError(
                f"shard {shard}: store {path} cannot be opened ({text}). Restore it from "
                "a backup or rebuild it with `eventyard replay`"
            ) from None
        store = cls(db, path, shard, read_only)
        if not read_only and not store.meta:
            store.meta = {"shard": shard}
            store._db.put(keys.META_KEY, orjson.dumps(store.meta))
        elif store.meta.get("shard", shard) != shard:
            db.close()
            raise StoreCorruptError(
                f"shard {shard}: store {path} belongs to shard {store.meta['shard']}"
            )
        return store

    def close(self) -> None:
        self._db.close()

    def transaction(self, grouped: bool = False) -> "ShardTransaction":
        """A transaction; `grouped` ones write only on `flush()` (one batch for many events)."""
        from eventyard.state.transaction import ShardTransaction

        return ShardTransaction(self, grouped)

    def write(self, batch: WriteBatch) -> None:
        self._db.write(batch)
        self._unsynced = True

    @property
    def needs_sync(self) -> bool:
        """Written since the last `sync()`."""
        return self._unsynced

    def sync(self) -> None:
        """fsync the write-ahead log if anything was written since the last sync.

        Writes are not synced one by one; a power loss could then drop writes older
        than the recovery snapshot, whose inputs are never read again. Syncing when a
        snapshot is taken keeps every store at least as new as its snapshot.
        """
        if self._unsynced:
            self._db.flush_wal(True)
            self._unsynced = False

    def continue_outbox_after(self, seq: int) -> None:
        """Number the next outbox entry after `seq` (a store that has no entry to say so)."""
        self.next_outbox_seq = max(self.next_outbox_seq, seq + 1)

    # -- committed reads -----------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def get_instance(self, aggregate_id: str) -> dict[str, Any] | None:
        raw = self._db.get(keys.instance_key(aggregate_id))
        return None if raw is None else orjson.loads(raw)

    def instances(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for key, value in self._scan(keys.INSTANCE_PREFIX):
            yield key[1:].decode(), orjson.loads(value)

    def watermark(self, topic: str, partition: int) -> int:
        raw = self._db.get(keys.watermark_key(topic, partition))
        return -1 if raw is None else int(raw)

    def earliest_timer(self) -> TimerEntry | None:
        for key, _ in self._scan(keys.TIMER_PREFIX):
            return TimerEntry(*keys.parse_timer_key(key))
        return None

    def due_timers(self, now_ms: int, limit: int = 1000) -> list[TimerEntry]:
        due: list[TimerEntry] = []
        for key, _ in self._scan(keys.TIMER_PREFIX):
            entry = TimerEntry(*keys.parse_timer_key(key))
            if entry.due_ms > now_ms or len(due) >= limit:
                break
            due.append(entry)
        return due

    def timers(self) -> Iterator[TimerEntry]:
        for key, _ in self._scan(keys.TIMER_PREFIX):
            yield TimerEntry(*keys.parse_timer_key(key))

    def outbox_after(self, seq: int) -> Iterator[OutboxEntry]:
        for key, value in self._scan(keys.OUTBOX_PREFIX, start=keys.outbox_key(seq + 1)):
            created_ms, record = decode_entry(value)
            yield OutboxEntry(keys.parse_outbox_key(key), created_ms, record)

    def counts(self) -> tuple[int, int]:
        """(stored keys, pending timers), by a key-only scan: for gauges, not hot paths."""
        return self._count(keys.INSTANCE_PREFIX), self._count(keys.TIMER_PREFIX)

    # -- housekeeping ----------------------------------------------------------
    def expire(self, outbox_before_ms: int, seen_before_ms: int, limit: int = 10_000) -> int:
        """Drop outbox entries and dedup marks older than their retention."""
        batch = WriteBatch(raw_mode=True)
        dropped = 0
        newest = keys.outbox_key(self.next_outbox_seq - 1)  # kept: it carries the outbox sequence
        for key, value in self._scan(keys.OUTBOX_PREFIX):
            if dropped >= limit or key == newest or entry_created_ms(value) >= outbox_before_ms:
                break
            batch.delete(key)
            dropped += 1
        for key, _ in self._scan(keys.SEEN_EXPIRY_PREFIX):
            at_ms, event_id = keys.parse_seen_expiry_key(key)
            if dropped >= limit or at_ms >= seen_before_ms:
                break
            batch.delete(key)
            batch.delete(keys.seen_key(event_id))
            dropped += 1
        if dropped:
            self.write(batch)
        return dropped

    # -- internals ---------------------------------------------------------------
    def _scan(self, prefix: bytes, start: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        it = self._db.iter()
        it.seek(start or prefix)
        while it.valid():
            key = it.key()
            if not key.startswith(prefix):
                return
            yield key, it.value()
            it.next()

    def _count(self, prefix: bytes) -> int:
        it = self._db.iter()
        it.seek(prefix)
        n = 0
        while it.valid() and it.key().startswith(prefix):
            n += 1
            it.next()
        return n

    def _last_key(self, prefix: bytes) -> bytes | None:
        it = self._db.iter()
        it.seek_for_prev(prefix + b"\xff")
        if it.valid() and it.key().startswith(prefix):
            return it.key()
        return None
