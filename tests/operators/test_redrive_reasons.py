"""Every dead-letter reason, redriven: after the cause is fixed the redriven copy is
applied exactly once, and redriving it again changes nothing (issue 16). Reasons the
same bytes can never get past are refused up front instead.

Real decoder, real engine, real RocksDB; a redrive is what `eventyard dlq redrive`
publishes (`redrive_record`), read back at a new offset of the source topic.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import orjson
import pytest
from pydantic import Field

from eventyard.core.catalog import EventCatalog
from eventyard.core.errors import DeadLetterError
from eventyard.core.deadletter import NEVER_APPLICABLE, REDRIVE_NEEDS, DeadLetterRecord, Reason
from eventyard.core.records import OutRecord, SourceMessage
from eventyard.demo.traffic import envelope_record
from eventyard.dlq.redrive import RedriveRequest, redrive_record
from eventyard.dlq.view import DeadLetterFilter, DeadLetterView
from eventyard.operators.api import Context, Event, Operator
from eventyard.operators.decode import Decoder, Inbound
from eventyard.operators.engine import EngineConfig, OperatorEngine
from eventyard.pipelines import get_pipeline
from eventyard.pipelines.order_saga_events import OrderPlaced

CATALOG = get_pipeline("order_saga").catalog
DLQ = "order_saga.dlq"


class Pipeline:
    """Decoder + engine + store, as one worker runs them; `deploy` swaps in a fix."""

    def __init__(self, engine: OperatorEngine, store: Any, make_message: Any, clock: Any,
                 catalog: EventCatalog = CATALOG, max_bytes: int = 512 * 1024, max_hops: int = 16) -> None:
        self.engine, self.store, self.make_message, self.clock = engine, store, make_message, clock
        self.dead: list[OutRecord] = []
        self.deploy(catalog, max_bytes, max_hops)

    def deploy(self, catalog: EventCatalog = CATALOG, max_bytes: int = 512 * 1024, max_hops: int = 16) -> None:
        self.decoder = Decoder("order_saga", catalog, max_bytes, max_hops)
        self.engine.catalog = catalog

    def send(self, record: OutRecord) -> list[OutRecord]:
        item = self.decoder(self.make_message(record))
        if isinstance(item, DeadLetterRecord):
            out = [item.to_record(DLQ)]
        else:
            assert isinstance(item, Inbound)
            out = self.engine.apply(self.store.transaction(), item)
        self.dead += [r for r in out if r.topic == DLQ]
        return out

    def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        for timer in self.store.due_timers(self.clock.ms):
            self.dead += [r for r in self.engine.fire(self.store.transaction(), timer) if r.topic == DLQ]

    def only_dead_letter(self, reason: str) -> DeadLetterView:
        assert len(self.dead) == 1, self.dead
        view = DeadLetterView.from_message(SourceMessage(DLQ, 0, 0, self.dead[0].key, self.dead[0].value,
                                                         self.dead[0].headers, 0))
        assert view.reason == reason
        self.dead.clear()
        return view

    def redrive(self, view: DeadLetterView) -> None:
        target = RedriveRequest("order_saga", DLQ).target(view)
        assert target == view.source_topic
        self.send(redrive_record(view, target))

    def version(self, key: str = "o-1") -> int:
        return (self.store.get_instance(self.engine.stored_id(key)) or {"version": 0})["version"]


@pytest.fixture
def pipeline(make_engine, make_store, make_message, clock):
    def make(engine: OperatorEngine | None = None, **deploy: Any) -> Pipeline:
        return Pipeline(engine or make_engine(), make_store(), make_message, clock, **deploy)

    return make


def placed(order_id: str = "o-1", hops: int = 0, **changes: Any) -> OutRecord:
    payload = {"customer_id": "c", "amount": 10, "currency": "EUR", "items": [{"sku": "s", "quantity": 1}]}
    record = envelope_record("orders", "OrderPlaced", order_id, {**payload, **changes}, f"{order_id}-placed")
    if hops:
        env = orjson.loads(record.value)
        record = replace(record, value=orjson.dumps({**env, "hops": hops}))
    return record


def paid(order_id: str = "o-1", amount: float = 10) -> OutRecord:
    return envelope_record("payments", "PaymentReceived", order_id, {"payment_id": "p", "amount": amount},
                           f"{order_id}-paid")


def reserved(order_id: str = "o-1") -> OutRecord:
    return envelope_record("inventory", "InventoryReserved", order_id, {"reservation_id": "r"}, f"{order_id}-rsv")


def assert_applied_once(p: Pipeline, view: DeadLetterView, key: str = "o-1") -> None:
    version_after = p.version(key) + 1  # the version counts applied events
    p.redrive(view)
    assert p.version(key) == version_after and not p.dead  # applied, once
    duplicates = p.engine.stats.duplicates
    p.redrive(view)  # again (e.g. `dlq redrive --restart`): nothing
    assert p.version(key) == version_after and not p.dead
    assert p.engine.stats.duplicates == duplicates + 1


# -- reasons a fix makes applicable ------------------------------------------------------

def test_schema_violation_is_applied_once_a_model_accepting_it_is_deployed(pipeline):
    p = pipeline()
    p.send(placed(currency="EURO"))
    view = p.only_dead_letter(Reason.SCHEMA_VIOLATION)

    class Relaxed(OrderPlaced):
        currency: str = Field(min_length=3, max_length=4)

    p.deploy(EventCatalog([replace(s, model=Relaxed) if s.type == "OrderPlaced" else s for s in CATALOG.values()]))
    assert_applied_once(p, view)


def test_unknown_type_is_applied_once_the_pipeline_takes_the_type(pipeline):
    old = EventCatalog([s for s in CATALOG.values() if s.type != "InventoryReserved"])
    p = pipeline(catalog=old)
    p.send(placed())
    p.send(reserved())
    view = p.only_dead_letter(Reason.UNKNOWN_TYPE)
    p.deploy(CATALOG)
    assert_applied_once(p, view)


def test_oversized_is_applied_once_max_event_bytes_is_raised(pipeline):
    p = pipeline(max_bytes=64)
    p.send(placed())
    view = p.only_dead_letter(Reason.OVERSIZED)
    p.deploy(max_bytes=512 * 1024)
    assert_applied_once(p, view)


def test_loop_detected_is_applied_once_max_hops_is_raised(pipeline):
    p = pipeline(max_hops=2)
    p.send(placed(hops=3))
    view = p.only_dead_letter(Reason.LOOP_DETECTED)
    p.deploy(max_hops=16)
    assert_applied_once(p, view)


def test_handler_error_is_applied_once_the_handler_is_fixed(pipeline):
    p = pipeline()
    p.send(placed())
    fixed = p.engine.workflow.payment_received

    def broken(order, event):
        raise RuntimeError("bug")

    p.engine.workflow.payment_received = broken
    p.send(paid())
    view = p.only_dead_letter(Reason.HANDLER_ERROR)
    p.engine.workflow.payment_received = fixed
    assert_applied_once(p, view)


def test_orphaned_by_the_timer_is_applied_once_its_start_event_came(pipeline, make_engine):
    # The scenario: the payment came first and waited for OrderPlaced in vain.
    p = pipeline(make_engine(pipeline__orphan_timeout="6s"))
    p.send(paid())
    p.advance(timedelta(seconds=7))
    view = p.only_dead_letter(Reason.ORPHANED)
    p.send(placed())
    p.send(reserved())
    assert p.store.get_instance("o-1")["state"] == "awaiting_payment"
    assert_applied_once(p, view)
    assert p.store.get_instance("o-1")["state"] != "awaiting_payment"


def test_unexpected_in_state_is_applied_once_the_instance_accepts_it(pipeline, make_engine):
    # A shipment for an order that was never confirmed waited in vain and was
    # dead-lettered; once payment and stock arrive, its redrive completes the order.
    p = pipeline(make_engine(pipeline__unexpected_timeout="6s"))
    p.send(placed())
    p.send(envelope_record("shipping", "ShipmentCreated", "o-1", {"shipment_id": "s"}, "o-1-shipped"))
    p.advance(timedelta(seconds=7))
    view = p.only_dead_letter(Reason.UNEXPECTED_IN_STATE)
    p.send(paid())
    p.send(reserved())
    assert p.store.get_instance("o-1")["state"] == "confirmed"
    assert_applied_once(p, view)
    assert p.store.get_instance("o-1")["state"] == "completed"


def test_orphaned_past_max_parked_is_applied_once_its_start_event_came(pipeline, make_engine):
    p = pipeline(make_engine(state__max_parked="1"))
    p.send(reserved())  # parked
    p.send(paid())  # one too many: dead-lettered at once
    view = p.only_dead_letter(Reason.ORPHANED)
    p.send(placed())  # applies the parked InventoryReserved too
    assert p.store.get_instance("o-1")["state"] == "awaiting_payment"
    assert_applied_once(p, view)


class CreditLimit(Operator[dict]):
    """Dead-letters payments above a limit, on purpose; an operator raises the limit."""

    name = "credit_limit"
    consumes = {"PaymentReceived"}
    state = dict

    def __init__(self, reason: str, limit: float) -> None:
        self.reason, self.limit = reason, limit

    def key(self, event: Event) -> str | None:
        return event.aggregate_id

    def on_event(self, ctx: Context[dict], event: Event) -> None:
        if event.payload.amount > self.limit:
            ctx.dead_letter(self.reason, f"{event.payload.amount} is above the limit {self.limit}")
            return
        ctx.state = {"paid": event.payload.amount}


@pytest.mark.parametrize("reason, code", [(Reason.REJECTED, "rejected"), ("over_limit", "credit_limit.over_limit")])
def test_a_reason_an_operator_chose_is_applied_once_the_cause_is_fixed(pipeline, reason, code):
    operator = CreditLimit(reason, limit=100)
    p = pipeline(OperatorEngine(operator, CATALOG, EngineConfig("order_saga", {}, DLQ)))
    p.send(paid(amount=500))
    view = p.only_dead_letter(code)
    assert p.store.get_instance(p.engine.stored_id("o-1")) is None
    operator.limit = 1000
    assert_applied_once(p, view)
    assert p.store.get_instance(p.engine.stored_id("o-1"))["paid"] == 500


# -- reasons the same bytes can never get past ---------------------------------------

@pytest.mark.parametrize("reason, key, value", [
    (Reason.INVALID_JSON, b"o-1", b"{not json"),
    (Reason.MISSING_KEY, None, placed().value),
    (Reason.INVALID_KEY, b"\xff\xfe", placed().value),
    (Reason.KEY_MISMATCH, b"o-2", placed().value),
])
def test_reasons_the_same_bytes_never_pass_are_not_redriven_to_their_source(pipeline, reason, key, value):
    p = pipeline()
    p.send(OutRecord("orders", key, value, ()))
    view = p.only_dead_letter(reason)
    assert reason in NEVER_APPLICABLE
    everything = RedriveRequest("order_saga", DLQ)
    assert everything.target(view) is None  # skipped and counted as not redrivable
    # Sent elsewhere, to a repair service, they may be fixed and published again.
    assert RedriveRequest("order_saga", DLQ, to="orders.repair").target(view) == "orders.repair"
    only_these = RedriveRequest("order_saga", DLQ, DeadLetterFilter(reason=reason))
    assert only_these.target(view) is None


def test_every_reason_says_what_a_redrive_needs():
    assert set(REDRIVE_NEEDS) == set(Reason)


@pytest.mark.parametrize("reason", sorted(NEVER_APPLICABLE))
def test_asking_to_redrive_only_such_a_reason_is_refused_with_what_to_do(reason):
    request = RedriveRequest("order_saga", DLQ, DeadLetterFilter(reason=reason))
    with pytest.raises(DeadLetterError, match=rf"{reason} dead letters cannot be applied by a redrive: never.*--to"):
        request.refuse_never_applicable()
    RedriveRequest("order_saga", DLQ, DeadLetterFilter(reason=reason), to="repair").refuse_never_applicable()
    RedriveRequest("order_saga", DLQ, DeadLetterFilter(reason=Reason.ORPHANED)).refuse_never_applicable()
