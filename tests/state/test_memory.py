"""The per-process RocksDB memory budget bounds the memtables of all task stores together."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventyard.state import TaskStore
from eventyard.state.memory import set_store_memory, store_memory

MB = 1 << 20
STORES = 32


@pytest.fixture
def budget() -> Iterator[None]:
    yield
    set_store_memory(64 * MB, 32 * MB)  # the default again, for stores opened later


def _memtables_after_writing(tmp_path: Path, total_mb: int) -> int:
    stores = [TaskStore.open(tmp_path / f"task-{n}", n, create=True) for n in range(STORES)]
    value = os.urandom(700).hex()
    rounds = (total_mb * MB) // (STORES * len(value))
    for i in range(rounds):
        for store in stores:
            txn = store.transaction()
            txn.put_instance(f"order-{i}", {"data": value})
            txn.commit()
    used = sum(s._db.property_int_value("rocksdb.cur-size-all-mem-tables") for s in stores)
    for store in stores:
        store.close()
    return used


def test_memtables_of_all_stores_stay_within_the_budget(tmp_path, budget):
    set_store_memory(2 * MB, MB, stores=STORES)
    # Each store gets its share as write buffer; with at most one more memtable
    # being flushed per store, the total stays under twice the budget.
    assert store_memory().write_buffer_bytes == 64 << 10
    assert _memtables_after_writing(tmp_path, total_mb=12) <= 3 * 2 * MB


def test_a_bigger_budget_keeps_more_in_memory(tmp_path, budget):
    # The same writes with room for them: the budget, not the data, set the bound above.
    set_store_memory(1024 * MB, MB, stores=STORES)
    assert _memtables_after_writing(tmp_path, total_mb=12) > 8 * MB


def _flushed_store(path: Path) -> TaskStore:
    """A store with one SST file on disk (so a table reader is open)."""
    store = TaskStore.open(path, 0, create=True)
    txn = store.transaction()
    for i in range(20_000):
        txn.put_instance(f"order-{i}", {"state": "open"})
    txn.commit()
    store._db.flush()
    assert list(store.path.glob("*.sst"))
    return store


def _written_options(store: TaskStore) -> str:
    return max(store.path.glob("OPTIONS-*")).read_text()


@pytest.mark.parametrize("bits", [0, 10])
def test_bloom_filters_are_written_only_when_asked(tmp_path, budget, bits):
    set_store_memory(64 * MB, 8 * MB, bloom_bits_per_key=bits)
    store = _flushed_store(tmp_path / "task-0")
    assert ("filter_policy=bloomfilter" in _written_options(store)) == bool(bits)
    assert store.get_instance("order-7") == {"state": "open"}
    store.close()


def test_index_and_filter_blocks_in_the_cache_leave_table_readers(tmp_path, budget):
    # Outside the cache, each open SST file's reader holds its index and filter,
    # which grow with the data; in it, they count in (and are bounded by) block_cache_mb.
    readers = {}
    for in_cache in (False, True):
        set_store_memory(64 * MB, 8 * MB, bloom_bits_per_key=10, index_in_cache=in_cache)
        store = _flushed_store(tmp_path / f"task-{in_cache}")
        assert ("cache_index_and_filter_blocks=true" in _written_options(store)) == in_cache
        assert store.get_instance("order-7") == {"state": "open"}
        readers[in_cache] = store._db.property_int_value("rocksdb.estimate-table-readers-mem")
        if in_cache:
            assert store_memory().cache.get_pinned_usage() > 0  # level 0: pinned in the cache
        store.close()
    assert readers[True] < readers[False]


def test_files_are_written_through_small_buffers(tmp_path, budget):
    store = _flushed_store(tmp_path / "task-0")
    assert "writable_file_max_buffer_size=16384" in _written_options(store)
    store.close()


def test_decoded_records_kept_by_the_stores_of_a_process_stay_within_record_cache(tmp_path, budget):
    # state.record_cache bounds the Python heap the stores hold (a few KB a record),
    # shared by the stores a process opens; every record still reads back.
    set_store_memory(64 * MB, 8 * MB, stores=4, records=400)
    stores = [TaskStore.open(tmp_path / f"task-{n}", n, create=True) for n in range(4)]
    for store in stores:
        for i in range(1_000):
            txn = store.transaction()
            txn.put_instance(f"order-{i}", {"state": "open", "n": i})
            txn.commit()
            store.cached_instance(f"order-{i // 2}")
    assert sum(len(store._records) for store in stores) <= 400
    assert all(store.cached_instance(f"order-{i}") == {"state": "open", "n": i} for store in stores for i in (0, 999))
    for store in stores:
        store.close()
