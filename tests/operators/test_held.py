"""Held events (parked, queued, retried) come back as they were held, kept decoded or not."""

from dataclasses import replace

from eventyard.operators.api import Context, Event
from eventyard.operators.held import HeldEvents


def _event(make_inbound, event, offset=0, **payload) -> Event:
    inbound = make_inbound(event("PaymentReceived", payment_id="p", amount=10, **payload), offset=offset)
    return Event(inbound.envelope, inbound.payload, 1, inbound.message)


def test_a_kept_event_equals_the_one_decoded_from_its_bytes(make_engine, make_inbound, event):
    engine = make_engine()
    held_events = HeldEvents(engine._decode_held)
    original = _event(make_inbound, event)
    held = held_events.hold(original)
    assert held_events.restore(held) == engine._decode_held(held) == original


def test_a_different_held_form_at_the_same_position_is_decoded_not_taken_from_memory(make_engine, make_inbound, event):
    engine = make_engine()
    held_events = HeldEvents(engine._decode_held)
    first = _event(make_inbound, event)
    other = _event(make_inbound, event, note="changed")
    assert (first.message.offset, first.message.topic) == (other.message.offset, other.message.topic)
    held_events.hold(first)
    assert held_events.restore(Context.hold(other)) == other


def test_a_retried_event_comes_back_as_its_first_attempt(make_engine, make_inbound, event):
    engine = make_engine()
    held_events = HeldEvents(engine._decode_held)
    first = _event(make_inbound, event)
    assert held_events.restore(held_events.hold(replace(first, attempt=3))).attempt == 1


def test_memory_is_bounded_and_the_oldest_still_restores_from_bytes(make_engine, make_message, event):
    engine = make_engine()
    held_events = HeldEvents(engine._decode_held, capacity=2)
    events = []
    for offset in range(3):
        msg = make_message(event("PaymentReceived", payment_id=f"p{offset}", amount=10), offset=offset)
        events.append(engine._decode_held(Context.hold(Event(None, None, 1, msg))))  # type: ignore[arg-type]
    held = [held_events.hold(e) for e in events]
    assert len(held_events) == 2
    assert [held_events.restore(h) for h in held] == events


def test_a_parked_event_gives_the_same_outputs_after_a_restart(make_engine, make_store, make_inbound, event):
    """Redelivery from memory (same engine) and from bytes (a new engine) agree."""
    placed = dict(customer_id="c", amount=10, currency="EUR", items=[{"sku": "s", "quantity": 1}])
    early = make_inbound(event("PaymentReceived", payment_id="p", amount=10))
    start = make_inbound(event("OrderPlaced", **placed), offset=1)

    warm, warm_store = make_engine(), make_store(name="warm")
    warm.apply(warm_store.transaction(), early)
    warm_out = warm.apply(warm_store.transaction(), start)

    cold_store = make_store(name="cold")
    make_engine().apply(cold_store.transaction(), early)
    cold_out = make_engine().apply(cold_store.transaction(), start)  # restarted: nothing kept in memory

    assert warm_out == cold_out
    assert warm_store.get_instance("o-1") == cold_store.get_instance("o-1")
