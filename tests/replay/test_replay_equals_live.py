"""Replay rebuilds exactly the live state, for the workflow and every operator."""

from __future__ import annotations

from datetime import timedelta

import pytest

from eventyard.core.records import SourceMessage
from eventyard.demo.traffic import envelope_record
from eventyard.pipelines import get_pipeline
from tests.replay.live import LiveRun, replay_differences

T = 1_700_000_000_000
LOAN_TOPICS = {"LoanApplicationSubmitted": "loan-applications", "CreditCheckCompleted": "credit-checks",
               "DocumentsVerified": "documents"}


@pytest.fixture
def loan_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("EVENTYARD_STATE__DIR", str(tmp_path / "live"))
    monkeypatch.setenv("EVENTYARD_RECOVERY__DIR", str(tmp_path / "recovery"))
    return get_pipeline("loan_application").settings()


def _loan_event(event_type: str, loan: str, at_ms: int, offset: int, **payload: object) -> SourceMessage:
    record = envelope_record(LOAN_TOPICS[event_type], event_type, loan, payload, f"{loan}-{event_type}")
    return SourceMessage(record.topic, 0, offset, record.key, record.value, record.headers, at_ms)


def test_an_operator_whose_record_became_empty_is_replayed_as_it_ran_live(loan_settings, tmp_path):
    # The repro: DocumentsVerified is read before the application's
    # LoanApplicationSubmitted (stamped a second earlier); then the credit check comes.
    # The documents watch stays quiet once done (issue 16) and forgets the application
    # forget_after (7 days) later: its record becomes empty, the engine keeps its order.
    messages = []
    for n in range(3):
        loan = f"l-{n}"
        messages += [
            _loan_event("DocumentsVerified", loan, T + n, n, verification_id="v"),
            _loan_event("LoanApplicationSubmitted", loan, T - 1000 + n, n, applicant_id="a", amount=5000,
                        term_months=24),
            _loan_event("CreditCheckCompleted", loan, T + 1000 + n, n, check_id="c", score=650),
        ]
    live = LiveRun(get_pipeline("loan_application"), loan_settings, tmp_path / "live")
    for msg in messages:
        live.feed(msg)
    live.advance_to(T + int(timedelta(days=8).total_seconds() * 1000))  # past forget_after
    assert [r for r in live.outputs if r.topic == "loan-alerts"] == []
    assert replay_differences(live, messages, tmp_path / "rebuilt") == {}


SAGA_TOPICS = {"OrderPlaced": "orders", "PaymentReceived": "payments", "InventoryReserved": "inventory",
               "ShipmentCreated": "shipping"}
SAGA_PAYLOADS = {"OrderPlaced": dict(customer_id="c", amount=10, currency="EUR", items=[{"sku": "s", "quantity": 1}]),
                 "PaymentReceived": dict(payment_id="p", amount=10), "InventoryReserved": dict(reservation_id="r"),
                 "ShipmentCreated": dict(shipment_id="s")}


def test_workflow_events_held_until_their_state_accepts_them_are_replayed_as_they_ran_live(make_settings, tmp_path):
    offsets: dict[str, int] = {}

    def read(event_type: str, order: str, at_ms: int) -> SourceMessage:
        topic = SAGA_TOPICS[event_type]
        offsets[topic] = offsets.get(topic, -1) + 1
        record = envelope_record(topic, event_type, order, SAGA_PAYLOADS[event_type], f"{order}-{event_type}")
        return SourceMessage(topic, 0, offsets[topic], record.key, record.value, record.headers, at_ms)

    messages = [  # in the order a worker read them
        read("ShipmentCreated", "o-1", T + 3000),  # held before the order, then until it is confirmed
        read("OrderPlaced", "o-1", T), read("OrderPlaced", "o-2", T),
        read("PaymentReceived", "o-1", T + 1000),
        read("ShipmentCreated", "o-2", T + 3000),  # never confirmed: dead-lettered after an hour
        read("InventoryReserved", "o-1", T + 2000),
    ]
    live = LiveRun(get_pipeline("order_saga"), make_settings(), tmp_path / "live")
    for msg in messages:
        live.feed(msg)
    live.advance_to(T + int(timedelta(hours=2).total_seconds() * 1000))
    reasons = [dict(r.headers)["eventyard.error.reason"] for r in live.outputs if r.topic == "order_saga.dlq"]
    assert reasons == [b"unexpected_in_state"]
    assert replay_differences(live, messages, tmp_path / "rebuilt") == {}
