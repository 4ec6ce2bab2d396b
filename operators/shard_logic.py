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

A restarted worker does not open its shards' stores before its first event:
each resumed shard opens at its slot (in turn, 20 ms after the one before it
finished opening) or with its first event, whichever comes first. Until then
its timers and outbox re-sends wait (see _RESUME_SPACING).

Timers fire by stream time: the minimum input time over all input partitions
(reported by `InputTick`s), never later than the wall clock. While an input lags,
a timeout waits for the events that might cancel it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from bytewax.operators import StatefulBatchLogic

from eventyard.observe import metrics
from eventyard.core.envelope import epoch_ms, utc_from_ms
from eventyard.core.errors import StoreBehindError, StoreError
from eventyard.core.records import InputTick, OutRecord
from eventyard.core.routing import shard_of
from eventyard.operators.operator_set import Delivery, OperatorSet
from eventyard.state import ShardStore, StateDirectory, TimerEntry

__all__ = ["ShardRuntime", "ShardLogic", "ShardTick"]

log = logging.getLogger(__name__)

_HOUSEKEEPING_EVERY = timedelta(seconds=30)
# The gauges count keys by scanning the store: 0.6 s CPU for 256 stores at 200k
# open workflows (bench/store_open.py), linear in them. So never on open (a restart
# would wait for it), first within a minute of opening (shards spread over it),
# then every 5 minutes.
_GAUGES_FIRST_WITHIN = timedelta(seconds=60)
_GAUGES_EVERY = timedelta(minutes=5)
_TIMERS_PER_NOTIFY = 1000
_RECHECK = timedelta(milliseconds=250)
# bytewax resumes every shard of a worker at start. Opening a store costs ~10 ms
# (file creation and syncs, WAL replay; rocksdict holds the GIL for most of it,
# so threads did not help), so opening all 256 before the first event made a
# restart wait 2.5-10 s. A resumed shard opens instead at its slot, in turn and
# _RESUME_SPACING after the previous one finished, or at once when an event for
# it arrives.
_RESUME_SPACING = timedelta(milliseconds=20)


@dataclass(frozen=True, slots=True)
class ShardTick:
    shard: int
    tick: InputTick

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return ShardTick, (self.shard, self.tick)


@dataclass
class ShardRuntime:
    """What every shard logic of one worker shares."""

    directory: StateDirectory
    operators: OperatorSet
    outbox_retention: timedelta
    dedup_retention: timedelta
    rebuild_missing: bool = False
    sync_at_snapshot: bool = True
    input_partitions: int = 1
    pipeline: str = ""
    # Per-worker gauges fed by each shard's counts (made when the worker starts).
    _gauges: tuple[metrics.PerShardGauge, metrics.PerShardGauge] | None = field(default=None, repr=False)
    # Start-up accounting, logged once with the first event applied (restart time, issue 7).
    _created: float = field(default_factory=time.monotonic, repr=False)
    _opened: int = field(default=0, repr=False)
    _open_s: float = field(default=0.0, repr=False)
    _report_s: float = field(default=0.0, repr=False)
    _first_event_logged: bool = field(default=False, repr=False)
    _slot_base: datetime | None = field(default=None, repr=False)
    _slot_lag: timedelta = field(default=timedelta(0), repr=False)
    _resumed: int = field(default=0, repr=False)

    def gauges(self) -> tuple[metrics.PerShardGauge, metrics.PerShardGauge]:
        """This worker's open-workflow and pending-timer gauges (the series exist from then on)."""
        if self._gauges is None:
            self._gauges = (metrics.PerShardGauge(metrics.OPEN_WORKFLOWS, self.pipeline),
                            metrics.PerShardGauge(metrics.PENDING_TIMERS, self.pipeline))
        return self._gauges

    def report(self, store: ShardStore) -> None:
        """Refresh this shard's share of the gauges (a key scan of the shard's store)."""
        gauges = self.gauges()
        started = time.monotonic()
        stored, timers = store.counts()
        self._report_s += time.monotonic() - started
        gauges[0].set(store.shard, stored)
        gauges[1].set(store.shard, timers)

    def open_store(self, shard: int, known: bool) -> ShardStore:
        """A shard bytewax has a snapshot for (`known`) must already have a store."""
        create = not known or self.rebuild_missing
        started = time.monotonic()
        try:
            store = ShardStore.open(self.directory.shard_path(shard), shard, create=create)
        except StoreError as exc:
            _logged(exc)
            raise
        self._open_s += time.monotonic() - started
        self._opened += 1
        return store

    def resume_slot(self) -> int:
        """A resumed shard's place in the order in which resumed shards open their stores."""
        if self._slot_base is None:
            self._slot_base = datetime.now(timezone.utc)
        self._resumed += 1
        return self._resumed - 1

    def slot_time(self, slot: int) -> datetime:
        """When `slot` may open: _RESUME_SPACING after the one before it finished opening."""
        assert self._slot_base is not None
        return self._slot_base + _RESUME_SPACING * (slot + 1) + self._slot_lag

    def slot_opened(self, slot: int) -> None:
        # An open that ended past its slot pushes all later slots back, so the
        # worker spends at most about half its time opening resumed stores.
        late = datetime.now(timezone.utc) - self.slot_time(slot)
        if late > timedelta(0):
            self._slot_lag += late

    def note_event_applied(self) -> None:
        """Log, once, how long this worker took to its first event and what opening stores cost."""
        if self._first_event_logged:
            return
        self._first_event_logged = True
        log.info("first event applied %.2f s after the flow was built; %d shard stores opened "
                 "so far in %.2f s (%d resumed shards to open in turn, %d ms apart), gauge scans %.2f s",
                 time.monotonic() - self._created, self._opened, self._open_s, self._resumed,
                 _RESUME_SPACING.total_seconds() * 1000, self._report_s)

    def builder(self, resume: dict[str, Any] | None) -> "ShardLogic":
        return ShardLogic(self, resume)


