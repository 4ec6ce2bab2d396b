"""The order saga: take an order from placement to shipment, or cancel it cleanly.

    OrderPlaced            -> ChargePayment + ReserveInventory
    paid and reserved      -> OrderConfirmed + CreateShipment
    ShipmentCreated        -> OrderCompleted (once confirmed: read earlier, it waits)
    PaymentFailed          -> ReleaseInventory (if reserved) + NotifyCustomer + OrderCancelled
    InventoryUnavailable   -> RefundPayment (if paid) + NotifyCustomer + OrderCancelled
    no payment after 15m   -> PaymentReminder
    no payment after 30m   -> ReleaseInventory (if reserved) + OrderCancelled(payment_timeout)
    payment or stock that arrives after cancellation is given back.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, model_validator

from eventyard.config import Duration, EventyardSettings
from eventyard.operators.workflow import Event, Instance, Workflow, on, on_timeout
from eventyard.pipelines.definition import PipelineDefinition
from eventyard.pipelines.order_saga_events import CATALOG

__all__ = ["OrderSaga", "OrderSagaOptions", "PIPELINE"]


class OrderSagaOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    payment_reminder_after: Duration = timedelta(minutes=15)
    payment_timeout: Duration = timedelta(minutes=30)

    @model_validator(mode="after")
    def _reminder_first(self) -> "OrderSagaOptions":
        if self.payment_reminder_after >= self.payment_timeout:
            raise ValueError("payment_reminder_after must be shorter than payment_timeout")
        return self


class OrderSaga(Workflow):
    name = "order_saga"
    starts_with = {"OrderPlaced"}

    def __init__(self, options: OrderSagaOptions) -> None:
        self.options = options

    @on("OrderPlaced")
    def order_placed(self, order: Instance, event: Event) -> None:
        placed = event.payload
        items = [item.model_dump() for item in placed.items]
        order.data.update(customer_id=placed.customer_id, amount=placed.amount,
                          currency=placed.currency, items=items, payment_id=None,
                          reservation_id=None)
        order.command("ChargePayment", customer_id=placed.customer_id,
                      amount=placed.amount, currency=placed.currency)
        order.command("ReserveInventory", items=items)
        order.expect("payment_reminder", within=self.options.payment_reminder_after)
        order.expect("payment_timeout", within=self.options.payment_timeout)
        order.goto("awaiting_payment_and_stock")

    @on("PaymentReceived")
    def payment_received(self, order: Instance, event: Event) -> None:
        payment = event.payload
        if order.finished or order.data["payment_id"]:
            order.command("RefundPayment", payment_id=payment.payment_id,
                          amount=payment.amount, reason="order_not_payable")
            return
        order.data.update(payment_id=payment.payment_id, paid_amount=payment.amount)
        order.cancel("payment_reminder", "payment_timeout")
        self._confirm_when_ready(order)

    @on("InventoryReserved")
    def inventory_reserved(self, order: Instance, event: Event) -> None:
        reservation = event.payload
        if order.finished or order.data["reservation_id"]:
            order.command("ReleaseInventory", reservation_id=reservation.reservation_id,
                          reason="order_not_fulfillable")
            return
        order.data["reservation_id"] = reservation.reservation_id
        self._confirm_when_ready(order)

    @on("PaymentFailed")
    def payment_failed(self, order: Instance, event: Event) -> None:
        if order.finished:
            order.ignore("order_closed")
        else:
            self._cancel(order, "payment_failed", notify=True)

    @on("InventoryUnavailable")
    def inventory_unavailable(self, order: Instance, event: Event) -> None:
        if order.finished:
            order.ignore("order_closed")
        else:
            self._cancel(order, "out_of_stock", notify=True)

    @on("ShipmentCreated", when="confirmed")
    def shipment_created(self, order: Instance, event: Event) -> None:
        order.event("OrderCompleted", shipment_id=event.payload.shipment_id)
        order.finish("completed")

    @on_timeout("payment_reminder")
    def remind_to_pay(self, order: Instance) -> None:
        order.command("PaymentReminder", customer_id=order.data["customer_id"],
                      amount=order.data["amount"])

    @on_timeout("payment_timeout")
    def payment_overdue(self, order: Instance) -> None:
        self._cancel(order, "payment_timeout", notify=False)

    # -- steps shared by several transitions ---------------------------------------
    def _confirm_when_ready(self, order: Instance) -> None:
        if order.data["payment_id"] and order.data["reservation_id"]:
            order.event("OrderConfirmed", payment_id=order.data["payment_id"],
                        reservation_id=order.data["reservation_id"])
            order.command("CreateShipment", items=order.data["items"])
            order.goto("confirmed")
        else:
            order.goto("awaiting_payment" if not order.data["payment_id"] else "awaiting_stock")

    def _cancel(self, order: Instance, reason: str, *, notify: bool) -> None:
        """Compensate what already happened, then close the order."""
        if order.data["reservation_id"]:
            order.command("ReleaseInventory", reservation_id=order.data["reservation_id"],
                          reason=reason)
        if order.data["payment_id"]:
            order.command("RefundPayment", payment_id=order.data["payment_id"],
                          amount=order.data["paid_amount"], reason=reason)
        if notify:
            order.command("NotifyCustomer", customer_id=order.data["customer_id"], reason=reason)
        order.event("OrderCancelled", reason=reason)
        order.finish("cancelled")


def _workflow(settings: EventyardSettings) -> OrderSaga:
    return OrderSaga(getattr(settings, "order_saga"))


PIPELINE = PipelineDefinition(
    name="order_saga",
    description="Order placement to shipment, with payment timeouts and compensations",
    catalog=CATALOG,
    options=OrderSagaOptions,
    workflow=_workflow,
)
