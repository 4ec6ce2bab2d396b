import pytest

from eventyard.core.deadletter import DeadLetterRecord
from eventyard.demo.bad_input import bad_messages
from eventyard.operators.decode import Decoder, Inbound
from eventyard.pipelines import get_pipeline


@pytest.fixture
def decoder(make_settings) -> Decoder:
    s = make_settings()
    return Decoder("order_saga", get_pipeline("order_saga").catalog,
                   s.pipeline.max_event_bytes, s.pipeline.max_hops)


def test_valid_event_decodes_to_its_typed_payload(decoder, event, make_message):
    item = decoder(make_message(event("PaymentReceived", "o-9", payment_id="p", amount=3)))
    assert isinstance(item, Inbound)
    assert item.envelope.aggregate_id == "o-9" and item.payload.amount == 3


@pytest.mark.parametrize("reason", sorted(bad_messages()))
def test_each_bad_input_class_becomes_a_dead_letter_with_its_reason(decoder, make_message, reason):
    record = bad_messages()[reason]
    msg = make_message(record)
    item = decoder(msg)
    assert isinstance(item, DeadLetterRecord)
    assert item.reason == reason
    dead = item.to_record("order_saga.dlq")
    assert dead.value == record.value and dead.key == record.key  # verbatim
    headers = dict(dead.headers)
    assert headers["eventyard.error.reason"] == reason.encode()
    assert headers["eventyard.source.offset"] == str(msg.offset).encode()
    assert headers["eventyard.pipeline"] == b"order_saga"
    assert headers["eventyard.error.message"]


def test_non_utf8_key_and_key_mismatch_are_dead_lettered(decoder, event, make_message):
    record = event("OrderPlaced", "o-1")
    bad_key = decoder(make_message(record.__class__(record.topic, b"\xff\xfe", record.value)))
    mismatch = decoder(make_message(record.__class__(record.topic, b"o-2", record.value)))
    assert bad_key.reason == "invalid_key" and mismatch.reason == "key_mismatch"


def test_dead_letter_keeps_original_headers_and_replaces_old_error_context(decoder, make_message):
    record = bad_messages()["invalid_json"]
    record = record.__class__(record.topic, record.key, record.value,
                              record.headers + (("eventyard.error.reason", b"stale"),))
    item = decoder(make_message(record))
    headers = item.to_record("dlq").headers
    assert ("origin", b"demo") in headers
    assert [v for k, v in headers if k == "eventyard.error.reason"] == [b"invalid_json"]
