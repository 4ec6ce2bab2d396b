"""KeyContext: what a handler call collects, as docs/api.md describes it."""

from __future__ import annotations

from eventyard.operators.api import Emit
from eventyard.operators.context import KeyContext
from eventyard.operators.workflow import Instance


def _restore(held: object) -> object:
    raise AssertionError("nothing is held here")


def test_emits_lists_what_the_call_emitted_in_order_through_emit_and_a_workflow_instance():
    ctx = KeyContext("o-1", {"timers": {}}, 1_000, None, _restore)  # type: ignore[arg-type]
    instance = Instance("o-1", "new", {}, ctx.timers, [], False, lambda: ctx.now, ctx.emits)
    ctx.emit("events", "OrderSeen", order_id="o-1")
    instance.command("ChargePayment", amount=3)
    instance.event("OrderAccepted")
    instance.emit("events", "Noted", note="x")
    assert ctx.emits == [Emit("events", "OrderSeen", {"order_id": "o-1"}),
                         Emit("commands", "ChargePayment", {"amount": 3}),
                         Emit("events", "OrderAccepted", {}),
                         Emit("events", "Noted", {"note": "x"})]
