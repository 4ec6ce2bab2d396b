"""Producer sequence numbers put one producer's events of an aggregate in order (issue 15)."""

from __future__ import annotations

import logging
from datetime import timedelta

import orjson
from prometheus_client import REGISTRY

from eventyard.operators.workflow import Event, Instance, Workflow, on
from eventyard.operators.workflow_operator import WorkflowOperator
from eventyard.pipelines.order_saga_events import CATALOG
from eventyard.testing import OperatorTestKit

PLACED = dict(customer_id="c", amount=10, currency="EUR", items=[{"sku": "s", "quantity": 1}])


class Ledger(Workflow):
    """Records payments in the order it applies them."""

    name = "ledger"
    starts_with = {"OrderPlaced"}

    @on("OrderPlaced")
    def placed(self, order: Instance, event: Event) -> None:
        order.data["paid"] = []
        order.goto("open")

    @on("PaymentReceived")
    def paid(self, order: Instance, event: Event) -> None:
        order.data["paid"].append(event.payload.payment_id)


def _kit() -> OperatorTestKit:
    operator = WorkflowOperator(Ledger(), reorder_timeout=timedelta(seconds=30), pipeline="seq-test")
    return OperatorTestKit(operator, CATALOG)


def _pay(kit: OperatorTestKit, n: int, *, event_id: str | None = None, producer: str = "payments") -> None:
    kit.send("PaymentReceived", "o-1", event_id=event_id, envelope={"producer": producer, "sequence": n},
             payment_id=f"p{n}", amount=1)


def _paid(kit: OperatorTestKit) -> list[str]:
    return kit.state("o-1")["data"]["paid"]


def _gaps() -> float:
    return REGISTRY.get_sample_value("eventyard_sequence_gaps_total", {"pipeline": "seq-test"}) or 0.0


def test_an_event_ahead_of_its_producer_sequence_waits_for_the_missing_ones():
    with _kit() as kit:
        kit.send("OrderPlaced", "o-1", **PLACED)
        _pay(kit, 3)
        _pay(kit, 2)
        assert _paid(kit) == []
        _pay(kit, 1)
        assert _paid(kit) == ["p1", "p2", "p3"]
        assert not kit.state("o-1").get("reorder") and "__reorder__" not in kit.store.get_instance("o-1")["timers"]


def test_producers_are_sequenced_independently():
    with _kit() as kit:
        kit.send("OrderPlaced", "o-1", **PLACED)
        _pay(kit, 1, producer="a")
        _pay(kit, 2, producer="b")  # b's first is missing: waits
        _pay(kit, 2, producer="a", event_id="a-2")
        assert _paid(kit) == ["p1", "p2"]
        assert len(kit.state("o-1")["reorder"]) == 1


def test_after_reorder_timeout_the_waiting_event_is_applied_with_the_gap_recorded(caplog):
    gaps = _gaps()
    with _kit() as kit, caplog.at_level(logging.WARNING):
        kit.send("OrderPlaced", "o-1", **PLACED)
        _pay(kit, 1)
        _pay(kit, 4)
        kit.advance(timedelta(seconds=10))
        _pay(kit, 5)
        kit.advance(timedelta(seconds=20) - timedelta(milliseconds=1))
        assert _paid(kit) == ["p1"]
        kit.advance(timedelta(milliseconds=1))  # 30 s after sequence 4 was read
        assert _paid(kit) == ["p1", "p4", "p5"]
        gap = [h for h in kit.state("o-1")["history"] if h[0] == "sequence gap"]
        assert gap == [["sequence gap", "payments", None, None, None, gap[0][5], "missing 2-3, given up"]]
    assert _gaps() == gaps + 1
    assert "gave up waiting for sequence 2-3 of payments" in caplog.text


def test_a_sequence_at_or_below_the_last_applied_is_a_duplicate():
    with _kit() as kit:
        kit.send("OrderPlaced", "o-1", **PLACED)
        _pay(kit, 1)
        _pay(kit, 2)
        version = kit.store.get_instance("o-1")["version"]
        _pay(kit, 2, event_id="resent-with-a-new-id")
        assert _paid(kit) == ["p1", "p2"]
        assert kit.engine.stats.duplicates == 1 and kit.dead_letters == []
        assert kit.store.get_instance("o-1")["version"] == version


def test_a_missing_event_that_comes_after_its_gap_was_given_up_is_dead_lettered_not_dropped():
    with _kit() as kit:
        kit.send("OrderPlaced", "o-1", **PLACED)
        _pay(kit, 2)
        kit.advance(timedelta(seconds=30))
        _pay(kit, 1, event_id="late-1")
        assert _paid(kit) == ["p2"]
        [dead] = kit.dead_letters
        assert dead.reason == "late_in_sequence" and orjson.loads(dead.value)["event_id"] == "late-1"


def test_events_that_passed_their_sequence_and_wait_for_the_start_are_not_taken_for_duplicates():
    with _kit() as kit:
        _pay(kit, 2)
        _pay(kit, 1)
        kit.send("OrderPlaced", "o-1", **PLACED)
        assert _paid(kit) == ["p1", "p2"]
        assert kit.engine.stats.duplicates == 0 and not kit.state("o-1").get("passed")