def _logged(error: StoreError) -> StoreError:
    # With several processes bytewax surfaces an error raised here as "Send thread
    # panic" in every worker and the message is lost: log it where it happens.
    log.error("%s", error)
    error.logged = True
    return error


def _spread(shard: int, within: timedelta) -> timedelta:
    """A shard's offset in `within`, so shards opened together do not scan together."""
    return within * ((shard * 37 % 64) + 1) / 64


def _now_ms() -> int:
    return epoch_ms(datetime.now(timezone.utc))


class ShardLogic(StatefulBatchLogic[Delivery | ShardTick, OutRecord, dict[str, Any]]):
    def __init__(self, runtime: ShardRuntime, resume: dict[str, Any] | None) -> None:
        self.runtime = runtime
        self.operators = runtime.operators
        self.store: ShardStore | None = None
        # Outbox entries after this sequence must be (re-)emitted before new work.
        self.emitted_seq: int = resume["outbox_seq"] if resume else 0
        self.resend_pending = True
        # Both set when the store opens, spread over shards (see _spread).
        self.next_housekeeping = self.next_gauges = datetime.now(timezone.utc)
        self.input_times: dict[tuple[str, int], int] = {}
        # Earliest pending timer, re-read only after work that can change timers:
        # most batches are ticks, and notify_at runs after every batch.
        self._earliest: TimerEntry | None = None
        self._timers_changed = True
        # A resumed shard's store opens at its slot or with its first event (see _ready).
        self._resumed_shard: int | None = None
        self._slot = 0
        if resume is not None:
            self._resumed_shard, self._slot = resume["shard"], runtime.resume_slot()

    def _open(self, shard: int, known: bool) -> ShardStore:
        store = self.runtime.open_store(shard, known)
        if known:
            self._check_not_behind(store)
        return self._attach(store)

    def _check_not_behind(self, store: ShardStore) -> None:
        """The snapshot recorded how far the store's outbox had got; a store short of
        that is older than the snapshot, and the inputs since will not be read again."""
        if store.next_outbox_seq - 1 >= self.emitted_seq:
            return
        if not store.has_emitted:
            store.continue_outbox_after(self.emitted_seq)  # its entries expired under an older release
            return
        store.close()
        raise _logged(StoreBehindError(
            f"shard {store.shard}: store {store.path} is older than the pipeline's last recovery snapshot "
            f"(outbox at {store.next_outbox_seq - 1}, snapshot at {self.emitted_seq}): an old backup or a "
            "stale copy from another machine. Put the current store in its place, or rebuild state with "
            "`eventyard replay`"))

    def _ready(self, now: bool) -> bool:
        """Open a resumed shard's store if its slot has come (or `now`); True once a store is open."""
        if self._resumed_shard is None:
            return self.store is not None
        if now:
            shard, self._resumed_shard = self._resumed_shard, None
            self._open(shard, known=True)
        elif datetime.now(timezone.utc) >= self.runtime.slot_time(self._slot):
            shard, self._resumed_shard = self._resumed_shard, None
            self._open(shard, known=True)
            self.runtime.slot_opened(self._slot)
        return self.store is not None

    def _attach(self, store: ShardStore) -> ShardStore:
        self.store = store
        shard = store.shard
        self.runtime.gauges()
        now = datetime.now(timezone.utc)
        self.next_housekeeping = now + _spread(shard, _HOUSEKEEPING_EVERY)
        self.next_gauges = now + _spread(shard, _GAUGES_FIRST_WITHIN)
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

    def stream_time_ms(self) -> int | None:
        """Event time up to which every input partition has been read."""
        if len(self.input_times) < self.runtime.input_partitions:
            return None
        return min(min(self.input_times.values()), _now_ms())

    def on_batch(self, values: list[Delivery | ShardTick]) -> tuple[list[OutRecord], bool]:
        started = time.perf_counter()
        try:
            return self._on_batch(values)
        finally:
            metrics.BATCH_LATENCY.labels(self.runtime.pipeline, "workflow").observe(time.perf_counter() - started)

    def _on_batch(self, values: list[Delivery | ShardTick]) -> tuple[list[OutRecord], bool]:
        out: list[OutRecord] = []
        txn = None
        # Ticks alone need no store; an event waits for its shard's open.
        self._ready(now=any(not isinstance(item, ShardTick) for item in values))
        for item in values:
            if isinstance(item, ShardTick):
                tick = item.tick
                self.input_times[(tick.topic, tick.partition)] = tick.input_time_ms
                if self.store is None and self._resumed_shard is None \
                        and self.runtime.directory.shard_path(item.shard).exists():
                    self._open(item.shard, known=False)  # timers of a shard bytewax forgot
                continue
            if self.store is None:
                self._open(shard_of(item.key, self.runtime.directory.shards), known=False)
            assert self.store is not None
            if self.resend_pending:
                out.extend(self._resend())
            if txn is None:
                txn = self.store.transaction(grouped=True)
            out.extend(self.operators.apply(txn, item))
            self._timers_changed = True
        if txn is not None:
            txn.flush()  # the whole batch in one WriteBatch
            self.operators.publish_metrics()
            self.runtime.note_event_applied()
        if self._resumed_shard is not None:
            return out, StatefulBatchLogic.RETAIN  # not opened yet (only ticks so far)
        if self.store is None:
            return out, StatefulBatchLogic.DISCARD  # a shard with no state: nothing to keep
        out.extend(self._resend())
        return out, StatefulBatchLogic.RETAIN

    def notify_at(self) -> datetime | None:
        # Always a time in the future or a due time we can act on: a past time
        # that on_notify cannot clear would busy-loop the worker (bytewax #578).
        now = datetime.now(timezone.utc)
        if not self._ready(now=False):
            return None if self._resumed_shard is None else self.runtime.slot_time(self._slot)
        if self.resend_pending:
            return now
        due = min(self.next_housekeeping, self.next_gauges)
        if self._timers_changed:
            self._earliest, self._timers_changed = self.store.earliest_timer(), False
        timer = self._earliest
        if timer is not None:
            stream = self.stream_time_ms()
            ready = stream is not None and stream >= timer.due_ms
            due = min(due, max(utc_from_ms(timer.due_ms), now if ready else now + _RECHECK))
        return due

    def on_notify(self) -> tuple[list[OutRecord], bool]:
        if not self._ready(now=False):
            return [], StatefulBatchLogic.RETAIN
        store = self.store
        assert store is not None
        started = time.perf_counter()
        out = self._resend()
        stream = self.stream_time_ms()
        if stream is not None:
            txn = store.transaction(grouped=True)
            for timer in store.due_timers(stream, limit=_TIMERS_PER_NOTIFY):
                out.extend(self.operators.fire(txn, timer))
                self._timers_changed = True
            txn.flush()
            self.operators.publish_metrics()  # events redelivered by timers
        now = datetime.now(timezone.utc)
        if now >= self.next_housekeeping:
            self.next_housekeeping = now + _HOUSEKEEPING_EVERY
            now_ms = _now_ms()
            store.expire(
                outbox_before_ms=now_ms - int(self.runtime.outbox_retention.total_seconds() * 1000),
                seen_before_ms=now_ms - int(self.runtime.dedup_retention.total_seconds() * 1000),
            )
        if now >= self.next_gauges:
            self.next_gauges = now + _GAUGES_EVERY
            self.runtime.report(store)
        metrics.BATCH_LATENCY.labels(self.runtime.pipeline, "timers").observe(time.perf_counter() - started)
        return out, StatefulBatchLogic.RETAIN

    def snapshot(self) -> dict[str, Any]:
        if self._resumed_shard is not None:
            # Not opened yet, so nothing was emitted since the resumed snapshot.
            return {"shard": self._resumed_shard, "outbox_seq": self.emitted_seq}
        assert self.store is not None
        if self.runtime.sync_at_snapshot:
            self.store.sync()  # the snapshot must never be newer than the store on disk
        self.emitted_seq = self.store.next_outbox_seq - 1
        return {"shard": self.store.shard, "outbox_seq": self.emitted_seq}
