"""WorkflowOperator: runs a `Workflow` definition on the public operator API.

What a workflow adds to a plain operator, all through `Context`:
- events that arrive before the start event are held in the instance's state and
  redelivered once it comes (an `__orphaned__` timer dead-letters them if it never does);
- an event no handler accepts in the instance's state (`@on(..., when=...)`) is held
  until one does, re-checked after every applied event and timeout, and
  dead-lettered as `unexpected_in_state` after `unexpected_timeout` (`__unexpected__`);
- events of one producer that carry a `sequence` are put in order (operators.sequence;
  `__reorder__` gives up waiting for a missing one after `reorder_timeout`);
- events ignored on purpose (`instance.ignore`, or of a type with no handler) are
  recorded in the history and counted: nothing is dropped silently;
- finishing arms an `__expire__` timer; the instance is forgotten after `retention`;
- a short history of what was applied, for `eventyard state show`.

Holding never depends on the wall clock: deadlines are the held event's timestamp
plus the timeout, and the order of release is the order of arrival, so a replay
that applies the inputs in the live order holds and releases exactly as live did.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from eventyard.core.deadletter import Reason
from eventyard.observe import metrics
from eventyard.operators import sequence
from eventyard.operators.api import Context, Event, Operator, Timer
from eventyard.operators.workflow import NO_HANDLER, Instance, Workflow

__all__ = ["WorkflowOperator", "EXPIRE_TIMER", "ORPHAN_TIMER", "UNEXPECTED_TIMER", "REORDER_TIMER", "OPERATOR_TIMERS"]

log = logging.getLogger(__name__)

EXPIRE_TIMER = "__expire__"
ORPHAN_TIMER = "__orphaned__"
UNEXPECTED_TIMER = "__unexpected__"
REORDER_TIMER = "__reorder__"
# what this operator arms for an instance, never the workflow itself
OPERATOR_TIMERS = frozenset({EXPIRE_TIMER, ORPHAN_TIMER, UNEXPECTED_TIMER, REORDER_TIMER})
_MS = timedelta(milliseconds=1)


def _new_state() -> dict[str, Any]:
    # "held", "reorder", "seq", "gaps" and "passed" are added when first needed.
    return {"state": None, "data": {}, "seen": [], "finished": False, "history": [], "parked": []}


def _event_ms(ctx: Context[Any], event: Event) -> int:
    """The event's own time (its Kafka timestamp), which its waiting is measured from."""
    msg = event.message
    return msg.timestamp_ms if msg is not None and msg.timestamp_ms > 0 else ctx.now_ms


