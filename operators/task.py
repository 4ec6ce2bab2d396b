"""Task: the engine of one input partition number, with its own store.

Task p reads partition p of every input topic (inputs are co-partitioned: same
partition count, keyed by aggregate ID), so every event of an aggregate reaches
the same task and the task's RocksDB store holds all of its state. The task runs
in the worker process that reads those partitions: no event crosses processes
on its way to its workflow (the Kafka Streams model).

One `run()` releases the records the event-time merge allows and fires the
timers that are due, in one total order (a timer due at T fires after every
record stamped up to T and before any later one), and commits everything in
one WriteBatch per group. Bytewax-free and Kafka-free: the source partition
that hosts a task (eventyard.runtime.task_source) feeds it records and input
times and publishes what it returns.

At-least-once output: every output goes through the store's outbox in the batch
that caused it; `snapshot()` (taken when bytewax closes an epoch, after the sink
flushed that epoch's records) returns the last outbox sequence emitted, and a
resumed task emits every entry after it again before new work.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from eventyard.core.deadletter import DeadLetterRecord
from eventyard.core.errors import StoreBehindError
from eventyard.core.records import OutRecord, SourceMessage
from eventyard.observe import metrics
from eventyard.operators.decode import Decoder
from eventyard.operators.merge import EventTimeMerge
from eventyard.operators.operator_set import OperatorSet
from eventyard.state import TaskStore, TaskTransaction

__all__ = ["Task", "TaskSettings"]

log = logging.getLogger(__name__)

_TIMERS_PER_PASS = 1000
_HOUSEKEEPING_EVERY_MS = 30_000
_GAUGES_EVERY_MS = 300_000
_GAUGES_FIRST_MS = 60_000


@dataclass(frozen=True)
class TaskSettings:
    pipeline: str
    dead_letter_topic: str
    outbox_retention: timedelta = timedelta(hours=1)
    dedup_retention: timedelta = timedelta(days=7)
    sync_at_snapshot: bool = True


@dataclass
class TaskCounts:
    applied_records: int = 0
    dead_lettered: int = 0
    late: int = 0


def _wall_ms() -> int:
    return int(time.time() * 1000)


class Task:
    def __init__(self, number: int, store: TaskStore, operators: OperatorSet, decoder: Decoder,
                 merge: EventTimeMerge, settings: TaskSettings, emitted_seq: int = 0,
                 resumed: bool = False) -> None:
        self.number = number
        self.store = store
        self.operators = operators
        self.decoder = decoder
        self.merge = merge
        self.settings = settings
        self.counts = TaskCounts()
        self.closed = False
        # Outbox entries after this sequence may not have reached Kafka: re-emit first.
        # Also when bytewax has no snapshot of the task: a run that crashed before its
        # first epoch committed left outputs in the store whose inputs are skipped now.
        self.emitted_seq = emitted_seq
        self._resend_pending = True
        if resumed:
            self._check_not_behind()
        self._earliest_timer: int | None = self._committed_earliest()
        now = _wall_ms()
        spread = (number * 37 % 64 + 1) / 64  # tasks opened together do not scan together
        self._next_housekeeping = now + int(_HOUSEKEEPING_EVERY_MS * spread)
        self._next_gauges = now + int(_GAUGES_FIRST_MS * spread)
        self._gauges = (metrics.per_task_gauge(metrics.OPEN_WORKFLOWS, settings.pipeline),
                        metrics.per_task_gauge(metrics.PENDING_TIMERS, settings.pipeline))
        metrics.per_task_gauge(metrics.TASKS, settings.pipeline).set(number, 1)

    # -- resume ----------------------------------------------------------------------
    def _check_not_behind(self) -> None:
        """The snapshot recorded how far the outbox had got; a store short of that is
        older than the snapshot, and the inputs since will not be read again."""
        store = self.store
        if store.next_outbox_seq - 1 >= self.emitted_seq:
            return
        if not store.has_emitted:
            store.continue_outbox_after(self.emitted_seq)  # its entries expired under an older release
            return
        raise StoreBehindError(
            f"task {self.number}: store {store.path} is older than the pipeline's last recovery snapshot "
            f"(outbox at {store.next_outbox_seq - 1}, snapshot at {self.emitted_seq}): an old backup or a "
            "stale copy from another machine. Put the current store in its place, or rebuild state with "
            "`eventyard replay`")

    def _resend(self) -> list[OutRecord]:
        self._resend_pending = False
        records = [entry.record for entry in self.store.outbox_after(self.emitted_seq)]
        if records:
            log.info("task %d: re-emitting %d outbox records not confirmed before restart",
                     self.number, len(records))
        return records

    # -- the loop ----------------------------------------------------------------------
    def offer(self, records: list[SourceMessage]) -> None:
        """Records read from the task's partitions, in offset order per partition."""
        stream_ms = self.merge.stream_ms
        for msg in records:
            if msg.timestamp_ms < stream_ms:
                self.counts.late += 1
                metrics.LATE_EVENTS.labels(self.settings.pipeline).inc()
        self.merge.add(records)

    def run(self, now_ms: int | None = None) -> list[OutRecord]:
        """Apply what the merge releases and fire due timers, in event-time order."""
        now_ms = _wall_ms() if now_ms is None else now_ms
        out: list[OutRecord] = self._resend() if self._resend_pending else []
        merge, store = self.merge, self.store
        txn = store.transaction(grouped=True)
        dirty = applied = False
        while True:
            head = merge.head_ms()
            vouched = merge.vouched_ms()
            event_ready = head is not None and (head <= vouched or merge.over_bound())
            timer = self._earliest_timer
            if txn.min_timer_due is not None and (timer is None or txn.min_timer_due < timer):
                timer = txn.min_timer_due
            # Timers follow stream time like records do. A caught-up partition vouches
            # with the wall clock, so stream time passes the clock only if every idle
            # partition has read records stamped ahead of it (a producer's clock skew).
            horizon = vouched
            if event_ready:
                horizon = min(horizon, head - 1)  # a record stamped T goes before a timer due at T
            if timer is not None and timer <= horizon:
                if dirty:  # timers are read from the committed store
                    txn.flush()
                    dirty = False
                fired = self._fire_due(txn, horizon)
                out += fired[0]
                self._earliest_timer = self._committed_earliest()
                if fired[1]:
                    continue
                if self._earliest_timer is not None and self._earliest_timer <= horizon:
                    continue
            if not event_ready:
                break
            out += self._apply(txn, merge.pop())
            dirty = applied = True
        if dirty:
            txn.flush()  # timers it set lowered _earliest_timer already (_apply)
        if applied:
            self.operators.publish_metrics()
        if now_ms >= self._next_housekeeping:
            self._housekeeping(now_ms)
        return out

    def _apply(self, txn: TaskTransaction, msg: SourceMessage) -> list[OutRecord]:
        item = self.decoder(msg)
        if isinstance(item, DeadLetterRecord):
            self.counts.dead_lettered += 1
            return [item.to_record(self.settings.dead_letter_topic)]
        self.counts.applied_records += 1
        out: list[OutRecord] = []
        operators = self.operators
        if msg.topic in operators.rekeyed_scope:
            out += operators.apply(txn, operators.rekeyed(item))
        else:
            local, rekeyed = operators.route(item)
            for delivery in local:
                out += operators.apply(txn, delivery)
            for delivery in rekeyed:
                record = operators.send_rekeyed(txn, delivery)
                if record is not None:
                    out.append(record)
        timer = txn.min_timer_due
        if timer is not None and (self._earliest_timer is None or timer < self._earliest_timer):
            self._earliest_timer = timer
        return out

    def _fire_due(self, txn: TaskTransaction, until_ms: int) -> tuple[list[OutRecord], bool]:
        """Fire timers due at or before `until_ms`; (outputs, more may be due)."""
        out: list[OutRecord] = []
        due = self.store.due_timers(until_ms, limit=_TIMERS_PER_PASS)
        for timer in due:
            out += self.operators.fire(txn, timer)
        txn.flush()
        if due:
            self.operators.publish_metrics()
        return out, len(due) >= _TIMERS_PER_PASS

    def _committed_earliest(self) -> int | None:
        entry = self.store.earliest_timer()
        return None if entry is None else entry.due_ms

    # -- scheduling ------------------------------------------------------------------
    def next_due(self) -> datetime | None:
        """When `run()` has work without new input: the earliest timer or housekeeping."""
        due_ms = self._next_housekeeping
        if self._earliest_timer is not None:
            due_ms = min(due_ms, self._earliest_timer)
        if self._resend_pending:
            due_ms = 0
        return datetime.fromtimestamp(due_ms / 1000, tz=timezone.utc)

    def _housekeeping(self, now_ms: int) -> None:
        self._next_housekeeping = now_ms + _HOUSEKEEPING_EVERY_MS
        s = self.settings
        self.store.expire(
            outbox_before_ms=now_ms - int(s.outbox_retention.total_seconds() * 1000),
            seen_before_ms=now_ms - int(s.dedup_retention.total_seconds() * 1000),
        )
        if now_ms >= self._next_gauges:
            self._next_gauges = now_ms + _GAUGES_EVERY_MS
            stored, timers = self.store.counts()
            self._gauges[0].set(self.number, stored)
            self._gauges[1].set(self.number, timers)

    # -- recovery ----------------------------------------------------------------------
    def snapshot(self) -> int:
        """The last outbox sequence emitted; the store is synced first, so a snapshot
        is never newer than the store on disk."""
        if self.settings.sync_at_snapshot:
            self.store.sync()
        if not self._resend_pending:
            self.emitted_seq = self.store.next_outbox_seq - 1
        return self.emitted_seq

    def close(self) -> None:
        self.closed = True
        for gauge in (*self._gauges, metrics.per_task_gauge(metrics.TASKS, self.settings.pipeline)):
            gauge.forget(self.number)
        self.store.close()
