"""The operator test kit gives users the engine's real behaviour, in-process."""

from datetime import timedelta

from pydantic import BaseModel

from operators.api import Context, Event, Operator, RetryableError, Timer
from operators.testing import OperatorTestKit
from pipelines.order_saga_events import CATALOG


class Count(BaseModel):
    n: int = 0


class Counter(Operator[Count]):
    name = "counter"
    consumes = {"PaymentReceived"}
    state = Count

    def on_event(self, ctx: Context[Count], event: Event) -> None:
        state = ctx.state or Count()
        state.n += 1
        ctx.state = state
        if event.payload.amount < 0:
            ctx.dead_letter("negative_amount", f"amount {event.payload.amount} < 0")
        if event.payload.amount == 13:
            raise RetryableError("unlucky, try again")
        ctx.set_timer("report", after=timedelta(minutes=5))

    def on_timer(self, ctx: Context[Count], timer: Timer) -> None:
        ctx.emit("events", "Counted", n=ctx.state.n)


def test_timers_fire_when_the_fake_clock_passes_them():
    with OperatorTestKit(Counter(), CATALOG) as kit:
        kit.send("PaymentReceived", "o-1", payment_id="p", amount=1)
        assert kit.advance(timedelta(minutes=4)) == []
        assert [(e.output, e.type, e.payload) for e in kit.advance(timedelta(minutes=1))] == [
            ("events", "Counted", {"n": 1})]
        assert kit.state("o-1") == Count(n=1)


def test_bad_input_and_rejections_become_dead_letters_with_reasons():
    with OperatorTestKit(Counter(), CATALOG) as kit:
        kit.send("PaymentReceived", "o-1", payment_id="p")  # amount missing
        kit.send_raw("payments", b"o-1", b"{not json")
        kit.send("PaymentReceived", "o-1", payment_id="p", amount=-5)
        assert [d.reason for d in kit.dead_letters] == [
            "schema_violation", "invalid_json", "counter.negative_amount"]
        assert kit.dead_letters[2].step == "counter" and kit.state("o-1").n == 1


def test_retryable_errors_are_retried_then_dead_lettered_and_change_nothing():
    with OperatorTestKit(Counter(), CATALOG, max_attempts=3) as kit:
        kit.send("PaymentReceived", "o-1", payment_id="p", amount=13)
        kit.advance(timedelta(minutes=1))
        assert [(d.reason, d.step) for d in kit.dead_letters] == [("handler_error", "counter")]
        assert kit.state("o-1") is None


def test_events_the_operator_does_not_consume_are_ignored():
    with OperatorTestKit(Counter(), CATALOG) as kit:
        assert kit.send("InventoryReserved", "o-1", reservation_id="r") == []
        assert kit.state("o-1") is None and kit.dead_letters == []


def test_state_fields_reserved_for_the_engine_are_refused_when_the_operator_is_defined():
    import pytest

    from eventyard.errors import OperatorDefinitionError

    class Clashing(BaseModel):
        version: int = 0

    with pytest.raises(OperatorDefinitionError, match="version"):
        class Bad(Operator[Clashing]):
            name = "bad"
            state = Clashing
