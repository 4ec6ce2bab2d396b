"""InactivityDetector: no event for an aggregate within the timeout -> AggregateStalled."""

from datetime import timedelta

import pytest

from eventyard.operators.examples import InactivityDetector
from eventyard.testing import OperatorTestKit
from eventyard.pipelines.order_saga_events import CATALOG


@pytest.fixture
def kit():
    detector = InactivityDetector(timeout="3d", done_on={"ShipmentCreated"})
    with OperatorTestKit(detector, CATALOG) as kit:
        yield kit


def test_an_aggregate_with_no_event_for_the_timeout_is_reported_stalled(kit):
    kit.send("InventoryReserved", "o-1", reservation_id="r")
    assert kit.advance(timedelta(days=2, hours=23)) == []
    stalled = kit.advance(timedelta(hours=1))
    assert [(s.type, s.key) for s in stalled] == [("AggregateStalled", "o-1")]
    assert stalled[0].payload["last_event_type"] == "InventoryReserved"


def test_each_event_restarts_the_countdown(kit):
    kit.send("InventoryReserved", "o-1", reservation_id="r")
    kit.advance(timedelta(days=2))
    kit.send("PaymentReceived", "o-1", payment_id="p", amount=1)
    assert kit.advance(timedelta(days=2)) == []
    assert kit.emitted_types() == []
    assert kit.advance(timedelta(days=1))[0].payload["last_event_type"] == "PaymentReceived"


def test_a_stalled_aggregate_is_reported_again_each_timeout_until_it_is_done(kit):
    kit.send("InventoryReserved", "o-1", reservation_id="r")
    kit.advance(timedelta(days=7))
    assert [s.payload["alerts"] for s in kit.emitted] == [1, 2]
    kit.send("ShipmentCreated", "o-1", shipment_id="s")
    assert kit.advance(timedelta(days=30)) == [] and kit.state("o-1") is None


def test_the_stall_alert_has_a_stable_id_derived_from_the_timer(kit):
    kit.send("InventoryReserved", "o-1", reservation_id="r")
    first = kit.advance(timedelta(days=3))[0]
    with OperatorTestKit(InactivityDetector(timeout="3d"), CATALOG) as again:
        again.send("InventoryReserved", "o-1", reservation_id="r")
        assert again.advance(timedelta(days=3))[0].event_id == first.event_id
    assert first.causation_id.startswith("timer/inactivity")


def test_a_key_forgotten_and_started_again_gets_new_alert_ids():
    with OperatorTestKit(InactivityDetector(timeout="1h", repeat=False, forget_after="2h"), CATALOG) as kit:
        kit.send("InventoryReserved", "o-1", reservation_id="r", event_id="e-1")
        first = kit.advance(timedelta(hours=1))
        assert kit.state("o-1") is not None  # remembered: reported once
        kit.advance(timedelta(hours=2))
        assert kit.state("o-1") is None  # forgotten forget_after later
        kit.send("PaymentReceived", "o-1", payment_id="p", amount=1, event_id="e-2")
        second = kit.advance(timedelta(hours=1))
        assert len(first) == len(second) == 1 and first[0].event_id != second[0].event_id


def test_a_watched_event_after_the_done_event_does_not_start_the_watch_again(kit):
    # Issue 16: the loan services answer independently; documents verified before the
    # credit check completed the application and still raised a stall alert.
    kit.send("InventoryReserved", "o-1", reservation_id="r")
    kit.send("ShipmentCreated", "o-1", shipment_id="s")  # done
    kit.send("PaymentReceived", "o-1", payment_id="p", amount=1)  # read after it
    assert kit.advance(timedelta(days=6)) == []
    assert kit.advance(timedelta(days=2)) == [] and kit.state("o-1") is None  # forgotten after 7 days


def test_without_repeat_an_aggregate_is_reported_once_whatever_comes_after():
    with OperatorTestKit(InactivityDetector(timeout="1h", repeat=False), CATALOG) as kit:
        kit.send("InventoryReserved", "o-1", reservation_id="r")
        assert len(kit.advance(timedelta(hours=1))) == 1
        kit.send("PaymentReceived", "o-1", payment_id="p", amount=1)  # activity after the alert
        assert kit.advance(timedelta(hours=5)) == []