class WorkflowOperator(Operator[dict[str, Any]]):
    name = "workflow"
    state = dict  # raw JSON: the instance record is read on every event; skip validation
    scope = ""  # a pipeline's workflow owns the unscoped keys of its task stores

    def __init__(self, workflow: Workflow, *, history_size: int = 20, max_parked: int = 100,
                 orphan_timeout: timedelta = timedelta(hours=1),
                 unexpected_timeout: timedelta = timedelta(hours=1),
                 reorder_timeout: timedelta = timedelta(seconds=30), pipeline: str = "") -> None:
        self.workflow = workflow
        self.history_size = history_size
        self.max_parked = max_parked
        self.orphan_timeout = orphan_timeout
        self.unexpected_timeout = unexpected_timeout
        self.reorder_timeout = reorder_timeout
        self.pipeline = pipeline  # metric label
        self.starts_with = frozenset(workflow.starts_with)
        self.retryable = workflow.retryable  # type: ignore[misc]

    def describe(self) -> str:
        return f"workflow {type(self.workflow).__name__}"

    # -- events ------------------------------------------------------------------
    def on_event(self, ctx: Context[dict[str, Any]], event: Event) -> None:
        record = ctx.state or _new_state()
        verdict = sequence.admit(record, event)
        if verdict != "pass":
            self._out_of_sequence(ctx, record, event, verdict)
            return
        successor = sequence.successor(record, event)
        if successor is not None:  # the next of this producer may pass now
            ctx.redeliver(ctx.restore_event(successor))
            self._arm(ctx, record, REORDER_TIMER, [entry[2] for entry in record["reorder"]])
        if record["state"] is None and event.type not in self.starts_with:
            self._park(ctx, record, event)
            return
        if record["state"] is not None and self.workflow.handles(event.type) \
                and self.workflow.handler_for(event.type, record["state"]) is None:
            self._hold(ctx, record, event, _event_ms(ctx, event) + self.unexpected_timeout // _MS)
            return
        parked, record["parked"] = (record["parked"], []) if record["state"] is None else ([], record["parked"])
        instance = self._instance(ctx, record)
        if self.workflow.handles(event.type):
            self.workflow.handle_event(instance, event)
        else:
            instance.ignore(NO_HANDLER)
        self._apply(ctx, record, instance)
        msg = event.message
        self._remember(record, [event.type, event.event_id, msg.topic if msg else None,
                                msg.partition if msg else None, msg.offset if msg else None, ctx.now_ms],
                       _note(instance.ignored, event.late))
        if instance.ignored is not None:
            metrics.EVENTS_IGNORED.labels(self.pipeline, event.type, instance.ignored).inc()
        if event.type not in record["seen"]:
            record["seen"] = sorted([*record["seen"], event.type])
        if parked:
            ctx.cancel_timer(ORPHAN_TIMER)
            self._redeliver_passed(ctx, record, [ctx.restore_event(held) for held in parked])
        else:
            self._release_accepted(ctx, record)
        ctx.state = record

    def _park(self, ctx: Context[dict[str, Any]], record: dict[str, Any], event: Event) -> None:
        """Keep an event that arrived before the one that starts the workflow."""
        if len(record["parked"]) >= self.max_parked:
            ctx.dead_letter(Reason.ORPHANED, f"more than {self.max_parked} events wait for a start event")
            return
        if not record["parked"]:
            ctx.set_timer(ORPHAN_TIMER, after=self.orphan_timeout)
        record["parked"].append(ctx.defer())
        ctx.state = record

    def _hold(self, ctx: Context[dict[str, Any]], record: dict[str, Any], event: Event, until_ms: int) -> None:
        """Keep an event no transition accepts in the current state, until one does."""
        held = record.setdefault("held", [])
        if len(held) >= self.max_parked:
            ctx.dead_letter(Reason.UNEXPECTED_IN_STATE,
                            f"{event.type} not accepted in state {record['state']!r}, and more than "
                            f"{self.max_parked} events wait already")
            return
        held.append([until_ms, ctx.defer(), event.type])
        self._arm(ctx, record, UNEXPECTED_TIMER, [entry[0] for entry in held])
        ctx.state = record

    def _out_of_sequence(self, ctx: Context[dict[str, Any]], record: dict[str, Any], event: Event,
                         verdict: sequence.Verdict) -> None:
        env = event.envelope
        if verdict == "duplicate":
            ctx.skip_duplicate()
            return
        if verdict == "late":
            ctx.dead_letter(Reason.LATE_IN_SEQUENCE,
                            f"sequence {env.sequence} of {env.producer} came after reorder_timeout gave up "
                            "waiting for it; later events were applied")
            return
        waiting = record.setdefault("reorder", [])
        waiting.append([env.producer, env.sequence, _event_ms(ctx, event) + self.reorder_timeout // _MS,
                        ctx.defer()])
        self._arm(ctx, record, REORDER_TIMER, [entry[2] for entry in waiting])
        ctx.state = record

    # -- timers ------------------------------------------------------------------
    def on_timer(self, ctx: Context[dict[str, Any]], timer: Timer) -> None:
        record = ctx.state
        if timer.name == EXPIRE_TIMER or record is None:
            self._dead_letter_all(ctx, record or {}, Reason.UNEXPECTED_IN_STATE,
                                  "the finished instance expired while it waited")
            ctx.clear()
            ctx.cancel_timer(*ctx.timers())
        elif timer.name == ORPHAN_TIMER:
            self._dead_letter_all(ctx, record, Reason.ORPHANED, "no start event arrived within orphan_timeout")
            ctx.clear()
            ctx.cancel_timer(*ctx.timers())
        elif timer.name == UNEXPECTED_TIMER:
            held = record.get("held", [])
            for entry in [entry for entry in held if entry[0] <= ctx.now_ms]:
                held.remove(entry)
                restored = ctx.restore_event(entry[1])
                ctx.dead_letter(Reason.UNEXPECTED_IN_STATE,
                                f"no transition accepted {restored.type} in state {record['state']!r} "
                                "within unexpected_timeout", restored)
            self._arm(ctx, record, UNEXPECTED_TIMER, [entry[0] for entry in held])
            ctx.state = record
        elif timer.name == REORDER_TIMER:
            release, gaps = sequence.give_up(record, ctx.now_ms)
            for producer, first, last in gaps:
                log.warning("%s: gave up waiting for sequence %d-%d of %s after reorder_timeout",
                            ctx.key, first, last, producer)
                metrics.SEQUENCE_GAPS.labels(self.pipeline).inc()
                self._remember(record, ["sequence gap", producer, None, None, None, ctx.now_ms],
                               f"missing {first}-{last}, given up")
            ctx.redeliver(*(ctx.restore_event(held) for held in release))
            self._arm(ctx, record, REORDER_TIMER, [entry[2] for entry in record.get("reorder", [])])
            ctx.state = record
        else:
            instance = self._instance(ctx, record)
            self.workflow.handle_timeout(instance, timer.name)
            self._apply(ctx, record, instance)
            self._remember(record, [f"timeout:{timer.name}", timer.id, None, None, None, ctx.now_ms])
            self._release_accepted(ctx, record)
            ctx.state = record

    # -- holding -------------------------------------------------------------------
    def _release_accepted(self, ctx: Context[dict[str, Any]], record: dict[str, Any]) -> None:
        """Redeliver the first held event a transition accepts now. One at a time: it
        may change the state, and it re-checks the rest when it has been applied."""
        held = record.get("held")
        if not held:
            return
        for entry in held:
            if self.workflow.handler_for(entry[2], record["state"]) is not None:
                held.remove(entry)
                self._arm(ctx, record, UNEXPECTED_TIMER, [e[0] for e in held])
                self._redeliver_passed(ctx, record, [ctx.restore_event(entry[1])])
                return

    def _redeliver_passed(self, ctx: Context[dict[str, Any]], record: dict[str, Any], events: list[Event]) -> None:
        """Redeliver events that passed the sequence gate already (operators.sequence)."""
        passed = [e.event_id for e in events if e.envelope.sequence is not None]
        if passed:
            record["passed"] = [*record.get("passed", []), *passed]
        ctx.redeliver(*events)

    def _arm(self, ctx: Context[dict[str, Any]], record: dict[str, Any], timer: str, deadlines: list[int]) -> None:
        """Keep `timer` due at the earliest deadline (cancelled when nothing waits)."""
        if not deadlines:
            ctx.cancel_timer(timer)
            return
        due = min(deadlines)
        if ctx.due_ms(timer) != due:
            ctx.set_timer(timer, after=(due - ctx.now_ms) * _MS)

    def _dead_letter_all(self, ctx: Context[dict[str, Any]], record: dict[str, Any], reason: str, why: str) -> None:
        for held in [*record.get("parked", ()), *(e[1] for e in record.get("held", ())),
                     *(e[3] for e in record.get("reorder", ()))]:
            ctx.dead_letter(reason, why, ctx.restore_event(held))

    # -- helpers -----------------------------------------------------------------
    def _instance(self, ctx: Context[dict[str, Any]], record: dict[str, Any]) -> Instance:
        return Instance(ctx.key, record["state"], record["data"], ctx.timer_names, record["seen"],
                        record["finished"], lambda: ctx.now, ctx.emits)

    def _apply(self, ctx: Context[dict[str, Any]], record: dict[str, Any], instance: Instance) -> None:
        was_finished = record["finished"]
        record["state"], record["data"], record["finished"] = instance.state, instance.data, instance.finished
        for name, within in instance.timer_changes.items():
            if within is None:
                ctx.cancel_timer(name)
            else:
                ctx.set_timer(name, after=within)
        if instance.finished and not was_finished:
            ctx.set_timer(EXPIRE_TIMER, after=self.workflow.retention)

    def _remember(self, record: dict[str, Any], entry: list[Any], note: str | None = None) -> None:
        """A history entry: [kind, id, topic, partition, offset, at_ms] and a note
        when the entry is marked (ignored, a sequence gap)."""
        if self.history_size:
            history = record["history"]  # the handler's private copy of the record: change it in place
            history.append(entry if note is None else [*entry, note])
            if len(history) > self.history_size:
                del history[:-self.history_size]


def _note(ignored: str | None, late: bool) -> str | None:
    """The history note of an applied event: ignored (why), late, or both."""
    if ignored is None:  # nearly every event: no lists made to say nothing
        return "late" if late else None
    return f"ignored: {ignored}; late" if late else f"ignored: {ignored}"
