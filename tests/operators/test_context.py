"""KeyContext: what a handler call collects, as docs/api.md describes it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from eventyard.core.envelope import utc_from_ms
from eventyard.operators.api import Context, Emit
from eventyard.operators.context import KeyContext
from eventyard.operators.workflow import Instance


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


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


@given(armed=st.dictionaries(st.sampled_from(["pay", "remind", "__expire__", "__retry__", "__forget__"]),
                             st.integers(0, 2**41), max_size=5),
       changes=st.lists(st.tuples(st.sampled_from(["pay", "remind", "__expire__", "ship"]),
                                  st.none() | st.integers(0, 2**41)), max_size=6),
       name=st.sampled_from(["pay", "remind", "__expire__", "__retry__", "__forget__", "ship"]))
def test_due_ms_and_timer_names_are_what_timers_says(armed, changes, name):
    # due_ms is timers() without datetimes: the same armed set, engine timers hidden,
    # this call's changes included.
    ctx = KeyContext("o-1", {"timers": {n: [due, 1] for n, due in armed.items()}}, 1_000, None, _restore)
    for timer, due in changes:
        if due is None:
            ctx.cancel_timer(timer)
        else:
            ctx.set_timer(timer, at=utc_from_ms(due))
    at = ctx.timers().get(name)
    # exact ms: epoch_ms truncates a float, which reads ~1% of ms values one short
    assert ctx.due_ms(name) == (None if at is None else (at - EPOCH) // timedelta(milliseconds=1))
    assert ctx.timer_names() == list(ctx.timers())
    # the API's defaults (what another Context gets) agree
    assert Context.due_ms(ctx, name) == ctx.due_ms(name)
    assert Context.timer_names(ctx) == ctx.timer_names()
