"""WorkflowOperator: runs a `Workflow` definition on the public operator API.

What a workflow adds to a plain operator, all through `Context`:
- events that arrive before the start event are held in the instance's state and
  redelivered once it comes (an `__orphaned__` timer dead-letters them if it never does);
- finishing arms an `__expire__` timer; the instance is forgotten after `retention`;
- a short history of what was applied, for `eventyard state show`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from eventyard.core.deadletter import Reason
from eventyard.operators.api import Context, Event, Operator, Timer
from eventyard.operators.workflow import Instance, Workflow

__all__ = ["WorkflowOperator", "EXPIRE_TIMER", "ORPHAN_TIMER"]

EXPIRE_TIMER = "__expire__"
ORPHAN_TIMER = "__orphaned__"


def _new_state() -> dict[str, Any]:
    return {"state": None, "data": {}, "seen": [], "finished": False, "history": [], "parked": []}


class WorkflowOperator(Operator[dict[str, Any]]):
    name = "workflow"
    state = dict  # raw JSON: the instance record is read on every event; skip validation
    scope = ""  # a pipeline's workflow owns the unscoped keys of its shard stores

    def __init__(self, workflow: Workflow, *, history_size: int = 20, max_parked: int = 100,
                 orphan_timeout: timedelta = timedelta(hours=1)) -> None:
        self.workflow = workflow
        self.history_size = history_size
        self.max_parked = max_parked
        self.orphan_timeout = orphan_timeout
        self.starts_with = frozenset(workflow.starts_with)
        self.retryable = workflow.retryable  # type: ignore[misc]

    def describe(self) -> str:
        return f"workflow {type(self.workflow).__name__}"

    # -- events ------------------------------------------------------------------
    def on_event(self, ctx: Context[dict[str, Any]], event: Event) -> None:
        record = ctx.state or _new_state()
        if record["state"] is None and event.type not in self.starts_with:
            self._hold(ctx, record, event)
            return
        parked, record["parked"] = (record["parked"], []) if record["state"] is None else ([], record["parked"])
        instance = self._instance(ctx, record)
        self.workflow.handle_event(instance, event)
        self._apply(ctx, record, instance)
        msg = event.message
        self._remember(record, [event.type, event.event_id, msg.topic if msg else None,
                                msg.partition if msg else None, msg.offset if msg else None, ctx.now_ms])
        record["seen"] = sorted({*record["seen"], event.type})
        if parked:
            ctx.cancel_timer(ORPHAN_TIMER)
            ctx.redeliver(*(ctx.restore_event(held) for held in parked))
        ctx.state = record

    def _hold(self, ctx: Context[dict[str, Any]], record: dict[str, Any], event: Event) -> None:
        """Keep an event that arrived before the one that starts the workflow."""
        if len(record["parked"]) >= self.max_parked:
            ctx.dead_letter(Reason.ORPHANED, f"more than {self.max_parked} events wait for a start event")
            return
        if not record["parked"]:
            ctx.set_timer(ORPHAN_TIMER, after=self.orphan_timeout)
        record["parked"].append(ctx.defer())
        ctx.state = record

    # -- timers ------------------------------------------------------------------
    def on_timer(self, ctx: Context[dict[str, Any]], timer: Timer) -> None:
        record = ctx.state
        if timer.name == EXPIRE_TIMER or record is None:
            ctx.clear()
            ctx.cancel_timer(*ctx.timers())
        elif timer.name == ORPHAN_TIMER:
            for held in record["parked"]:
                ctx.dead_letter(Reason.ORPHANED, "no start event arrived within orphan_timeout",
                                ctx.restore_event(held))
            ctx.clear()
            ctx.cancel_timer(*ctx.timers())
        else:
            instance = self._instance(ctx, record)
            self.workflow.handle_timeout(instance, timer.name)
            self._apply(ctx, record, instance)
            self._remember(record, [f"timeout:{timer.name}", timer.id, None, None, None, ctx.now_ms])
            ctx.state = record

    # -- helpers -----------------------------------------------------------------
    def _instance(self, ctx: Context[dict[str, Any]], record: dict[str, Any]) -> Instance:
        return Instance(ctx.key, record["state"], record["data"], ctx.timers, set(record["seen"]),
                        record["finished"], lambda: ctx.now, ctx.emit)

    def _apply(self, ctx: Context[dict[str, Any]], record: dict[str, Any], instance: Instance) -> None:
        was_finished = record["finished"]
        record.update(state=instance.state, data=instance.data, finished=instance.finished)
        for name, within in instance.timer_changes.items():
            if within is None:
                ctx.cancel_timer(name)
            else:
                ctx.set_timer(name, after=within)
        if instance.finished and not was_finished:
            ctx.set_timer(EXPIRE_TIMER, after=self.workflow.retention)

    def _remember(self, record: dict[str, Any], entry: list[Any]) -> None:
        if self.history_size:
            record["history"] = [*record["history"], entry][-self.history_size:]
