"""The order saga with one injected bug, loaded by import path as a user's own
pipeline would be: `eventyard run tests.integration.exploding:PIPELINE`."""

from dataclasses import replace

from eventyard.operators.workflow import Event, Instance
from eventyard.pipelines.order_saga import PIPELINE as ORDER_SAGA
from eventyard.pipelines.order_saga import OrderSaga


class ExplodingOrderSaga(OrderSaga):
    def order_placed(self, order: Instance, event: Event) -> None:
        if event.payload.customer_id == "explode":
            raise ValueError("customer 'explode' breaks the handler")
        super().order_placed(order, event)


PIPELINE = replace(ORDER_SAGA, workflow=lambda s: ExplodingOrderSaga(s.order_saga))
