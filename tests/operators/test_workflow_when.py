"""Nothing silently ignored: `when=` holds an event until its state accepts it;
events ignored on purpose are recorded and counted (issue 15)."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from prometheus_client import REGISTRY

from eventyard.core.errors import WorkflowDefinitionError
from eventyard.operators.workflow import Event, Instance, Workflow, on, on_timeout
from eventyard.operators.workflow_operator import WorkflowOperator
from eventyard.pipelines.order_saga import OrderSaga, OrderSagaOptions
from eventyard.pipelines.order_saga_events import CATALOG
from eventyard.testing import OperatorTestKit

PLACED = dict(customer_id="c", amount=10, currency="EUR", items=[{"sku": "s", "quantity": 1}])


def _kit(workflow: Workflow, **options) -> OperatorTestKit:
    return OperatorTestKit(WorkflowOperator(workflow, pipeline="when-test", **options), CATALOG)


def _saga_kit(**options) -> OperatorTestKit:
    return _kit(OrderSaga(OrderSagaOptions()), **options)


def _types(emitted) -> list[str]:
    return [e.type for e in emitted]


def _ignored(event_type: str, reason: str) -> float:
    return REGISTRY.get_sample_value("eventyard_events_ignored_total",
                                     {"pipeline": "when-test", "type": event_type, "reason": reason}) or 0.0


def test_a_shipment_read_before_payment_and_reservation_completes_the_order_once_they_arrive():
    # The 17 of 90 orders: ShipmentCreated applied before the order was confirmed.
    with _saga_kit() as kit:
        kit.send("OrderPlaced", "o-1", **PLACED)
        assert kit.send("ShipmentCreated", "o-1", shipment_id="s-1") == []
        assert kit.state("o-1")["state"] == "awaiting_payment_and_stock"
        kit.send("PaymentReceived", "o-1", payment_id="p", amount=10)
        done = kit.send("InventoryReserved", "o-1", reservation_id="r")
        assert _types(done) == ["OrderConfirmed", "CreateShipment", "OrderCompleted"]
        assert done[-1].causation_id == "o-1-ShipmentCreated-2"  # caused by the shipment that waited
        instance = kit.state("o-1")
        assert instance["state"] == "completed" and not instance.get("held")
        assert [h[0] for h in instance["history"]] == [
            "OrderPlaced", "PaymentReceived", "InventoryReserved", "ShipmentCreated"]
        assert kit.dead_letters == []


def test_a_shipment_read_before_its_order_waits_for_the_order_and_then_for_confirmation():
    with _saga_kit() as kit:
        kit.send("ShipmentCreated", "o-1", shipment_id="s-1")
        kit.send("PaymentReceived", "o-1", payment_id="p", amount=10)
        kit.send("OrderPlaced", "o-1", **PLACED)
        assert kit.state("o-1")["state"] == "awaiting_stock"
        assert _types(kit.send("InventoryReserved", "o-1", reservation_id="r"))[-1] == "OrderCompleted"


def test_an_event_no_state_accepts_within_unexpected_timeout_is_dead_lettered_intact():
    with _saga_kit(unexpected_timeout=timedelta(minutes=10)) as kit:
        kit.send("OrderPlaced", "o-1", **PLACED)
        kit.send("ShipmentCreated", "o-1", event_id="ship-1", shipment_id="s-1")
        kit.advance(timedelta(minutes=10) - timedelta(milliseconds=1))
        assert kit.dead_letters == []
        kit.advance(timedelta(milliseconds=1))
        [dead] = kit.dead_letters
        assert dead.reason == "unexpected_in_state" and "awaiting_payment_and_stock" in dead.message
        assert orjson.loads(dead.value)["event_id"] == "ship-1"  # the original bytes
        instance = kit.state("o-1")
        assert not instance.get("held") and instance["state"] == "awaiting_payment_and_stock"
        assert "__unexpected__" not in kit.store.get_instance("o-1")["timers"]


def test_each_held_event_waits_unexpected_timeout_from_its_own_timestamp():
    with _saga_kit(unexpected_timeout=timedelta(minutes=10)) as kit:
        kit.send("OrderPlaced", "o-1", **PLACED)
        kit.send("ShipmentCreated", "o-1", event_id="ship-1", shipment_id="s-1")
        kit.advance(timedelta(minutes=5))
        kit.send("ShipmentCreated", "o-1", event_id="ship-2", shipment_id="s-2")
        kit.advance(timedelta(minutes=5))
        assert [orjson.loads(d.value)["event_id"] for d in kit.dead_letters] == ["ship-1"]
        kit.advance(timedelta(minutes=5))
        assert [orjson.loads(d.value)["event_id"] for d in kit.dead_letters] == ["ship-1", "ship-2"]


class Door(Workflow):
    """A small workflow whose transitions depend on the state, opened also by a timeout."""

    name = "door"
    starts_with = {"OrderPlaced"}

    @on("OrderPlaced")
    def placed(self, door: Instance, event: Event) -> None:
        door.expect("auto_open", within=timedelta(minutes=1))
        door.goto("closed")

    @on("PaymentReceived", when="open")
    def through(self, door: Instance, event: Event) -> None:
        door.data.setdefault("through", []).append(event.payload.payment_id)
        door.goto("closed" if len(door.data["through"]) == 1 else "open")

    @on("InventoryReserved", when="closed")
    def open(self, door: Instance, event: Event) -> None:
        door.goto("open")

    @on_timeout("auto_open")
    def opened_by_time(self, door: Instance) -> None:
        door.goto("open")


def test_held_events_are_released_one_at_a_time_in_arrival_order_as_states_accept_them():
    with _kit(Door()) as kit:
        kit.send("OrderPlaced", "d-1", **PLACED)
        for payment in ("p1", "p2", "p3"):
            kit.send("PaymentReceived", "d-1", payment_id=payment, amount=1)
        assert len(kit.state("d-1")["held"]) == 3
        kit.send("InventoryReserved", "d-1", reservation_id="r")  # open: p1 goes through, closes it
        assert kit.state("d-1")["data"]["through"] == ["p1"] and len(kit.state("d-1")["held"]) == 2
        kit.advance(timedelta(minutes=1))  # a timeout opens it: p2 then p3 (p2 leaves it open)
        assert kit.state("d-1")["data"]["through"] == ["p1", "p2", "p3"]
        assert not kit.state("d-1").get("held") and kit.dead_letters == []


class Quiet(Workflow):
    name = "quiet"
    starts_with = {"OrderPlaced"}

    @on("OrderPlaced")
    def placed(self, order: Instance, event: Event) -> None:
        order.goto("placed")


def test_an_event_of_a_type_without_a_handler_is_recorded_as_ignored_and_counted():
    before = _ignored("PaymentReceived", "no_handler")
    with _kit(Quiet()) as kit:
        kit.send("OrderPlaced", "o-1", **PLACED)
        kit.send("PaymentReceived", "o-1", payment_id="p", amount=10)
        assert kit.state("o-1")["history"][-1][0] == "PaymentReceived"
        assert kit.state("o-1")["history"][-1][-1] == "ignored: no_handler"
        assert kit.dead_letters == []
    assert _ignored("PaymentReceived", "no_handler") == before + 1


def test_an_event_a_handler_ignores_on_purpose_is_recorded_and_counted_by_reason():
    before = _ignored("InventoryUnavailable", "order_closed")
    with _saga_kit() as kit:
        kit.send("OrderPlaced", "o-1", **PLACED)
        kit.send("PaymentFailed", "o-1", payment_id="p", reason="declined")
        assert kit.send("InventoryUnavailable", "o-1", sku="s") == []
        assert kit.state("o-1")["history"][-1][-1] == "ignored: order_closed"
    assert _ignored("InventoryUnavailable", "order_closed") == before + 1


def test_handlers_of_one_event_type_must_not_claim_the_same_state():
    with pytest.raises(WorkflowDefinitionError, match="both handle PaymentReceived in state 'open'"):
        class Twice(Door):
            @on("PaymentReceived", when={"open", "ajar"})
            def a(self, door: Instance, event: Event) -> None: ...

            @on("PaymentReceived", when="open")
            def b(self, door: Instance, event: Event) -> None: ...


def test_a_start_event_needs_a_handler_for_any_state():
    with pytest.raises(WorkflowDefinitionError, match="start 'OrderPlaced'"):
        class Picky(Workflow):
            starts_with = {"OrderPlaced"}

            @on("OrderPlaced", when="closed")
            def placed(self, door: Instance, event: Event) -> None: ...


def test_state_show_marks_ignored_events_and_lists_held_ones(capsys, monkeypatch):
    from eventyard.cli.common import console
    from eventyard.cli.state import print_instance
    from eventyard.cli.inspect import InstanceView

    monkeypatch.setattr(console, "width", 200)  # the terminal of a user who reads it

    with _saga_kit() as kit:
        kit.send("OrderPlaced", "o-1", **PLACED)
        kit.send("PaymentFailed", "o-1", payment_id="p", reason="declined")
        kit.send("InventoryUnavailable", "o-1", sku="s")
        kit.send("ShipmentCreated", "o-1", shipment_id="s-1")
        print_instance(InstanceView("o-1", 0, kit.store.get_instance("o-1"), []))
    shown = capsys.readouterr().out
    assert "ignored: order_closed" in shown
    assert "1 event(s) held until a transition accepts them (ShipmentCreated)" in shown
