"""VelocityDetector: more than N payments per customer within a sliding window."""

from datetime import timedelta

import pytest

from eventyard.operators.examples import VelocityDetector
from eventyard.testing import OperatorTestKit
from eventyard.pipelines.order_saga_events import CATALOG


@pytest.fixture
def kit():
    with OperatorTestKit(VelocityDetector(limit=2, window="10m"), CATALOG) as kit:
        yield kit


def _pay(kit, order, customer="c-1"):
    return kit.send("PaymentReceived", order, payment_id=f"p-{order}", amount=10, customer_id=customer)


def test_more_than_limit_payments_in_the_window_raise_one_alert(kit):
    for n in range(2):
        assert _pay(kit, f"o-{n}") == []
        kit.advance(timedelta(minutes=1))
    alert = _pay(kit, "o-2")
    assert [(a.type, a.key, a.payload["count"]) for a in alert] == [("FraudSuspected", "c-1", 3)]
    assert alert[0].payload["event_ids"] == [f"o-{n}-PaymentReceived-{n + 1}" for n in range(3)]
    assert _pay(kit, "o-3") == []  # the same burst alerts once


def test_payments_spread_wider_than_the_window_are_not_suspicious(kit):
    for n in range(5):
        assert _pay(kit, f"o-{n}") == []
        kit.advance(timedelta(minutes=6))
    assert kit.emitted == []


def test_customers_are_counted_apart_and_payments_without_a_customer_are_skipped(kit):
    for n in range(3):
        _pay(kit, f"a-{n}", "c-a")
        _pay(kit, f"b-{n}", "c-b" if n < 2 else "c-a")
        kit.send("PaymentReceived", f"x-{n}", payment_id="p", amount=1)
    assert [(a.key, a.payload["count"]) for a in kit.emitted] == [("c-a", 3)]
    assert kit.state("c-b").times_ms and kit.state("missing") is None


def test_state_is_dropped_once_the_window_has_passed(kit):
    _pay(kit, "o-1")
    assert kit.timers("c-1")  # the prune timer
    kit.advance(timedelta(minutes=11))
    assert kit.state("c-1") is None and kit.timers("c-1") == {}


def test_a_replayed_duplicate_payment_is_not_counted_twice(kit):
    for _ in range(3):
        kit.send("PaymentReceived", "o-1", event_id="same", payment_id="p", amount=1, customer_id="c-1")
    assert len(kit.state("c-1").times_ms) == 1 and kit.emitted == []
