"""TaskStore: one RocksDB database holding everything one task knows.

A task is one input partition number (partition p of every input topic); its store
holds the workflow instances and operator records of the keys in those partitions,
their timers, the applied-offset watermarks, dedup marks and the outbox.

The outbox has a column family of its own (`outbox`): its entries are most of the
bytes a task writes and are never read by key, and sharing the LSM tree with the
point-lookup data made every compaction rewrite them (~6 us of background CPU per
event, benchmarks.md). One WriteBatch still spans both families, so an event's
state and its outputs commit together.

Hot reads are served from memory where that is exact: the watermarks (only this
store writes them), a Bloom filter over the dedup marks (`SeenFilter`: a miss
never reads RocksDB) and a bounded cache of committed records, decoded.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from rocksdict import AccessType, ColumnFamily, Options, Rdict, WriteBatch

from eventyard.core.values import quick_init
from eventyard.core.errors import StoreCorruptError, StoreLockedError, StoreMissingError
from eventyard.core.records import OutRecord
from eventyard.state import keys
from eventyard.state.memory import store_memory
from eventyard.state.outbox import decode_entry, value_count, value_created_ms, value_entries
from eventyard.state.seen_filter import SeenFilter

if TYPE_CHECKING:
    from eventyard.state.transaction import TaskTransaction

__all__ = ["TaskStore", "TimerEntry", "OutboxEntry", "stores_opened_here"]


@quick_init
@dataclass(frozen=True, slots=True)
class TimerEntry:
    due_ms: int
    aggregate_id: str
    name: str


@quick_init
@dataclass(frozen=True, slots=True)
class OutboxEntry:
    seq: int
    created_ms: int
    record: OutRecord


OUTBOX_FAMILY = "outbox"
_MOVE_CHUNK = 10_000  # outbox entries moved per WriteBatch out of a store of an older release

log = logging.getLogger(__name__)


def _options(create: bool) -> Options:
    opts = Options(raw_mode=True)
    opts.create_if_missing(create)
    opts.create_missing_column_families(True)
    store_memory().apply(opts)
    return opts


def _families(path: Path, read_only: bool) -> dict[str, Options]:
    """The outbox family; a read-only open of a store written before it had one reads
    the outbox where that release kept it (the default family)."""
    if read_only and OUTBOX_FAMILY not in Rdict.list_cf(str(path)):
        return {}
    opts = Options(raw_mode=True)
    store_memory().apply_outbox(opts)
    return {OUTBOX_FAMILY: opts}


# Committed records kept decoded per store. A task's keys are mostly touched a few
# times within seconds (a saga's events), so a modest cache saves most reads and
# JSON decodes; the engine writes every changed record back, so a cached object
# always equals what was committed.
_opened_by: int | None = None  # the pid that last opened a store
_SEEN_HINT = "dedup_marks"  # store metadata: dedup marks lately held (sizes the filter on open)


def stores_opened_here() -> bool:
    """Has this process opened a RocksDB store? Then it must not fork workers that
    use RocksDB: its background threads do not survive fork(), and a child's store
    then waits forever for a flush or a close."""
    return _opened_by == os.getpid()


class TaskStore:
    """Committed reads plus `transaction()` for atomic writes.

    The outbox sequence lives in memory and is recovered on open from the last
    outbox key, so appends never read RocksDB.
    """

    def __init__(self, db: Rdict, path: Path, task: int, read_only: bool, has_family: bool) -> None:
        self._db = db
        self.path = path
        self.task = task
        self.read_only = read_only
        self._outbox_db = db.get_column_family(OUTBOX_FAMILY) if has_family else db
        self.outbox_family: ColumnFamily | None = db.get_column_family_handle(OUTBOX_FAMILY) if has_family else None
        if not read_only:
            self._move_outbox_to_family()
        last = self._last_key(keys.OUTBOX_PREFIX, self._outbox_db)
        # The newest outbox value is never expired (see expire), so the sequence only
        # grows; a store without one has never emitted (or predates that rule).
        self.has_emitted = last is not None
        self.next_outbox_seq = 1
        if last is not None:
            self.next_outbox_seq = keys.parse_outbox_key(last) + value_count(self._outbox_db[last])
        self._unsynced = False
        meta = db.get(keys.META_KEY)
        self.meta: dict[str, Any] = orjson.loads(meta) if meta else {}
        self._watermarks: dict[bytes, int] = {}
        self._records: dict[str, dict[str, Any]] = {}
        self._records_kept = store_memory().records_per_store
        self._seen: SeenFilter | None = None if read_only else self._load_seen()

    # -- opening -----------------------------------------------------------
    @classmethod
    def open(
        cls, path: Path, task: int, *, create: bool = False, read_only: bool = False
    ) -> "TaskStore":
        """Open a task store. Missing stores are created only if `create`."""
        exists = (path / "CURRENT").exists()
        if not exists and not create:
            raise StoreMissingError(
                f"task {task}: store {path} is missing. On several machines, after a change of "
                "--cluster/--machine/--processes the store may be on another machine: copy it here "
                "or start the previous layout. Otherwise restore it from a backup, or rebuild state "
                "with `eventyard replay` (or set state.rebuild_missing=true to start this task empty)"
            )
        try:
            families = _families(path, read_only)  # reads the store's MANIFEST: inside the try
            if read_only:
                db = Rdict(str(path), _options(False), column_families=families, access_type=AccessType.read_only())
            else:
                db = Rdict(str(path), _options(create), column_families=families)
        except Exception as exc:  # rocksdict raises plain Exception
            text = str(exc)
            if "lock" in text.lower():
                raise StoreLockedError(
                    f"task {task}: store {path} is in use by another process ({text})"
                ) from None
            raise StoreCorruptError(
                f"task {task}: store {path} cannot be opened ({text}). Restore it from "
                "a backup or rebuild it with `eventyard replay`"
            ) from None
        global _opened_by
        _opened_by = os.getpid()
        store = cls(db, path, task, read_only, has_family=bool(families))
        if not read_only and not store.meta:
            store.meta = {"task": task}
            store._db.put(keys.META_KEY, orjson.dumps(store.meta))
        elif store.meta.get("task", task) != task:
            db.close()
            raise StoreCorruptError(
                f"task {task}: store {path} belongs to task {store.meta['task']}"
            )
        return store

    def close(self) -> None:
        # The family's view and handle share the database: closed and dropped first,
        # or the database (and its lock) outlives close().
        if self._outbox_db is not self._db:
            self._outbox_db.close()
        self._outbox_db, self.outbox_family = self._db, None
        self._db.close()

    def transaction(self, grouped: bool = False) -> "TaskTransaction":
        """A transaction; `grouped` ones write only on `flush()` (one batch for many events)."""
        from eventyard.state.transaction import new_transaction

        return new_transaction(self, grouped)

    def write(self, batch: WriteBatch) -> None:
        self._db.write(batch)
        self._unsynced = True

    def committed(self, instances: dict[str, dict[str, Any] | None], watermarks: dict[bytes, int],
                  seen: list[str]) -> None:
        """What a transaction just wrote, for the in-memory views (after `write`)."""
        records = self._records
        for stored_id, record in instances.items():
            if record is None:
                records.pop(stored_id, None)
            else:
                records[stored_id] = record
        if len(records) > self._records_kept:
            for stored_id in list(records)[: len(records) - self._records_kept // 2]:
                del records[stored_id]  # the oldest half: insertion order
        self._watermarks.update(watermarks)
        if self._seen is not None:
            for event_id in seen:
                self._seen.add(event_id)
            if self._seen.full:
                self._seen = self._load_seen(len(self._seen))

    def forget_cached(self) -> None:
        """Drop the decoded records (a transaction was abandoned part-way)."""
        self._records.clear()

    def _load_seen(self, expected: int | None = None) -> SeenFilter:
        """The filter over the store's dedup marks, filled in one pass over them: no
        list of every ID first (~80 bytes per mark, at every open). Sized from
        `expected`, else from the count the store noted at its last housekeeping; a
        store holding more than that (a crash since) is passed over again, sized right."""
        hint = int(self.meta.get(_SEEN_HINT, 0)) if expected is None else expected
        while True:
            seen = SeenFilter(2 * hint + 100_000)
            marks = self._scan(keys.SEEN_PREFIX)
            # In chunks: decoding a run of IDs, then hashing them, opened ~20% faster
            # than one at a time, and a chunk is a bounded transient.
            while chunk := [key[1:].decode() for key, _ in itertools.islice(marks, 8192)]:
                for event_id in chunk:
                    seen.add(event_id)
            if not seen.full:
                return seen
            hint = len(seen)

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

    def cached_instance(self, aggregate_id: str) -> dict[str, Any] | None:
        """The committed record, decoded once and kept; callers write back any change."""
        record = self._records.get(aggregate_id)
        if record is None:
            raw = self._db.get(keys.instance_key(aggregate_id))
            if raw is None:
                return None
            record = self._records[aggregate_id] = orjson.loads(raw)
        return record

    def maybe_seen(self, event_id: str) -> bool:
        """False only for an ID certainly never marked; True means "read the mark"."""
        return self._seen is None or event_id in self._seen

    def instances(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for key, value in self._scan(keys.INSTANCE_PREFIX):
            yield key[1:].decode(), orjson.loads(value)

    def watermark(self, topic: str, partition: int) -> int:
        return self.watermark_at(keys.watermark_key(topic, partition))

    def watermark_at(self, key: bytes) -> int:
        """Only this store writes its watermarks, so each is read from RocksDB once."""
        offset = self._watermarks.get(key)
        if offset is None:
            raw = self._db.get(key)
            offset = self._watermarks[key] = -1 if raw is None else int(raw)
        return offset

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
        # The value holding seq + 1 is keyed at or before it (one value per commit).
        first = self._last_key(keys.OUTBOX_PREFIX, self._outbox_db, before=keys.outbox_key(seq + 1))
        for key, value in self._scan(keys.OUTBOX_PREFIX, start=first, db=self._outbox_db):
            at = keys.parse_outbox_key(key)
            for n, entry in enumerate(value_entries(value), at):
                if n > seq:
                    created_ms, record = decode_entry(entry)
                    yield OutboxEntry(n, created_ms, record)

    def counts(self) -> tuple[int, int]:
        """(stored keys, pending timers), by a key-only scan: for gauges, not hot paths."""
        return self._count(keys.INSTANCE_PREFIX), self._count(keys.TIMER_PREFIX)

    # -- housekeeping ----------------------------------------------------------
    def expire(self, outbox_before_ms: int, seen_before_ms: int, limit: int = 10_000) -> int:
        """Drop outbox entries and dedup marks older than their retention."""
        batch = WriteBatch(raw_mode=True)
        dropped = 0
        newest = self._last_key(keys.OUTBOX_PREFIX, self._outbox_db)  # kept: it carries the outbox sequence
        for key, value in self._scan(keys.OUTBOX_PREFIX, db=self._outbox_db):
            if dropped >= limit or key == newest or value_created_ms(value) >= outbox_before_ms:
                break
            batch.delete(key, self.outbox_family)
            dropped += 1
        for key, _ in self._scan(keys.SEEN_EXPIRY_PREFIX):
            at_ms, event_id = keys.parse_seen_expiry_key(key)
            if dropped >= limit or at_ms >= seen_before_ms:
                break
            batch.delete(key)
            batch.delete(keys.seen_key(event_id))
            dropped += 1  # the filter keeps the ID until the next open: a read, never a wrong answer
        noted = self._seen is not None and len(self._seen) != self.meta.get(_SEEN_HINT)
        if noted:  # what the filter holds: its size at the next open (an idle store writes nothing)
            self.meta = {**self.meta, _SEEN_HINT: len(self._seen)}  # type: ignore[arg-type]
            batch.put(keys.META_KEY, orjson.dumps(self.meta))
        if dropped or noted:
            self.write(batch)
        return dropped

    # -- internals ---------------------------------------------------------------
    def _move_outbox_to_family(self) -> None:
        """A store of a release before the outbox family keeps its entries in the
        default family: move them, in batches that each move entries whole (a crash
        part-way leaves every entry in exactly one of the two)."""
        moved, start = 0, None
        # Each chunk's scan starts after the last key moved: from the prefix, it would
        # step over every tombstone the earlier chunks left.
        while chunk := list(itertools.islice(self._scan(keys.OUTBOX_PREFIX, start), _MOVE_CHUNK)):
            batch = WriteBatch(raw_mode=True)
            for key, value in chunk:
                batch.put(key, value, self.outbox_family)
                batch.delete(key)
            self.write(batch)
            moved += len(chunk)
            start = chunk[-1][0] + b"\x00"
        if moved:
            log.info("task %d: moved %d outbox entries to the outbox column family", self.task, moved)

    def _scan(self, prefix: bytes, start: bytes | None = None,
              db: Rdict | None = None) -> Iterator[tuple[bytes, bytes]]:
        it = (self._db if db is None else db).iter()
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

    def _last_key(self, prefix: bytes, db: Rdict | None = None, before: bytes | None = None) -> bytes | None:
        """The last key with `prefix` (at or before `before`, when given)."""
        it = (self._db if db is None else db).iter()
        it.seek_for_prev(before or prefix + b"\xff")
        if it.valid() and it.key().startswith(prefix):
            return it.key()
        return None
