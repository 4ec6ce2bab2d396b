"""Outbox entries: the records a restart re-emits come back byte for byte."""

import orjson
import pytest

from eventyard.core.records import OutRecord
from eventyard.state import keys
from eventyard.state.outbox import decode_entry, encode_entry, entry_created_ms

RECORDS = [
    OutRecord("order-commands", b"order-1", b'{"type":"ChargePayment"}',
              (("eventyard.event_id", b"e-1"), ("traceparent", b"00-ab-cd-01"))),
    OutRecord("orders.dlq", None, b"\xff\x00 not utf-8", (("empty", b""),)),
    OutRecord("t\u00e9", b"", None, ()),
]


@pytest.mark.parametrize("record", RECORDS)
def test_an_entry_decodes_to_the_record_it_stored(record):
    data = encode_entry(1_700_000_000_123, record)
    assert decode_entry(data) == (1_700_000_000_123, record)
    assert entry_created_ms(data) == 1_700_000_000_123


def test_entries_are_smaller_than_the_first_format():
    record = RECORDS[0]
    old = orjson.dumps([1, record.to_json()])
    assert len(encode_entry(1, record)) < len(old) * 0.7


def test_a_store_written_by_the_first_format_still_re_emits_its_outbox(make_store):
    # A release before the binary frame wrote JSON with hex bytes; after an
    # upgrade, a restart must still re-emit those entries and expire them.
    store = make_store()
    store._db.put(keys.outbox_key(1), orjson.dumps([5_000, RECORDS[0].to_json()]))
    txn = store.transaction()
    txn.append_outbox(RECORDS[1], 9_000)
    store.next_outbox_seq = 2
    txn.commit()
    assert [(e.seq, e.created_ms, e.record) for e in store.outbox_after(0)] == [
        (1, 5_000, RECORDS[0]), (2, 9_000, RECORDS[1])]
    assert store.expire(outbox_before_ms=6_000, seen_before_ms=0) == 1
    assert [e.seq for e in store.outbox_after(0)] == [2]


def test_a_record_with_its_own_event_time_keeps_it_through_the_outbox():
    # Repartition records carry the input's timestamp: a re-send must not restamp them.
    from eventyard.core.records import OutRecord
    from eventyard.state.outbox import decode_entry, encode_entry

    for record in (OutRecord("t", b"k", b"v", (("h", b"x"),), 1_700_000_000_123), OutRecord("t", None, b"v")):
        assert decode_entry(encode_entry(5, record)) == (5, record)
