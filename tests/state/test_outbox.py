"""Outbox entries: the records a restart re-emits come back byte for byte."""

from pathlib import Path

import orjson
import pytest
from rocksdict import Options, Rdict

from eventyard.core.records import OutRecord
from eventyard.state import TaskStore, keys
from eventyard.state.store import OUTBOX_FAMILY
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


def _store_of_an_older_release(path: Path, entries: list[tuple[int, bytes]]) -> None:
    """A task store as releases before the outbox column family wrote it: outbox
    entries in the default family, beside the task's metadata."""
    db = Rdict(str(path), Options(raw_mode=True))
    db.put(keys.META_KEY, orjson.dumps({"task": 0}))
    for seq, data in entries:
        db.put(keys.outbox_key(seq), data)
    db.close()


def test_a_store_written_by_the_first_format_still_re_emits_its_outbox(tmp_path, make_store):
    # A release before the binary frame wrote JSON with hex bytes; after an
    # upgrade, a restart must still re-emit those entries and expire them.
    _store_of_an_older_release(tmp_path / "store" / "task-00000",
                               [(1, orjson.dumps([5_000, RECORDS[0].to_json()]))])
    store = make_store()
    txn = store.transaction()
    txn.append_outbox(RECORDS[1], 9_000)
    txn.commit()
    assert [(e.seq, e.created_ms, e.record) for e in store.outbox_after(0)] == [
        (1, 5_000, RECORDS[0]), (2, 9_000, RECORDS[1])]
    assert store.expire(outbox_before_ms=6_000, seen_before_ms=0) == 1
    assert [e.seq for e in store.outbox_after(0)] == [2]


def test_an_outbox_from_before_its_column_family_is_read_in_place_and_moved_on_open(tmp_path):
    # Upgrading must neither lose an unconfirmed output nor reuse a sequence number;
    # a read-only look (`eventyard state`) must not change the store.
    path = tmp_path / "task-00000"
    entries = [(seq, encode_entry(1_000 * seq, RECORDS[seq % 2])) for seq in range(1, 25_001)]
    _store_of_an_older_release(path, entries)
    looked = TaskStore.open(path, 0, read_only=True)
    assert [e.seq for e in looked.outbox_after(24_998)] == [24_999, 25_000]
    assert looked.next_outbox_seq == 25_001
    looked.close()
    assert OUTBOX_FAMILY not in Rdict.list_cf(str(path))
    store = TaskStore.open(path, 0)  # moves 25,000 entries, in more than one batch
    assert [(e.seq, e.created_ms, e.record) for e in store.outbox_after(0)] == [
        (seq, 1_000 * seq, RECORDS[seq % 2]) for seq, _ in entries]
    assert store.next_outbox_seq == 25_001
    assert store.get(keys.outbox_key(1)) is None  # not in the default family any more
    store.close()
    store = TaskStore.open(path, 0, read_only=True)
    assert store.next_outbox_seq == 25_001 and len(list(store.outbox_after(0))) == 25_000
    store.close()


def test_a_record_with_its_own_event_time_keeps_it_through_the_outbox():
    # Repartition records carry the input's timestamp: a re-send must not restamp them.
    from eventyard.core.records import OutRecord
    from eventyard.state.outbox import decode_entry, encode_entry

    for record in (OutRecord("t", b"k", b"v", (("h", b"x"),), 1_700_000_000_123), OutRecord("t", None, b"v")):
        assert decode_entry(encode_entry(5, record)) == (5, record)
