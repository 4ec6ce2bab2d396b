"""The order saga after a "bug fix": a declined payment now ends in its own state."""

from dataclasses import replace

from eventyard.operators.workflow import Event, Instance
from eventyard.pipelines.order_saga import PIPELINE as ORDER_SAGA
from eventyard.pipelines.order_saga import OrderSaga


class FixedOrderSaga(OrderSaga):
    def payment_failed(self, order: Instance, event: Event) -> None:
        super().payment_failed(order, event)
        order.goto("payment_declined")


PIPELINE = replace(ORDER_SAGA, workflow=lambda s: FixedOrderSaga(s.order_saga))
