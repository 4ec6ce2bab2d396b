from pathlib import Path

import pytest

from eventyard.core.errors import StoreCorruptError, StoreError, StoreLockedError, StoreMissingError
from eventyard.core.records import OutRecord
from eventyard.state.directory import LegacyLayoutError
from eventyard.state import TaskStore, StateDirectory


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
    path = tmp_path / "task-00001"
    store = TaskStore.open(path, 1, create=True)
    txn = store.transaction()
    for i in range(3):
        txn.append_outbox(OutRecord("out", b"k", b"v%d" % i, (("h", b"1"),)), now_ms=i)
    txn.commit()
    store.close()
    store = TaskStore.open(path, 1)
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
    txn.commit()
    txn = store.transaction()
    txn.append_outbox(OutRecord("out", None, b"new"), now_ms=9_000)
    txn.commit()
    store.expire(outbox_before_ms=5_000, seen_before_ms=5_000)
    txn = store.transaction()
    assert not txn.seen("e-old") and txn.seen("e-new")
    assert [e.record.value for e in store.outbox_after(0)] == [b"new"]


def test_the_outbox_sequence_never_goes_back_when_every_entry_has_expired(tmp_path: Path):
    # Re-sending after a restart takes the entries after the snapshot's sequence
    # number; numbering from 1 again would leave new outputs below it, never re-sent.
    path = tmp_path / "task-00002"
    store = TaskStore.open(path, 2, create=True)
    for i in range(3):
        txn = store.transaction()
        txn.append_outbox(OutRecord("out", None, b"v%d" % i), now_ms=i)
        txn.commit()
    store.expire(outbox_before_ms=10**15, seen_before_ms=0)  # all older than the retention
    assert [e.record.value for e in store.outbox_after(0)] == [b"v2"]  # the newest is kept
    store.close()
    store = TaskStore.open(path, 2)
    assert store.next_outbox_seq == 4 and store.has_emitted
    store.close()


def test_missing_store_is_refused_not_recreated(tmp_path: Path):
    with pytest.raises(StoreMissingError, match="task 7.*missing.*replay"):
        TaskStore.open(tmp_path / "task-00007", 7, create=False)
    assert not (tmp_path / "task-00007").exists()


def test_corrupt_store_is_refused(tmp_path: Path):
    path = tmp_path / "task-00002"
    TaskStore.open(path, 2, create=True).close()
    (path / "CURRENT").write_text("MANIFEST-999999\n")
    with pytest.raises(StoreCorruptError, match="task 2"):
        TaskStore.open(path, 2)


def test_store_held_by_another_handle_is_reported_as_locked(make_store):
    store = make_store(task=3)
    with pytest.raises(StoreLockedError, match="in use"):
        TaskStore.open(store.path, 3)


def test_store_of_another_task_is_refused(tmp_path: Path):
    TaskStore.open(tmp_path / "s", 4, create=True).close()
    with pytest.raises(StoreCorruptError, match="belongs to task 4"):
        TaskStore.open(tmp_path / "s", 5)


def test_state_directory_pins_the_partition_count(tmp_path: Path):
    StateDirectory(tmp_path, "order_saga", 8).ensure()
    StateDirectory(tmp_path, "order_saga", 8).ensure()  # same count: fine
    with pytest.raises(StoreError, match="written with 8 partitions per input topic, the topics now have 4"):
        StateDirectory(tmp_path, "order_saga", 4).ensure()
    with pytest.raises(StoreError, match="pipeline 'order_saga'"):
        StateDirectory(tmp_path, "loans", 8).ensure()


def test_a_state_directory_of_the_old_shard_layout_is_refused_naming_the_conversion(tmp_path: Path):
    (tmp_path / "MANIFEST.json").write_text('{"pipeline": "order_saga", "shards": 256}')
    (tmp_path / "shard-00017").mkdir()
    with pytest.raises(LegacyLayoutError, match="256-shard layout.*eventyard replay order_saga"):
        StateDirectory(tmp_path, "order_saga", 4).ensure()


def test_state_directory_reads_every_instance_of_every_task(tmp_path: Path):
    directory = StateDirectory(tmp_path, "order_saga", 8)
    directory.ensure()
    for task, aggregate in ((1, "a"), (5, "b")):
        store = TaskStore.open(directory.task_path(task), task, create=True)
        txn = store.transaction()
        txn.put_instance(aggregate, {"state": aggregate})
        txn.commit()
        store.close()
    assert dict(directory.read_instances()) == {"a": {"state": "a"}, "b": {"state": "b"}}


def test_a_restarted_store_still_skips_marked_event_ids_and_applied_offsets(tmp_path: Path):
    # The dedup filter and the watermarks are in memory: both come back on open.
    path = tmp_path / "task-00000"
    store = TaskStore.open(path, 0, create=True)
    txn = store.transaction(grouped=True)
    txn.mark_seen("e-1", 1000)
    txn.set_watermark("orders", 0, 41)
    assert txn.seen("e-1") and txn.watermark("orders", 0) == 41  # its own writes
    txn.flush()
    assert not store.transaction().seen("e-2")
    store.close()
    reopened = TaskStore.open(path, 0)
    txn = reopened.transaction()
    assert txn.seen("e-1") and not txn.seen("e-2") and txn.watermark("orders", 0) == 41
    reopened.close()


def test_the_dedup_filter_reloads_every_mark_whatever_size_the_store_noted(tmp_path: Path):
    # The filter is sized from the count noted at housekeeping, then filled in one
    # pass; a store that holds far more than it noted (it crashed before noting)
    # must still answer "seen" for every mark after a reopen, never "new".
    store = TaskStore.open(tmp_path / "task-00000", 0, create=True)
    txn = store.transaction(grouped=True)
    for i in range(30_000):
        txn.mark_seen(f"e-{i}", now_ms=1_000)
    txn.flush()
    store.expire(outbox_before_ms=0, seen_before_ms=0)  # housekeeping notes 30,000
    txn = store.transaction(grouped=True)
    for i in range(30_000, 250_000):
        txn.mark_seen(f"e-{i}", now_ms=1_000)
    txn.flush()
    store.close()
    reopened = TaskStore.open(store.path, 0)
    try:
        assert all(reopened.maybe_seen(f"e-{i}") for i in range(0, 250_000, 7))
        # ... and sized for all of them, so "possibly seen" stays rare (~1%).
        assert len(reopened._seen) == 250_000 and not reopened._seen.full
        assert sum(reopened.maybe_seen(f"new-{i}") for i in range(10_000)) < 300
        assert reopened.transaction().seen("e-249999") and not reopened.transaction().seen("e-new")
    finally:
        reopened.close()
