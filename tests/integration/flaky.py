"""The order saga with a payment handler that times out: payment_id "p-ok-on-N"
succeeds on attempt N, "p-never" never does."""

from dataclasses import replace

from eventyard.operators.workflow import Event, Instance, RetryableError
from eventyard.pipelines.order_saga import PIPELINE as ORDER_SAGA
from eventyard.pipelines.order_saga import OrderSaga


class FlakyOrderSaga(OrderSaga):
    def payment_received(self, order: Instance, event: Event) -> None:
        payment_id = event.payload.payment_id
        needed = int(payment_id.rsplit("-", 1)[1]) if payment_id.startswith("p-ok-on-") else 1_000
        if event.attempt < needed:
            raise RetryableError(f"payment service timed out (attempt {event.attempt})")
        super().payment_received(order, event)


PIPELINE = replace(ORDER_SAGA, workflow=lambda s: FlakyOrderSaga(s.order_saga))
