from pathlib import Path

import pytest

from eventyard.core.errors import StoreCorruptError, StoreError, StoreLockedError, StoreMissingError
from eventyard.core.records import OutRecord
from eventyard.state import ShardStore, StateDirectory


def test_nothing_is_visible_until_commit(make_store):
    store = make_store()
    txn = store.transaction()
    txn.put_instance("a", {"state": "x"})
    txn.set_watermark("orders", 0, 5)
    assert txn.get_instance("a") == {"state": "x"}  # a transaction reads its own writes
    assert store.get_instance("a") is None and store.watermark("orders", 0) == -1
    txn.commit()
    assert store.get_instance("a") == {"state": "x"} and store.watermark("orders", 0) == 5


def test_timers_come_out_in_due_order_and_only_when_due(make_store):
    store = make_store()
    txn = store.transaction()
    txn.set_timer(3_000, "b", "t")
    txn.set_timer(1_000, "a", "t")
    txn.set_timer(20_000, "c", "t")
    txn.commit()
    assert store.earliest_timer().aggregate_id == "a"
    assert [t.aggregate_id for t in store.due_timers(now_ms=5_000)] == ["a", "b"]
    txn = store.transaction()
    txn.cancel_timer(1_000, "a", "t")
    txn.commit()
    assert [t.aggregate_id for t in store.due_timers(now_ms=5_000)] == ["b"]


def test_outbox_sequence_survives_reopen(tmp_path: Path):
    path = tmp_path / "shard-00001"
    store = ShardStore.open(path, 1, create=True)
    txn = store.transaction()
    for i in range(3):
        txn.append_outbox(OutRecord("out", b"k", b"v%d" % i, (("h", b"1"),)), now_ms=i)
    txn.commit()
    store.close()
    store = ShardStore.open(path, 1)
    assert store.next_outbox_seq == 4
    after = list(store.outbox_after(1))
    assert [e.record.value for e in after] == [b"v1", b"v2"]
    assert after[0].record.headers == (("h", b"1"),)
    store.close()


def test_dedup_marks_and_outbox_expire_after_retention(make_store):
    store = make_store()
    txn = store.transaction()
    txn.mark_seen("e-old", now_ms=1_000)
    txn.mark_seen("e-new", now_ms=9_000)
    txn.append_outbox(OutRecord("out", None, b"old"), now_ms=1_000)
    txn.append_outbox(OutRecord("out", None, b"new"), now_ms=9_000)
    txn.commit()
    store.expire(outbox_before_ms=5_000, seen_before_ms=5_000)
    txn = store.transaction()
    assert not txn.seen("e-old") and txn.seen("e-new")
    assert [e.record.value for e in store.outbox_after(0)] == [b"new"]


def test_the_outbox_sequence_never_goes_back_when_every_entry_has_expired(tmp_path: Path):
    # Re-sending after a restart takes the entries after the snapshot's sequence
    # number; numbering from 1 again would leave new outputs below it, never re-sent.
    path = tmp_path / "shard-00002"
    store = ShardStore.open(path, 2, create=True)
    txn = store.transaction()
    for i in range(3):
        txn.append_outbox(OutRecord("out", None, b"v%d" % i), now_ms=i)
    txn.commit()
    store.expire(outbox_before_ms=10**15, seen_before_ms=0)  # all older than the retention
    assert [e.record.value for e in store.outbox_after(0)] == [b"v2"]  # the newest is kept
    store.close()
    store = ShardStore.open(path, 2)
    assert store.next_outbox_seq == 4 and store.has_emitted
    store.close()


def test_missing_store_is_refused_not_recreated(tmp_path: Path):
    with pytest.raises(StoreMissingError, match="shard 7.*missing.*replay"):
        ShardStore.open(tmp_path / "shard-00007", 7, create=False)
    assert not (tmp_path / "shard-00007").exists()


def test_corrupt_store_is_refused(tmp_path: Path):
    path = tmp_path / "shard-00002"
    ShardStore.open(path, 2, create=True).close()
    (path / "CURRENT").write_text("MANIFEST-999999\n")
    with pytest.raises(StoreCorruptError, match="shard 2"):
        ShardStore.open(path, 2)


def test_store_held_by_another_handle_is_reported_as_locked(make_store):
    store = make_store(shard=3)
    with pytest.raises(StoreLockedError, match="in use"):
        ShardStore.open(store.path, 3)


def test_store_of_another_shard_is_refused(tmp_path: Path):
    ShardStore.open(tmp_path / "s", 4, create=True).close()
    with pytest.raises(StoreCorruptError, match="belongs to shard 4"):
        ShardStore.open(tmp_path / "s", 5)


def test_state_directory_pins_shard_count(tmp_path: Path):
    StateDirectory(tmp_path, "order_saga", 256).ensure()
    StateDirectory(tmp_path, "order_saga", 256).ensure()  # same count: fine
    with pytest.raises(StoreError, match="state.shards=256, configured 64"):
        StateDirectory(tmp_path, "order_saga", 64).ensure()
    with pytest.raises(StoreError, match="pipeline 'order_saga'"):
        StateDirectory(tmp_path, "loans", 256).ensure()


def test_state_directory_reads_every_instance_of_every_shard(tmp_path: Path):
    directory = StateDirectory(tmp_path, "order_saga", 8)
    directory.ensure()
    for shard, aggregate in ((1, "a"), (5, "b")):
        store = ShardStore.open(directory.shard_path(shard), shard, create=True)
        txn = store.transaction()
        txn.put_instance(aggregate, {"state": aggregate})
        txn.commit()
        store.close()
    assert dict(directory.read_instances()) == {"a": {"state": "a"}, "b": {"state": "b"}}
