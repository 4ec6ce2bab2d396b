"""Order scenarios and the exact outputs the order saga must produce for each."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum

import orjson

from eventyard.core.records import OutRecord

__all__ = ["Outcome", "OrderScenario", "plan_orders", "envelope_record", "ALL_OUTCOMES",
           "FAST_OUTCOMES", "TIMEOUT_OUTCOMES"]


class Outcome(StrEnum):
    COMPLETED = "completed"
    PAYMENT_FAILED = "payment_failed"
    OUT_OF_STOCK = "out_of_stock"
    PAYMENT_TIMEOUT = "payment_timeout"
    LATE_PAYMENT = "late_payment"  # times out, then the payment arrives: refunded


FAST_OUTCOMES = (Outcome.COMPLETED, Outcome.PAYMENT_FAILED, Outcome.OUT_OF_STOCK)
TIMEOUT_OUTCOMES = (Outcome.PAYMENT_TIMEOUT, Outcome.LATE_PAYMENT)
ALL_OUTCOMES = FAST_OUTCOMES + TIMEOUT_OUTCOMES


def envelope_record(topic: str, event_type: str, aggregate_id: str, payload: dict[str, object],
                    event_id: str, producer: str = "demo") -> OutRecord:
    envelope = {
        "event_id": event_id, "type": event_type, "aggregate_id": aggregate_id,
        "occurred_at": datetime.now(timezone.utc).isoformat(), "producer": producer,
        "schema_version": 1, "trace_id": f"trace-{aggregate_id}", "correlation_id": aggregate_id,
        "hops": 0, "payload": payload,
    }
    return OutRecord(topic, aggregate_id.encode(), orjson.dumps(envelope))


@dataclass(frozen=True)
class OrderScenario:
    order_id: str
    outcome: Outcome
    other_side_done: bool  # reserved (failure/timeout cases) or paid (out of stock)
    duplicate: bool  # re-send OrderPlaced with the same event_id

    def _event(self, topic: str, event_type: str, payload: dict[str, object], n: int = 0) -> OutRecord:
        return envelope_record(topic, event_type, self.order_id, payload, f"{self.order_id}-{event_type}-{n}")

    def placed(self) -> OutRecord:
        return self._event("orders", "OrderPlaced", {
            "customer_id": f"c-{self.order_id}", "amount": 42.5, "currency": "EUR",
            "items": [{"sku": "sku-1", "quantity": 2}],
        })

    def paid(self) -> OutRecord:
        return self._event("payments", "PaymentReceived", {"payment_id": f"p-{self.order_id}", "amount": 42.5})

    def reserved(self) -> OutRecord:
        return self._event("inventory", "InventoryReserved", {"reservation_id": f"r-{self.order_id}"})

    def initial_events(self) -> list[OutRecord]:
        """Everything the outside world sends without waiting for the saga."""
        events = [self.placed()]
        match self.outcome:
            case Outcome.COMPLETED:
                events += [self.paid(), self.reserved()]
            case Outcome.PAYMENT_FAILED:
                events.append(self._event("payments", "PaymentFailed",
                                          {"payment_id": f"p-{self.order_id}", "reason": "declined"}))
                events += [self.reserved()] if self.other_side_done else []
            case Outcome.OUT_OF_STOCK:
                events.append(self._event("inventory", "InventoryUnavailable", {"sku": "sku-1"}))
                events += [self.paid()] if self.other_side_done else []
            case Outcome.PAYMENT_TIMEOUT | Outcome.LATE_PAYMENT:
                events += [self.reserved()] if self.other_side_done else []
        if self.duplicate:
            events.append(self.placed())
        return events

    def reaction(self, output_type: str, payload: dict[str, object]) -> OutRecord | None:
        """What a downstream service sends back after seeing one saga output."""
        if output_type == "CreateShipment":
            return self._event("shipping", "ShipmentCreated", {"shipment_id": f"s-{self.order_id}"})
        if output_type == "OrderCancelled" and self.outcome is Outcome.LATE_PAYMENT:
            return self.paid()
        return None

    def expected(self) -> Counter[str]:
        """The exact multiset of output types the saga must publish for this order."""
        out = Counter({"ChargePayment": 1, "ReserveInventory": 1})
        match self.outcome:
            case Outcome.COMPLETED:
                out.update(["OrderConfirmed", "CreateShipment", "OrderCompleted"])
            case Outcome.PAYMENT_FAILED:
                out.update(["NotifyCustomer", "OrderCancelled"])
                out.update(["ReleaseInventory"] if self.other_side_done else [])
            case Outcome.OUT_OF_STOCK:
                out.update(["NotifyCustomer", "OrderCancelled"])
                out.update(["RefundPayment"] if self.other_side_done else [])
            case Outcome.PAYMENT_TIMEOUT | Outcome.LATE_PAYMENT:
                out.update(["PaymentReminder", "OrderCancelled"])
                out.update(["ReleaseInventory"] if self.other_side_done else [])
                out.update(["RefundPayment"] if self.outcome is Outcome.LATE_PAYMENT else [])
        return out


def plan_orders(count: int, outcomes: tuple[Outcome, ...] = ALL_OUTCOMES, seed: int = 7,
                duplicate_rate: float = 0.05, prefix: str = "order") -> list[OrderScenario]:
    rng = random.Random(seed)
    return [
        OrderScenario(f"{prefix}-{i:06d}", outcomes[i % len(outcomes)], rng.random() < 0.5,
                      rng.random() < duplicate_rate)
        for i in range(count)
    ]
