"""The operator test kit gives users the engine's real behaviour, in-process."""

from datetime import datetime, timedelta, timezone

from pydantic import BaseModel

from eventyard.operators.api import Context, Event, Operator, RetryableError, Timer
from eventyard.testing import OperatorTestKit
from eventyard.pipelines.order_saga_events import CATALOG


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

    from eventyard.core.errors import OperatorDefinitionError

    class Clashing(BaseModel):
        version: int = 0

    with pytest.raises(OperatorDefinitionError, match="version"):
        class Bad(Operator[Clashing]):
            name = "bad"
            state = Clashing


class Clocked(Operator[dict]):
    """Records the event time it sees, as a datetime and as epoch ms."""

    name = "clocked"
    consumes = {"PaymentReceived"}
    state = dict

    def on_event(self, ctx: Context[dict], event: Event) -> None:
        ctx.state = {"event": [ctx.now.isoformat(), ctx.now_ms]}
        ctx.set_timer("later", after=timedelta(seconds=1, microseconds=1500))

    def on_timer(self, ctx: Context[dict], timer: Timer) -> None:
        ctx.emit("events", "Seen", at=ctx.now.isoformat(), at_ms=ctx.now_ms, **ctx.state)


def test_handlers_see_event_time_as_a_datetime_and_as_the_same_instant_in_ms():
    with OperatorTestKit(Clocked(), CATALOG) as kit:
        sent_at = kit.now
        kit.send("PaymentReceived", "o-1", payment_id="p", amount=1)
        [seen] = kit.advance(timedelta(seconds=2))
    due_ms = int(sent_at.timestamp() * 1000) + 1001  # whole ms: 1.0015 s arms 1001 ms later
    assert seen.payload == {"at": timer_iso(due_ms), "at_ms": due_ms,
                            "event": [sent_at.isoformat(), int(sent_at.timestamp() * 1000)]}


def timer_iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat()


class Watcher(Operator[Count]):
    """Arms a timer of its own whose name starts with underscores, and lists what it sees."""

    name = "watcher"
    consumes = {"PaymentReceived"}
    state = Count

    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_event(self, ctx: Context[Count], event: Event) -> None:
        ctx.state = Count(n=1)
        ctx.set_timer("__own", after=timedelta(minutes=5))
        ctx.set_timer("report", after=timedelta(minutes=9))
        self.seen = list(ctx.timers())

    def on_timer(self, ctx: Context[Count], timer: Timer) -> None:
        pass


def test_kit_timers_are_the_timers_the_operator_itself_sees():
    watcher = Watcher()
    with OperatorTestKit(watcher, CATALOG) as kit:
        kit.send("PaymentReceived", "o-1", payment_id="p", amount=1)
        assert list(kit.timers("o-1")) == watcher.seen == ["__own", "report"]


def test_kit_timers_of_a_workflow_are_its_own_not_its_operators():
    from eventyard.pipelines.order_saga import OrderSaga, OrderSagaOptions

    with OperatorTestKit(OrderSaga(OrderSagaOptions()), CATALOG) as kit:
        kit.send("OrderPlaced", "o-1", customer_id="c", amount=10, currency="EUR",
                 items=[{"sku": "s", "quantity": 1}])
        assert list(kit.timers("o-1")) == ["payment_reminder", "payment_timeout"]
        kit.send("PaymentFailed", "o-1", payment_id="p", reason="declined")
        assert kit.state("o-1")["finished"] and kit.timers("o-1") == {}  # its __expire__ is the operator's
