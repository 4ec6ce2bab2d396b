"""WorkflowEngine: applies one event or one fired timer to a shard, atomically.

Exactly-once state: an event at or below the shard's applied-offset watermark for
its (topic, partition) was applied before a restart and is skipped; an event ID
already processed (a producer retry, a redrive) is skipped too. Everything else an
event causes (instance state, timers, watermark, dedup mark, outbox) is committed
in one WriteBatch, so a crash leaves either all of it or none of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from eventyard import metrics
from eventyard.catalog import EventCatalog
from eventyard.deadletter import DeadLetterRecord, Reason
from eventyard.envelope import Envelope, utc_now
from eventyard.records import OutRecord, SourceMessage
from eventyard.routing import derived_event_id
from operators.decisions import applied_out_of_order, merge_key, timer_fired
from operators.decode import Inbound
from operators.retry import RETRY_TIMER, RetryPolicy
from operators.workflow import Emit, Event, Instance, Workflow
from state import ShardTransaction, TimerEntry

__all__ = ["EngineConfig", "EngineStats", "WorkflowEngine", "EXPIRE_TIMER", "ORPHAN_TIMER"]

log = logging.getLogger(__name__)

EXPIRE_TIMER = "__expire__"
ORPHAN_TIMER = "__orphaned__"
STEP = "workflow"
OK, RETRY, DEAD = "ok", "retry", "dead"


@dataclass(frozen=True)
class EngineConfig:
    pipeline: str
    outputs: dict[str, str]  # output name used by handlers -> topic
    dead_letter_topic: str
    history_size: int = 20
    max_parked: int = 100
    orphan_timeout: timedelta = timedelta(hours=1)
    decisions_topic: str | None = None  # where TimerFired / AppliedOutOfOrder go
    record_outbox: bool = True  # replay turns this off: it must have no side effects


@dataclass
class EngineStats:
    applied: int = 0
    duplicates: int = 0
    replayed: int = 0  # at/below the watermark: applied before a restart
    parked: int = 0
    dead_lettered: dict[str, int] = field(default_factory=dict)
    timers_fired: int = 0


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _new_record(now_ms: int) -> dict[str, Any]:
    return {
        "state": None, "data": {}, "timers": {}, "seen": [], "finished": False,
        "version": 0, "history": [], "parked": [], "created_ms": now_ms,
        "updated_ms": now_ms, "correlation_id": None, "last": None, "prev": None,
        "retry": None, "queue": [],
    }


def _message_to_json(msg: SourceMessage) -> list[Any]:
    return [msg.topic, msg.partition, msg.offset, (msg.key or b"").hex(),
            (msg.value or b"").hex(), [[k, v.hex()] for k, v in msg.headers], msg.timestamp_ms]


def _message_from_json(obj: list[Any]) -> SourceMessage:
    topic, partition, offset, key, value, headers, ts = obj
    return SourceMessage(topic, partition, offset, bytes.fromhex(key), bytes.fromhex(value),
                         tuple((k, bytes.fromhex(v)) for k, v in headers), ts)


class WorkflowEngine:
    def __init__(
        self,
        workflow: Workflow,
        catalog: EventCatalog,
        config: EngineConfig,
        clock: Callable[[], datetime] = utc_now,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.workflow = workflow
        self.catalog = catalog
        self.config = config
        self.clock = clock
        self.starts_with = frozenset(workflow.starts_with)
        self.retry = retry or RetryPolicy()
        self.stats = EngineStats()

    # -- events -------------------------------------------------------------------
    def apply(self, txn: ShardTransaction, inbound: Inbound) -> list[OutRecord]:
        msg, env = inbound.message, inbound.envelope
        if msg.offset <= txn.watermark(msg.topic, msg.partition):
            self.stats.replayed += 1
            return []
        txn.set_watermark(msg.topic, msg.partition, msg.offset)
        if txn.seen(env.event_id):
            self.stats.duplicates += 1
            rec = txn.get_instance(env.aggregate_id)
            # A replay must also meet the duplicate after the original.
            out = self._note_order(dict(rec), inbound) if rec else []
            self._record(txn, out, msg.timestamp_ms)
            return out
        # Event time, not wall-clock time: timers start when the event happened,
        # and a replay computes exactly what the live run computed.
        now = _utc(msg.timestamp_ms) if msg.timestamp_ms > 0 else self.clock()
        out = self._process(txn, txn.get_instance(env.aggregate_id), inbound, now)
        out += self._drain(txn, env.aggregate_id, now)
        self._record(txn, out, _ms(now))
        return out

    def _process(
        self, txn: ShardTransaction, rec: dict[str, Any] | None, inbound: Inbound, now: datetime
    ) -> list[OutRecord]:
        """Apply one new event to its instance, or hold it; the caller commits."""
        env, now_ms = inbound.envelope, _ms(now)
        if rec is not None and rec.get("retry"):
            return self._queue(txn, rec, inbound)
        if (rec is None or rec["state"] is None) and env.type not in self.starts_with:
            return self._park(txn, rec, inbound, now_ms)
        is_new = rec is None
        rec = rec or _new_record(now_ms)
        parked = rec["parked"] if rec["state"] is None else []
        out, status = self._handle_event(txn, rec, inbound, now)
        if status != DEAD:
            out += self._note_order(rec, inbound)
        if status == RETRY:
            self._start_retry(txn, rec, inbound, now_ms)
        if status == OK and parked:
            rec["parked"] = []
            self._set_timer(txn, env.aggregate_id, rec, ORPHAN_TIMER, None, now_ms)
            for n, item in enumerate(parked):
                unparked = self._unpark(item)
                records, status = self._handle_event(txn, rec, unparked, now)
                out += records
                if status == RETRY:  # the rest waits behind it
                    self._start_retry(txn, rec, unparked, now_ms)
                    rec["queue"] = [[self._unpark(p).envelope.event_id, p] for p in parked[n + 1:]]
                    break
        if status != DEAD or not is_new:
            txn.put_instance(env.aggregate_id, rec)
        return out

    def _queue(self, txn: ShardTransaction, rec: dict[str, Any], inbound: Inbound) -> list[OutRecord]:
        """Keep per-aggregate order: wait behind the event being retried."""
        event_id = inbound.envelope.event_id
        waiting = [rec["retry"]["event_id"], *(q[0] for q in rec["queue"])]
        if event_id in waiting:
            self.stats.duplicates += 1
            return []
        rec["queue"].append([event_id, _message_to_json(inbound.message)])
        out = self._note_order(rec, inbound)
        txn.put_instance(inbound.envelope.aggregate_id, rec)
        return out

    def _drain(self, txn: ShardTransaction, aggregate_id: str, now: datetime) -> list[OutRecord]:
        """Apply events that waited behind a retry, until one has to wait again."""
        out: list[OutRecord] = []
        while (rec := txn.get_instance(aggregate_id)) is not None and not rec.get("retry") and rec["queue"]:
            _, item = rec["queue"].pop(0)
            txn.put_instance(aggregate_id, rec)
            out += self._process(txn, rec, self._unpark(item), now)
        return out

    def _start_retry(self, txn: ShardTransaction, rec: dict[str, Any], inbound: Inbound, now_ms: int,
                     attempt: int = 1) -> None:
        env = inbound.envelope
        rec["retry"] = {"event_id": env.event_id, "attempt": attempt,
                        "message": _message_to_json(inbound.message)}
        due = now_ms + self.retry.delay_ms(env.event_id, attempt)
        self._set_timer(txn, env.aggregate_id, rec, RETRY_TIMER, due, now_ms)
        txn.put_instance(env.aggregate_id, rec)

    def _record(self, txn: ShardTransaction, out: list[OutRecord], now_ms: int) -> None:
        if self.config.record_outbox:
            for record in out:
                txn.append_outbox(record, now_ms)
        txn.commit()

    def _note_order(self, rec: dict[str, Any], inbound: Inbound) -> list[OutRecord]:
        """Publish a decision when this event sorts before one already applied.

        Replay applies events in merge order, so an event that sorts after every
        applied one needs no record. One that sorts earlier is recorded as "after
        the event applied just before it", which chains held events in live order.
        """
        key = merge_key(inbound.message)
        highest, previous = rec.get("last"), rec.get("prev")
        rec["last"] = list(key) if highest is None else list(max(key, tuple(highest)))
        rec["prev"] = list(key[1:])
        if highest is None or key > tuple(highest) or self.config.decisions_topic is None:
            return []
        return [applied_out_of_order(self.config.decisions_topic, self.config.pipeline,
                                     inbound.envelope.aggregate_id, inbound.message, previous)]

    def _handle_event(
        self, txn: ShardTransaction, rec: dict[str, Any], inbound: Inbound, now: datetime, attempt: int = 1
    ) -> tuple[list[OutRecord], str]:
        env = inbound.envelope
        try:
            instance = self._instance(env.aggregate_id, rec, now)
            self.workflow.handle_event(instance, Event(env, inbound.payload, attempt))
            if rec["correlation_id"] is None:
                rec["correlation_id"] = env.correlation_id or env.event_id
            records = self._outputs(instance.emits, rec, env.event_id, env, now)
        except Exception as exc:  # a handler bug must not stop the shard
            if self.retry.is_retryable(exc) and attempt < self.retry.max_attempts:
                log.info("attempt %d of %s %s failed, will retry: %r", attempt, env.type, env.event_id, exc)
                metrics.RETRIES.labels(self.config.pipeline, "scheduled").inc()
                return [], RETRY
            if attempt > 1:
                metrics.RETRIES.labels(self.config.pipeline, "exhausted").inc()
            log.warning("handler failed for %s %s: %r", env.type, env.event_id, exc)
            return [self._dead(inbound.message, Reason.HANDLER_ERROR, repr(exc), exc, attempt)], DEAD
        self._commit_instance(txn, env.aggregate_id, rec, instance, now)
        txn.mark_seen(env.event_id, _ms(now))
        rec["seen"] = sorted({*rec["seen"], env.type})
        self._remember(rec, [env.type, env.event_id, inbound.message.topic,
                             inbound.message.partition, inbound.message.offset, _ms(now)])
        self.stats.applied += 1
        metrics.EVENTS_APPLIED.labels(self.config.pipeline, env.type).inc()
        if attempt > 1:
            metrics.RETRIES.labels(self.config.pipeline, "succeeded").inc()
        return records, OK

    def _park(
        self, txn: ShardTransaction, rec: dict[str, Any] | None, inbound: Inbound, now_ms: int
    ) -> list[OutRecord]:
        """Hold an event that arrived before the one that starts the workflow."""
        env = inbound.envelope
        rec = rec or _new_record(now_ms)
        if len(rec["parked"]) >= self.config.max_parked:
            return [self._dead(inbound.message, Reason.ORPHANED,
                               f"more than {self.config.max_parked} events wait for a start event")]
        decisions = self._note_order(rec, inbound)
        if not rec["parked"]:
            due = now_ms + int(self.config.orphan_timeout.total_seconds() * 1000)
            self._set_timer(txn, env.aggregate_id, rec, ORPHAN_TIMER, due, now_ms)
        rec["parked"].append(_message_to_json(inbound.message))
        txn.mark_seen(env.event_id, now_ms)
        txn.put_instance(env.aggregate_id, rec)
        self.stats.parked += 1
        return decisions

    def _unpark(self, parked: list[Any]) -> Inbound:
        msg = _message_from_json(parked)
        env = Envelope.model_validate_json(msg.value or b"")
        return Inbound(msg, env, self.catalog[env.type].model.model_validate(env.payload))

    # -- timers -------------------------------------------------------------------
    def fire(self, txn: ShardTransaction, timer: TimerEntry) -> list[OutRecord]:
        """Apply one due timer. Removing it is in the same batch as its effects,
        so it fires exactly once in state terms."""
        txn.cancel_timer(timer.due_ms, timer.aggregate_id, timer.name)
        rec = txn.get_instance(timer.aggregate_id)
        armed = rec["timers"].get(timer.name) if rec else None
        if armed is None or armed[0] != timer.due_ms:
            txn.commit()  # stale index entry
            return []
        del rec["timers"][timer.name]
        # The handler runs "at" the due time, so its outputs do not depend on
        # how late the worker noticed the timer.
        now = _utc(timer.due_ms)
        now_ms = timer.due_ms
        out: list[OutRecord] = []
        self.stats.timers_fired += 1
        metrics.TIMERS_FIRED.labels(self.config.pipeline).inc()
        if self.config.decisions_topic is not None:
            out.append(timer_fired(self.config.decisions_topic, self.config.pipeline, timer.aggregate_id,
                                   timer.name, timer.due_ms, armed[1], rec["version"],
                                   f"timer/{timer.aggregate_id}/{timer.name}/{armed[1]}"))
        if timer.name == RETRY_TIMER:
            out += self._retry(txn, rec, now)
            out += self._drain(txn, timer.aggregate_id, now)
        elif timer.name == EXPIRE_TIMER:
            txn.delete_instance(timer.aggregate_id)
        elif timer.name == ORPHAN_TIMER:
            for parked in rec["parked"]:
                out.append(self._dead(_message_from_json(parked), Reason.ORPHANED,
                                      "no start event arrived within orphan_timeout"))
            txn.delete_instance(timer.aggregate_id)
        else:
            # Named by when it was armed (instance version), not by wall-clock due
            # time: the same history gives the same output IDs on every run.
            cause_id = f"timer/{timer.aggregate_id}/{timer.name}/{armed[1]}"
            try:
                instance = self._instance(timer.aggregate_id, rec, now)
                self.workflow.handle_timeout(instance, timer.name)
                out += self._outputs(instance.emits, rec, cause_id, None, now)
            except Exception as exc:
                log.warning("timeout handler %s failed for %s: %r", timer.name, timer.aggregate_id, exc)
                out.append(self._timer_dead(timer, exc))
            else:
                self._commit_instance(txn, timer.aggregate_id, rec, instance, now)
                self._remember(rec, [f"timeout:{timer.name}", cause_id, None, None, None, now_ms])
            txn.put_instance(timer.aggregate_id, rec)
        self._record(txn, out, now_ms)
        return out

    def _retry(self, txn: ShardTransaction, rec: dict[str, Any], now: datetime) -> list[OutRecord]:
        """Run the waiting event's handler again; give up after max_attempts."""
        waiting = rec["retry"]
        rec["retry"] = None
        inbound = self._unpark(waiting["message"])
        attempt = waiting["attempt"] + 1
        out, status = self._handle_event(txn, rec, inbound, now, attempt)
        if status == RETRY:
            self._start_retry(txn, rec, inbound, _ms(now), attempt)
        txn.put_instance(inbound.envelope.aggregate_id, rec)
        return out

    # -- helpers ------------------------------------------------------------------
    def _instance(self, aggregate_id: str, rec: dict[str, Any], now: datetime) -> Instance:
        # Handlers get a deep copy of data so a failing handler changes nothing.
        return Instance(aggregate_id, rec["state"], orjson.loads(orjson.dumps(rec["data"])),
                        {name: t[0] for name, t in rec["timers"].items()}, set(rec["seen"]),
                        rec["finished"], now)

    def _commit_instance(
        self, txn: ShardTransaction, aggregate_id: str, rec: dict[str, Any], inst: Instance, now: datetime
    ) -> None:
        now_ms = _ms(now)
        was_finished = rec["finished"]
        rec.update(state=inst.state, data=inst.data, finished=inst.finished,
                   version=rec["version"] + 1, updated_ms=now_ms)
        for name, within in inst.timer_changes.items():
            due = None if within is None else now_ms + int(within.total_seconds() * 1000)
            self._set_timer(txn, aggregate_id, rec, name, due, now_ms)
        if inst.finished and not was_finished:
            due = now_ms + int(self.workflow.retention.total_seconds() * 1000)
            self._set_timer(txn, aggregate_id, rec, EXPIRE_TIMER, due, now_ms)

    @staticmethod
    def _set_timer(
        txn: ShardTransaction, aggregate_id: str, rec: dict[str, Any], name: str, due: int | None, now_ms: int
    ) -> None:
        old = rec["timers"].pop(name, None)
        if old is not None:
            txn.cancel_timer(old[0], aggregate_id, name)
        if due is not None:
            rec["timers"][name] = [due, rec["version"]]
            txn.set_timer(due, aggregate_id, name)

    def _remember(self, rec: dict[str, Any], entry: list[Any]) -> None:
        if self.config.history_size:
            rec["history"] = [*rec["history"], entry][-self.config.history_size:]

    def _outputs(
        self, emits: list[Emit], rec: dict[str, Any], cause_id: str, cause: Envelope | None, now: datetime
    ) -> list[OutRecord]:
        records = []
        occurred = now.isoformat()
        for index, emit in enumerate(emits):
            topic = self.config.outputs.get(emit.output)
            if topic is None:
                raise KeyError(f"workflow emitted to unknown output {emit.output!r}")
            event_id = derived_event_id(cause_id, index)
            envelope = {
                "event_id": event_id, "type": emit.type, "aggregate_id": "", "occurred_at": occurred,
                "producer": self.config.pipeline, "schema_version": 1,
                "trace_id": cause.trace_id if cause and cause.trace_id else rec["correlation_id"],
                "causation_id": cause_id, "correlation_id": rec["correlation_id"],
                "hops": (cause.hops + 1) if cause else 1, "payload": emit.payload,
            }
            key = (cause.aggregate_id if cause else None) or self._aggregate_of(cause_id)
            envelope["aggregate_id"] = key
            records.append(OutRecord(
                topic=topic, key=key.encode(), value=orjson.dumps(envelope),
                headers=(("eventyard.event_id", event_id.encode()), ("eventyard.type", emit.type.encode())),
            ))
        return records

    @staticmethod
    def _aggregate_of(timer_cause_id: str) -> str:
        return timer_cause_id.split("/", 2)[1] if timer_cause_id.startswith("timer/") else ""

    def _dead(self, msg: SourceMessage, reason: Reason, text: str, exc: BaseException | None = None,
              attempts: int = 1) -> OutRecord:
        self.stats.dead_lettered[reason.value] = self.stats.dead_lettered.get(reason.value, 0) + 1
        metrics.DEAD_LETTERS.labels(self.config.pipeline, reason.value).inc()
        record = DeadLetterRecord(reason=reason, message=text, pipeline=self.config.pipeline, step=STEP,
                                  source=msg, error_class=type(exc).__name__ if exc else "", attempts=attempts)
        return record.to_record(self.config.dead_letter_topic)

    def _timer_dead(self, timer: TimerEntry, exc: Exception) -> OutRecord:
        # A timer has no input bytes; the record describes the timer instead.
        value = orjson.dumps({"timer": timer.name, "aggregate_id": timer.aggregate_id, "due_ms": timer.due_ms})
        msg = SourceMessage("<timer>", -1, -1, timer.aggregate_id.encode(), value, (), timer.due_ms)
        return self._dead(msg, Reason.HANDLER_ERROR, repr(exc), exc)


