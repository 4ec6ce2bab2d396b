"""Retries with backoff: durable in the shard store, per-aggregate order kept."""

from datetime import timedelta

import orjson

from eventyard.operators.workflow import RetryableError


def _business(records):
    return [r for r in records if r.topic != "order_saga.decisions"]


def _placed(event):
    return event("OrderPlaced", customer_id="c", amount=10, currency="EUR", items=[{"sku": "s", "quantity": 1}])


def _flaky_payment(engine, succeed_on: int):
    """The payment handler fails (retryably) until attempt `succeed_on`."""
    original = engine.workflow.payment_received
    attempts = []

    def handler(order, evt):
        attempts.append(evt.attempt)
        if evt.attempt < succeed_on:
            raise RetryableError("payment service timed out")
        original(order, evt)

    engine.workflow.payment_received = handler
    return attempts


def _run_timers(engine, store, clock, rounds=10):
    out = []
    for _ in range(rounds):
        clock.advance(timedelta(minutes=1))
        for timer in store.due_timers(clock.ms):
            out += engine.fire(store.transaction(), timer)
    return _business(out)


def test_a_retry_that_succeeds_on_the_third_attempt_dead_letters_nothing(
        make_engine, make_store, make_inbound, event, clock):
    engine, store = make_engine(pipeline__retry_backoff="1s"), make_store()
    attempts = _flaky_payment(engine, succeed_on=3)
    engine.apply(store.transaction(), make_inbound(_placed(event)))
    assert _business(engine.apply(store.transaction(), make_inbound(
        event("PaymentReceived", payment_id="p", amount=10)))) == []
    # a later event of the same order waits behind the retrying one
    assert _business(engine.apply(store.transaction(), make_inbound(
        event("InventoryReserved", reservation_id="r")))) == []
    assert store.get_instance("o-1")["data"]["reservation_id"] is None
    assert [t.name for t in store.timers() if t.name == "__retry__"] == ["__retry__"]  # durable

    out = []
    for _ in range(5):
        clock.advance(timedelta(seconds=10))
        for timer in store.due_timers(clock.ms):
            out += _business(engine.fire(store.transaction(), timer))
    assert attempts == [1, 2, 3]
    types = [orjson.loads(r.value)["type"] for r in out]
    assert types == ["OrderConfirmed", "CreateShipment"]  # payment, then the waiting reservation
    assert all(r.topic != "order_saga.dlq" for r in out)
    assert store.get_instance("o-1")["state"] == "confirmed"


def test_exhausted_retries_give_one_dead_letter_with_the_attempt_count(
        make_engine, make_store, make_inbound, event, clock):
    engine, store = make_engine(pipeline__max_attempts="3", pipeline__retry_backoff="1s"), make_store()
    attempts = _flaky_payment(engine, succeed_on=99)
    engine.apply(store.transaction(), make_inbound(_placed(event)))
    payment = make_inbound(event("PaymentReceived", payment_id="p", amount=10))
    engine.apply(store.transaction(), payment)
    out = _run_timers(engine, store, clock)
    dead = [r for r in out if r.topic == "order_saga.dlq"]
    assert attempts == [1, 2, 3] and len(dead) == 1
    headers = dict(dead[0].headers)
    assert headers["eventyard.error.attempts"] == b"3"
    assert headers["eventyard.error.reason"] == b"handler_error"
    assert dead[0].value == payment.message.value
    assert store.get_instance("o-1")["retry"] is None
    assert not store.transaction().seen(payment.envelope.event_id)  # a redrive can still apply it


def test_backoff_grows_exponentially_with_bounded_jitter(make_engine):
    policy = make_engine(pipeline__retry_backoff="1s", pipeline__retry_backoff_max="10s").retry
    delays = [policy.delay_ms("e-1", attempt) for attempt in range(1, 7)]
    for attempt, delay in enumerate(delays, 1):
        base = min(1000 * 2 ** (attempt - 1), 10_000)
        assert 0.8 * base <= delay <= 1.2 * base
    assert policy.delay_ms("e-1", 2) == policy.delay_ms("e-1", 2)  # same on replay
    assert policy.delay_ms("e-1", 2) != policy.delay_ms("e-2", 2)  # jitter spreads aggregates


def test_non_retryable_errors_are_dead_lettered_at_once(make_engine, make_store, make_inbound, event):
    engine, store = make_engine(), make_store()
    engine.apply(store.transaction(), make_inbound(_placed(event)))
    engine.workflow.payment_received = lambda order, evt: 1 / 0
    out = engine.apply(store.transaction(), make_inbound(event("PaymentReceived", payment_id="p", amount=1)))
    dead = [r for r in out if r.topic == "order_saga.dlq"]
    assert len(dead) == 1 and dict(dead[0].headers)["eventyard.error.attempts"] == b"1"
