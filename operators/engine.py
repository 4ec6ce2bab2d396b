"""OperatorEngine: applies one event or one fired timer to one operator's key, atomically.

Exactly-once state: an event at or below the task's applied-offset watermark for
its (topic, partition) was applied before a restart and is skipped; an event ID
already processed (a producer retry, a redrive) is skipped too. Everything else an
event causes (the key's state, timers, watermark, dedup mark, outbox) is committed
in one WriteBatch, so a crash leaves either all of it or none of it.

Every operator, the built-in workflow operator included, runs in one of these.
Operators other than the pipeline's workflow keep their keys, watermarks and dedup
marks under their own scope in the task store.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from eventyard.core.catalog import EventCatalog
from eventyard.core.deadletter import REDRIVE_COUNT_HEADER, DeadLetterRecord, Reason
from eventyard.core.envelope import Envelope, epoch_ms, utc_from_ms, utc_now
from eventyard.core.records import OutRecord, SourceMessage
from eventyard.observe import metrics, tracing
from eventyard.observe.logs import log_context
from eventyard.operators.api import RESERVED_FIELDS, Emit, Event, Operator, Timer
from eventyard.operators.context import KeyContext
from eventyard.operators.decisions import applied_out_of_order, timer_fired
from eventyard.operators.decode import EnvelopeReader, Inbound
from eventyard.operators.forget import FORGET_TIMER, forget_due
from eventyard.operators.held import HeldEvents
from eventyard.operators.outputs import check_outputs, output_records, timer_source
from eventyard.operators.retry import RETRY_TIMER, RetryPolicy
from eventyard.operators.workflow import Workflow
from eventyard.operators.workflow_operator import WorkflowOperator
from eventyard.state import TaskTransaction, TimerEntry
from eventyard.state.keys import SCOPE_SEP

__all__ = ["EngineConfig", "EngineStats", "OperatorEngine", "WorkflowEngine", "SCOPE_SEP", "split_scope"]

log = logging.getLogger(__name__)

_BUILT_IN_REASONS = frozenset(r.value for r in Reason)
OK, RETRY, DEAD = "ok", "retry", "dead"
_NONE_REJECTED: frozenset[str] = frozenset()


def split_scope(stored_id: str) -> tuple[str, str]:
    """(scope, key) of an ID as stored; the workflow's own keys have no scope."""
    scope, sep, key = stored_id.partition(SCOPE_SEP)
    return (scope, key) if sep else ("", stored_id)


@dataclass(frozen=True)
class EngineConfig:
    pipeline: str
    outputs: dict[str, str]  # output name used by handlers -> topic
    dead_letter_topic: str
    history_size: int = 20
    max_parked: int = 100
    orphan_timeout: timedelta = timedelta(hours=1)
    unexpected_timeout: timedelta = timedelta(hours=1)  # an event no transition accepts waits this long
    reorder_timeout: timedelta = timedelta(seconds=30)  # an event ahead of its producer sequence waits this long
    decisions_topic: str | None = None  # where TimerFired / AppliedOutOfOrder go
    record_outbox: bool = True  # replay turns this off: it must have no side effects
    build_outputs: bool = True  # replay without --emit: outputs are checked, not built (state is the same)
    # Live, a record at or below the applied-offset watermark was applied before a
    # restart. Replay reads each record once but may apply one after later records of
    # its partition (to repeat a live out-of-order decision), so it only advances it.
    skip_applied: bool = True
    order_retention: timedelta = timedelta(days=7)  # an emptied record keeps last/prev this long (forget.py)


@dataclass
class EngineStats:
    applied: int = 0
    duplicates: int = 0
    replayed: int = 0  # at/below the watermark: applied before a restart
    parked: int = 0
    dead_lettered: dict[str, int] = field(default_factory=dict)
    timers_fired: int = 0


def _new_record(now_ms: int, origin: str = "") -> dict[str, Any]:
    return {"version": 0, "timers": {}, "retry": None, "queue": [], "last": None, "prev": None,
            "correlation_id": None, "created_ms": now_ms, "updated_ms": now_ms, "has_state": False,
            "origin": origin}


