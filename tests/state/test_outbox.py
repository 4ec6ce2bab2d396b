"""Outbox entries: the records a restart re-emits come back byte for byte."""

import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rocksdict import Options, Rdict

from eventyard.core.records import OutRecord
from eventyard.state import TaskStore, keys
from eventyard.state.store import OUTBOX_FAMILY
from eventyard.state.outbox import decode_entry, encode_entry, entry_created_ms, outbox_value, value_entries

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
    txn.append_outbox(RECORDS[2], 9_000)  # this release's value of two entries, after the old one
    txn.commit()
    assert [(e.seq, e.created_ms, e.record) for e in store.outbox_after(0)] == [
        (1, 5_000, RECORDS[0]), (2, 9_000, RECORDS[1]), (3, 9_000, RECORDS[2])]
    assert store.expire(outbox_before_ms=6_000, seen_before_ms=0) == 1
    assert [e.seq for e in store.outbox_after(0)] == [2, 3]
    assert [e.seq for e in store.outbox_after(2)] == [3]


def test_a_value_holds_the_entries_of_one_commit_in_order():
    entries = [encode_entry(n, record) for n, record in enumerate(RECORDS)]
    assert value_entries(outbox_value(entries)) == entries
    assert outbox_value(entries[:1]) == entries[0]  # one entry: stored as releases before chunks did


@settings(max_examples=40)
@given(commits=st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=8), data=st.data())
def test_every_entry_after_any_sequence_comes_back_once_in_order_whatever_the_commits(commits, data):
    # A restart re-sends the entries after the snapshot's sequence, which can fall
    # inside a commit's value; expiry drops a commit's value once its newest entry is
    # past the retention, never the newest value (it carries the sequence).
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "task-00000"
        store = TaskStore.open(path, 0, create=True)
        written, seq = [], 1
        for number, size in enumerate(commits):
            txn = store.transaction()
            for _ in range(size):
                record = OutRecord("out", b"k", b"%d" % seq)
                txn.append_outbox(record, now_ms=1_000 * number)
                written.append((seq, 1_000 * number, record))
                seq += 1
            txn.commit()
        after = data.draw(st.integers(min_value=0, max_value=len(written)), label="after")
        assert [(e.seq, e.created_ms, e.record) for e in store.outbox_after(after)] == written[after:]
        store.close()
        store = TaskStore.open(path, 0)
        assert store.next_outbox_seq == len(written) + 1
        assert [(e.seq, e.created_ms, e.record) for e in store.outbox_after(after)] == written[after:]
        cutoff = data.draw(st.integers(min_value=0, max_value=1_000 * len(commits)), label="cutoff")
        store.expire(outbox_before_ms=cutoff, seen_before_ms=0)
        kept_from = next((n for n in range(len(commits)) if 1_000 * n >= cutoff), len(commits) - 1)
        first_kept = 1 + sum(commits[:kept_from])
        assert [e.seq for e in store.outbox_after(0)] == list(range(first_kept, len(written) + 1))
        store.close()


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
