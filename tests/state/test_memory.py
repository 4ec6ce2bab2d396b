"""The per-process RocksDB memory budget bounds the memtables of all shard stores together."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from state import ShardStore
from state.memory import set_store_memory, store_memory

MB = 1 << 20
STORES = 32


@pytest.fixture
def budget() -> Iterator[None]:
    yield
    set_store_memory(64 * MB, 64 * MB)  # the default again, for stores opened later


def _memtables_after_writing(tmp_path: Path, total_mb: int) -> int:
    stores = [ShardStore.open(tmp_path / f"shard-{n}", n, create=True) for n in range(STORES)]
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
