"""The order saga's business rules, for every outcome and every arrival order."""

import itertools
from collections import Counter
from datetime import timedelta

import orjson
import pytest

from eventyard.demo.traffic import ALL_OUTCOMES, OrderScenario


def _drive(engine, store, make_inbound, clock, scenario: OrderScenario, first_events) -> Counter:
    """Feed events, react like the downstream services would, let timers fire."""
    got: Counter = Counter()
    queue = list(first_events)

    def consume(records):
        for r in records:
            if r.topic == "order_saga.decisions":
                continue
            envelope = orjson.loads(r.value)
            got[envelope["type"]] += 1
            reaction = scenario.reaction(envelope["type"], envelope["payload"])
            if reaction is not None:
                queue.append(reaction)

    for _ in range(3):  # minutes pass between rounds; timers fire in between
        while queue:
            consume(engine.apply(store.transaction(), make_inbound(queue.pop(0))))
        clock.advance(timedelta(minutes=16))
        for timer in store.due_timers(clock.ms):
            consume(engine.fire(store.transaction(), timer))
    return got


@pytest.mark.parametrize("outcome", ALL_OUTCOMES)
@pytest.mark.parametrize("other_side_done", [True, False])
def test_every_arrival_order_gives_exactly_the_expected_outputs(
        make_engine, make_store, make_inbound, clock, outcome, other_side_done):
    scenario = OrderScenario("o-1", outcome, other_side_done, duplicate=True)
    initial = scenario.initial_events()
    for n, order in enumerate(itertools.permutations(initial)):
        engine, store = make_engine(), make_store(name=f"perm-{n}")
        got = _drive(engine, store, make_inbound, clock, scenario, order)
        assert got == scenario.expected(), [orjson.loads(e.value)["type"] for e in order]


def test_payment_after_timeout_cancellation_is_refunded(make_engine, make_store, make_inbound, clock, event):
    engine, store = make_engine(), make_store()
    scenario = OrderScenario("o-1", ALL_OUTCOMES[3], True, False)
    _drive(engine, store, make_inbound, clock, scenario, scenario.initial_events())
    assert store.get_instance("o-1")["state"] == "cancelled"
    out = [r for r in engine.apply(store.transaction(), make_inbound(scenario.paid()))
           if r.topic != "order_saga.decisions"]
    refund = orjson.loads(out[0].value)
    assert refund["type"] == "RefundPayment" and refund["payload"]["payment_id"] == "p-o-1"


def test_timeouts_follow_configuration(make_engine, make_store, make_inbound, clock):
    engine = make_engine(order_saga__payment_reminder_after="2s", order_saga__payment_timeout="4s")
    store = make_store()
    scenario = OrderScenario("o-1", ALL_OUTCOMES[3], False, False)
    engine.apply(store.transaction(), make_inbound(scenario.placed()))
    clock.advance(timedelta(seconds=2))
    assert [t.name for t in store.due_timers(clock.ms)] == ["payment_reminder"]
    clock.advance(timedelta(seconds=2))
    assert [t.name for t in store.due_timers(clock.ms)] == ["payment_reminder", "payment_timeout"]


def test_outputs_are_envelopes_keyed_by_order_with_causation(make_engine, make_store, make_inbound, clock):
    engine, store = make_engine(), make_store()
    scenario = OrderScenario("o-7", ALL_OUTCOMES[0], True, False)
    out = engine.apply(store.transaction(), make_inbound(scenario.placed()))
    assert {r.topic for r in out} == {"order-commands"}
    for record in out:
        envelope = orjson.loads(record.value)
        assert record.key == b"o-7" and envelope["aggregate_id"] == "o-7"
        assert envelope["causation_id"] == "o-7-OrderPlaced-0"
        assert envelope["correlation_id"] == "o-7" and envelope["producer"] == "order_saga"
