"""Event catalog of the order saga: what it consumes and what it emits."""

from __future__ import annotations

from pydantic import Field

from eventyard.core.catalog import EventCatalog, EventSpec, Payload

__all__ = ["CATALOG", "OrderPlaced", "PaymentReceived", "PaymentFailed", "InventoryReserved",
           "InventoryUnavailable", "ShipmentCreated", "OrderItem"]


class OrderItem(Payload):
    sku: str = Field(min_length=1)
    quantity: int = Field(gt=0)


class OrderPlaced(Payload):
    customer_id: str = Field(min_length=1)
    amount: float = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3)
    items: list[OrderItem] = Field(min_length=1)


class PaymentReceived(Payload):
    payment_id: str
    amount: float
    customer_id: str | None = None  # lets per-customer operators (e.g. velocity) key by it


class PaymentFailed(Payload):
    payment_id: str
    reason: str


class InventoryReserved(Payload):
    reservation_id: str


class InventoryUnavailable(Payload):
    sku: str


class ShipmentCreated(Payload):
    shipment_id: str


class ChargePayment(Payload):
    customer_id: str
    amount: float
    currency: str


class ReserveInventory(Payload):
    items: list[OrderItem]


class CreateShipment(Payload):
    items: list[OrderItem]


class RefundPayment(Payload):
    payment_id: str
    amount: float
    reason: str


class ReleaseInventory(Payload):
    reservation_id: str
    reason: str


class NotifyCustomer(Payload):
    customer_id: str
    reason: str


class PaymentReminder(Payload):
    customer_id: str
    amount: float


class OrderConfirmed(Payload):
    payment_id: str
    reservation_id: str


class OrderCompleted(Payload):
    shipment_id: str


class OrderCancelled(Payload):
    reason: str


def _in(model: type[Payload], topic: str, text: str) -> EventSpec:
    return EventSpec(model.__name__, model, "input", topic, text)


def _out(model: type[Payload], topic: str, text: str) -> EventSpec:
    return EventSpec(model.__name__, model, "output", topic, text)


CATALOG = EventCatalog([
    _in(OrderPlaced, "orders", "a customer placed an order: starts the saga"),
    _in(PaymentReceived, "payments", "the payment service charged the customer"),
    _in(PaymentFailed, "payments", "the charge was declined"),
    _in(InventoryReserved, "inventory", "stock was reserved for the order"),
    _in(InventoryUnavailable, "inventory", "an item is out of stock"),
    _in(ShipmentCreated, "shipping", "the shipment was created"),
    _out(ChargePayment, "order-commands", "ask the payment service to charge"),
    _out(ReserveInventory, "order-commands", "ask inventory to reserve the items"),
    _out(CreateShipment, "order-commands", "ask shipping to ship a confirmed order"),
    _out(RefundPayment, "order-commands", "compensation: give a payment back"),
    _out(ReleaseInventory, "order-commands", "compensation: release reserved stock"),
    _out(NotifyCustomer, "order-commands", "tell the customer the order was cancelled"),
    _out(PaymentReminder, "order-commands", "remind the customer to pay"),
    _out(OrderConfirmed, "order-events", "paid and in stock"),
    _out(OrderCompleted, "order-events", "shipped: the saga is complete"),
    _out(OrderCancelled, "order-events", "cancelled, with reason"),
])