def _message_from_json(obj: list[Any]) -> SourceMessage:
    topic, partition, offset, key, value, headers, ts = obj
    return SourceMessage(topic, partition, offset, bytes.fromhex(key), bytes.fromhex(value),
                         tuple((k, bytes.fromhex(v)) for k, v in headers), ts)


def _redriven(msg: SourceMessage) -> bool:
    for name, _ in msg.headers:  # a loop, not any(genexpr): asked of every event with headers
        if name == REDRIVE_COUNT_HEADER:
            return True
    return False


def _is_empty(rec: dict[str, Any]) -> bool:
    timers = rec["timers"]
    return not (rec["has_state"] or len(timers) > (FORGET_TIMER in timers) or rec["retry"] or rec["queue"])


class OperatorEngine:
    def __init__(
        self,
        operator: Operator[Any],
        catalog: EventCatalog,
        config: EngineConfig,
        clock: Callable[[], datetime] = utc_now,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.operator = operator
        self.catalog = catalog
        self.config = config
        self.clock = clock
        self.scope = operator.state_scope
        self._scope_prefix = f"{self.scope}{SCOPE_SEP}" if self.scope else ""
        self.step = operator.name or "workflow"
        self.retry = retry or RetryPolicy(retryable=operator.retryable)
        self.stats = EngineStats()
        # Applied events by type, added to the metric once per batch (publish_metrics):
        # a prometheus inc() per event takes a lock, ~1.5% of the engine's time.
        self._applied: dict[str, int] = {}
        self._held = HeldEvents(self._decode_held)
        self._read_envelope = EnvelopeReader(catalog)

    def stored_id(self, value: str) -> str:
        return self._scope_prefix + value

    def _cause(self, event_id: str) -> str:
        # Two operators handling one event must not derive the same output IDs.
        return f"{self.scope}/{event_id}" if self.scope else event_id

    # -- events ------------------------------------------------------------------
    def apply(self, txn: TaskTransaction, inbound: Inbound, key: str | None = None,
              event: Event | None = None) -> list[OutRecord]:
        msg, env = inbound.message, inbound.envelope
        if event is None:
            event = Event(env, inbound.payload, 1, msg)
        if key is None:
            if not self.operator.wants(env.type) or (key := self.operator.key(event)) is None:
                return []
        mark_topic = self.stored_id(msg.topic)
        applied_to = txn.watermark(mark_topic, msg.partition)
        if msg.offset <= applied_to and self.config.skip_applied:
            self.stats.replayed += 1
            return []
        if msg.offset > applied_to:
            txn.set_watermark(mark_topic, msg.partition, msg.offset)
        stored_id = self.stored_id(key)
        if txn.seen(self.stored_id(env.event_id)):
            self.stats.duplicates += 1
            if _redriven(msg):
                # `dlq redrive` cannot know what the pipeline does with a record: say it here.
                log.warning("redriven %s %s skipped by %s: already processed (a duplicate)", env.type,
                            env.event_id, self.step)
            rec = txn.get_instance(stored_id)
            # A replay must also meet the duplicate after the original.
            out = self._note_order(dict(rec), stored_id, msg) if rec else []
            self._record(txn, out, msg.timestamp_ms)
            return out
        # Event time, not wall-clock time: timers start when the event happened,
        # and a replay computes exactly what the live run computed.
        now_ms = msg.timestamp_ms if msg.timestamp_ms > 0 else epoch_ms(self.clock())
        redriven = bool(msg.headers) and _redriven(msg)
        before = (self.stats.applied, self.stats.parked)
        out = self._process(txn, key, txn.get_instance(stored_id), event, now_ms)
        out += self._drain(txn, key, now_ms)
        self._record(txn, out, now_ms)
        if redriven:
            outcome = ("applied" if self.stats.applied > before[0] else
                       "parked until its start event" if self.stats.parked > before[1] else
                       "not applied (dead-lettered again or waiting for a retry)")
            log.info("redriven %s %s %s by %s", env.type, env.event_id, outcome, self.step)
        return out

    def _process(self, txn: TaskTransaction, key: str, rec: dict[str, Any] | None, event: Event,
                 now_ms: int, noted: bool = False) -> list[OutRecord]:
        """Apply one new event to its key, or queue it behind a retry; the caller commits."""
        if rec is not None and rec.get("retry"):
            return self._queue(txn, key, rec, event)
        is_new = rec is None
        rec = rec or _new_record(now_ms, event.event_id)
        msg = event.message
        if not noted and msg is not None and rec["last"] is not None and msg.timestamp_ms < rec["last"][0]:
            # It happened before an event of its key already applied: read late (a tie
            # in time is not late). Replay applies it at the same place, so it agrees.
            event = dataclasses.replace(event, late=True)
        out, status = self._handle_event(txn, key, rec, event, now_ms)
        if status != DEAD and not noted:
            out += self._note_order(rec, self.stored_id(key), event.message)
        if status == RETRY:
            self._start_retry(txn, key, rec, event, now_ms)
        if status != DEAD or not is_new:
            self._save(txn, key, rec)
        return out

    def _queue(self, txn: TaskTransaction, key: str, rec: dict[str, Any], event: Event) -> list[OutRecord]:
        """Keep per-key order: wait behind the event being retried."""
        waiting = [rec["retry"]["event_id"], *(q[0] for q in rec["queue"])]
        if event.event_id in waiting:
            self.stats.duplicates += 1
            return []
        rec["queue"].append([event.event_id, self._held.hold(event), True])
        out = self._note_order(rec, self.stored_id(key), event.message)
        self._save(txn, key, rec)
        return out

    def _drain(self, txn: TaskTransaction, key: str, now_ms: int) -> list[OutRecord]:
        """Apply events that waited (behind a retry, or redelivered), until one has to wait again."""
        out: list[OutRecord] = []
        stored_id = self.stored_id(key)
        while (rec := txn.get_instance(stored_id)) is not None and not rec.get("retry") and rec["queue"]:
            item = rec["queue"].pop(0)
            self._save(txn, key, rec)
            # Queued and redelivered events were placed in the decision order already. Each
            # runs at its own event time, not its releaser's: the outcome must not depend on
            # which event released it (issue 15).
            event = self.restore_event(item[1])
            at_ms = event.message.timestamp_ms if event.message and event.message.timestamp_ms > 0 else now_ms
            out += self._process(txn, key, rec, event, at_ms, noted=True)
        return out

    def _start_retry(self, txn: TaskTransaction, key: str, rec: dict[str, Any], event: Event,
                     now_ms: int, attempt: int = 1) -> None:
        rec["retry"] = {"event_id": event.event_id, "attempt": attempt, "message": self._held.hold(event)}
        due = now_ms + self.retry.delay_ms(event.event_id, attempt)
        self._set_timer(txn, key, rec, RETRY_TIMER, due)

    def _record(self, txn: TaskTransaction, out: list[OutRecord], now_ms: int) -> None:
        if self.config.record_outbox:
            for record in out:
                txn.append_outbox(record, now_ms)
        txn.commit()

    def _save(self, txn: TaskTransaction, key: str, rec: dict[str, Any]) -> None:
        # An emptied record keeps its order bookkeeping for a while (operators/forget.py).
        empty = _is_empty(rec)
        due = forget_due(rec, self.config.order_retention // timedelta(milliseconds=1)) if empty else None
        if empty and due is None:
            txn.delete_instance(self.stored_id(key))
            return
        if (rec["timers"].get(FORGET_TIMER) or [None])[0] != due:
            self._set_timer(txn, key, rec, FORGET_TIMER, due)
        txn.put_instance(self.stored_id(key), rec)

    def _note_order(self, rec: dict[str, Any], stored_id: str, msg: SourceMessage | None) -> list[OutRecord]:
        """Publish a decision when this event sorts before one already applied.

        Replay applies events in merge order, so an event that sorts after every
        applied one needs no record. One that sorts earlier is recorded as "after
        the event applied just before it", which chains held events in live order.
        """
        if msg is None:
            return []
        key = [msg.timestamp_ms, msg.topic, msg.partition, msg.offset]  # merge_key(msg), as stored
        highest, previous = rec.get("last"), rec.get("prev")
        rec["prev"] = key[1:]
        if highest is None or key > highest:
            rec["last"] = key
            return []
        if self.config.decisions_topic is None:
            return []
        return [applied_out_of_order(self.config.decisions_topic, self.config.pipeline, stored_id, msg, previous,
                                     self.scope)]

    def _handle_event(self, txn: TaskTransaction, key: str, rec: dict[str, Any], event: Event,
                      now_ms: int) -> tuple[list[OutRecord], str]:
        env = event.envelope
        ctx = self._context(key, rec, now_ms, event)
        parent = tracing.extract(event.message.headers) if event.message is not None else None
        trace_id = tracing.trace_id_of(parent, env.trace_id, rec["correlation_id"] or env.correlation_id
                                       or env.event_id)
        with log_context(trace_id, env.aggregate_id):
            try:
                self.operator.on_event(ctx, event)
                if rec["correlation_id"] is None:
                    rec["correlation_id"] = env.correlation_id or env.event_id
                records = self._outputs(ctx.emits, rec, self._cause(env.event_id), env, key, now_ms, parent)
                if ctx.dead_letters:  # rare: no comprehension (a function call in 3.11) for none
                    records += [self._dead_intent(intent.event, intent.reason, intent.message)
                                for intent in ctx.dead_letters]
                self._commit(txn, key, rec, ctx, now_ms)
            except Exception as exc:  # a handler bug must not stop the task
                if self.retry.is_retryable(exc) and event.attempt < self.retry.max_attempts:
                    log.info("attempt %d of %s %s failed, will retry: %r", event.attempt, env.type,
                             env.event_id, exc)
                    metrics.RETRIES.labels(self.config.pipeline, "scheduled").inc()
                    return [], RETRY
                if event.attempt > 1:
                    metrics.RETRIES.labels(self.config.pipeline, "exhausted").inc()
                log.warning("%s failed for %s %s: %r", self.step, env.type, env.event_id, exc)
                return [self._dead(event.message, Reason.HANDLER_ERROR, repr(exc), exc, event.attempt)], DEAD
        # Only an event the handler consumed is marked processed. One it dead-letters
        # (ctx.dead_letter, e.g. `orphaned` past max_parked) is not: once the cause
        # is fixed, its redrive must be applied, not skipped as a duplicate (issue 16).
        # A deferred event stays marked while it waits, so a second copy is not
        # parked twice; `_forget` removes that mark if it is dead-lettered later.
        rejected = ({intent.event.event_id for intent in ctx.dead_letters if intent.event is not None}
                    if ctx.dead_letters else _NONE_REJECTED)  # the common case: no sets made
        if env.event_id not in rejected:
            txn.mark_seen(self.stored_id(env.event_id), now_ms)
        if rejected:
            self._forget(txn, rejected - {env.event_id})
        if ctx.duplicate:
            self.stats.duplicates += 1
            return records, OK
        if ctx.deferred:
            self.stats.parked += 1
            return records, OK
        if env.event_id in rejected:
            return records, OK
        self.stats.applied += 1
        self._applied[env.type] = self._applied.get(env.type, 0) + 1
        if event.attempt > 1:
            metrics.RETRIES.labels(self.config.pipeline, "succeeded").inc()
        return records, OK

    def publish_metrics(self) -> None:
        """Add the events applied since the last call to `eventyard_events_applied`."""
        if self._applied:
            applied, self._applied = self._applied, {}
            for event_type, count in applied.items():
                metrics.EVENTS_APPLIED.labels(self.config.pipeline, event_type).inc(count)

    # -- timers ------------------------------------------------------------------
    def fire(self, txn: TaskTransaction, timer: TimerEntry) -> list[OutRecord]:
        """Apply one due timer. Removing it is in the same batch as its effects,
        so it fires exactly once in state terms."""
        txn.cancel_timer(timer.due_ms, timer.aggregate_id, timer.name)
        key = split_scope(timer.aggregate_id)[1] if self.scope else timer.aggregate_id
        rec = txn.get_instance(timer.aggregate_id)
        armed = rec["timers"].get(timer.name) if rec else None
        if rec is None or armed is None or armed[0] != timer.due_ms:
            txn.commit()  # stale index entry
            return []
        del rec["timers"][timer.name]
        # The handler runs "at" the due time, so its outputs do not depend on
        # how late the worker noticed the timer. The firing is named by when the
        # timer was armed (record version) and by the event that created the
        # record: the same history gives the same IDs, and a key forgotten and
        # started again (its version back at 1) does not reuse one.
        now = utc_from_ms(timer.due_ms)
        origin = f"/{rec['origin']}" if rec.get("origin") else ""
        timer_id = f"timer/{timer.aggregate_id}/{timer.name}/{armed[1]}{origin}"
        out: list[OutRecord] = []
        self.stats.timers_fired += 1
        metrics.TIMERS_FIRED.labels(self.config.pipeline).inc()
        if self.config.record_outbox:  # live, not a replay: how late did it fire?
            metrics.TIMER_LATENESS.labels(self.config.pipeline).observe(
                max(0, epoch_ms(self.clock()) - timer.due_ms) / 1000)
        if self.config.decisions_topic is not None:
            out.append(timer_fired(self.config.decisions_topic, self.config.pipeline, timer.aggregate_id,
                                   timer.name, timer.due_ms, armed[1], rec["version"], timer_id))
        if timer.name == RETRY_TIMER:
            out += self._retry(txn, key, rec, timer.due_ms)
            out += self._drain(txn, key, timer.due_ms)
        elif timer.name == FORGET_TIMER:  # armed only while the record is empty (_save): forget it now
            txn.delete_instance(timer.aggregate_id)
        else:
            ctx = self._context(key, rec, timer.due_ms, None)
            with log_context(tracing.trace_id_for(rec["correlation_id"] or timer_id), key):
                try:
                    self.operator.on_timer(ctx, Timer(timer.name, now, timer_id))
                    records = self._outputs(ctx.emits, rec, timer_id, None, key, timer.due_ms)
                    records += [self._dead_intent(intent.event, intent.reason, intent.message, timer)
                                for intent in ctx.dead_letters]
                    self._commit(txn, key, rec, ctx, timer.due_ms)
                    # Held events dead-lettered by a timer (the `orphaned` ones) were
                    # marked when parked: unmark them so that a redrive applies them.
                    self._forget(txn, {i.event.event_id for i in ctx.dead_letters if i.event is not None})
                except Exception as exc:
                    log.warning("timer %s of %s failed for %s: %r", timer.name, self.step, key, exc)
                    out.append(self._timer_dead(timer, Reason.HANDLER_ERROR, repr(exc), exc))
                else:
                    out += records
            self._save(txn, key, rec)
            out += self._drain(txn, key, timer.due_ms)  # events redelivered by the timer handler
        self._record(txn, out, timer.due_ms)
        return out

    def _retry(self, txn: TaskTransaction, key: str, rec: dict[str, Any], now_ms: int) -> list[OutRecord]:
        """Run the waiting event's handler again; give up after max_attempts."""
        waiting = rec["retry"]
        rec["retry"] = None
        first = self.restore_event(waiting["message"])
        event = Event(first.envelope, first.payload, waiting["attempt"] + 1, first.message)
        out, status = self._handle_event(txn, key, rec, event, now_ms)
        if status == RETRY:
            self._start_retry(txn, key, rec, event, now_ms, event.attempt)
        self._save(txn, key, rec)
        return out

    # -- helpers -----------------------------------------------------------------
    def _forget(self, txn: TaskTransaction, event_ids: set[str]) -> None:
        """Drop the processed marks of dead-lettered events: a dead letter is never "processed"."""
        for event_id in event_ids:
            txn.unmark_seen(self.stored_id(event_id))

    def _context(self, key: str, rec: dict[str, Any], now_ms: int, event: Event | None) -> KeyContext:
        return KeyContext(key, rec, now_ms, self.operator.state, self.restore_event, event, self._held.hold)

    def restore_event(self, held: list[Any]) -> Event:
        """An event back from its held form (kept decoded if it was held recently)."""
        return self._held.restore(held)

    def _decode_held(self, held: list[Any]) -> Event:
        msg = _message_from_json(held)
        env, payload = self._read_envelope(msg.value or b"")
        return Event(env, payload, 1, msg)

    def _commit(self, txn: TaskTransaction, key: str, rec: dict[str, Any], ctx: KeyContext,
                now_ms: int) -> None:
        """Apply a successful handler's intents to the record (saved by the caller)."""
        if ctx.state_touched:
            new_state = ctx.dumped_state()
            for name in list(rec):
                if name not in RESERVED_FIELDS:
                    del rec[name]
            if new_state is not None:
                rec.update(new_state)
            rec["has_state"] = new_state is not None
        if not ctx.deferred:  # the version counts applied events and timers
            rec["version"] += 1
        rec["updated_ms"] = now_ms
        for name, due in ctx.timer_changes.items():
            self._set_timer(txn, key, rec, name, due)
        if ctx.redeliveries:  # from an event or a timer handler: applied right after it (_drain)
            hold = self._held.hold
            rec["queue"] = [[e.event_id, hold(e), True] for e in ctx.redeliveries] + rec["queue"]

    def _set_timer(self, txn: TaskTransaction, key: str, rec: dict[str, Any], name: str,
                   due: int | None) -> None:
        stored_id = self.stored_id(key)
        old = rec["timers"].pop(name, None)
        if old is not None:
            txn.cancel_timer(old[0], stored_id, name)
        if due is not None:
            rec["timers"][name] = [due, rec["version"]]
            txn.set_timer(due, stored_id, name)

    def _outputs(self, emits: list[Emit], rec: dict[str, Any], cause_id: str, cause: Envelope | None,
                 key: str, now_ms: int, parent: tracing.TraceParent | None = None) -> list[OutRecord]:
        topics = check_outputs(emits, self.config.outputs, self.step)
        if not emits or not self.config.build_outputs:
            return []
        return output_records(emits, topics, pipeline=self.config.pipeline, key=key, cause_id=cause_id, cause=cause,
                              correlation_id=rec["correlation_id"], now_ms=now_ms, parent=parent)

    def _dead_intent(self, event: Event | None, reason: str, text: str,
                     timer: TimerEntry | None = None) -> OutRecord:
        code = reason if reason in _BUILT_IN_REASONS else f"{self.step}.{reason}"
        if event is not None and event.message is not None:
            return self._dead(event.message, code, text)
        if timer is not None:
            return self._timer_dead(timer, code, text)
        raise ValueError("dead_letter needs an event outside an event handler")

    def _dead(self, msg: SourceMessage | None, reason: str, text: str, exc: BaseException | None = None,
              attempts: int = 1) -> OutRecord:
        assert msg is not None
        self.stats.dead_lettered[reason] = self.stats.dead_lettered.get(reason, 0) + 1
        metrics.DEAD_LETTERS.labels(self.config.pipeline, reason).inc()
        record = DeadLetterRecord(reason=reason, message=text, pipeline=self.config.pipeline, step=self.step,
                                  source=msg, error_class=type(exc).__name__ if exc else "", attempts=attempts)
        return record.to_record(self.config.dead_letter_topic)

    def _timer_dead(self, timer: TimerEntry, reason: str, text: str, exc: Exception | None = None) -> OutRecord:
        return self._dead(timer_source(timer), reason, text, exc)


class WorkflowEngine(OperatorEngine):
    """The engine running a pipeline's `Workflow` (through `WorkflowOperator`)."""

    def __init__(self, workflow: Workflow, catalog: EventCatalog, config: EngineConfig,
                 clock: Callable[[], datetime] = utc_now, retry: RetryPolicy | None = None) -> None:
        operator = WorkflowOperator(workflow, history_size=config.history_size, max_parked=config.max_parked,
                                    orphan_timeout=config.orphan_timeout,
                                    unexpected_timeout=config.unexpected_timeout,
                                    reorder_timeout=config.reorder_timeout, pipeline=config.pipeline)
        super().__init__(operator, catalog, config, clock, retry)

    @property
    def workflow(self) -> Workflow:
        return self.operator.workflow  # type: ignore[attr-defined, no-any-return]
