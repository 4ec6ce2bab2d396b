"""One memory budget for all task stores of a process.

Each RocksDB instance defaults to a 64 MB write buffer and its own 8 MB block
cache. With many stores in one process (256 in the shard design) that is gigabytes, and memtables
that never fill are never flushed: the bench measured 3.4 GB RSS and 3 GB of WAL
(0 SST files) at 1M open workflows, and a 40 s WAL replay to reopen the stores.
A shared WriteBufferManager caps memtables for the whole process (RocksDB
flushes the largest ones when the cap is near), and one shared block cache
serves every store. The decoded records the stores keep in Python (a few KB each)
are budgeted per process too: 20,000 per store was 170 MB of a worker's RSS with
4 tasks (bench/memory_engine.py).

Each store's write buffer is its share of the budget (budget / stores). With
bigger buffers the manager's cap is what ends memtables: once over it, every
write to any store switches that store's memtable (a new WAL file, a tiny
flush), which cost the engine ~25% CPU per event (benchmarks.md, change log).

Index and filter blocks of SST files go in the shared cache too: by default each
open file's reader holds them outside any budget, and they grow with the data.
Bloom filters spare lookups of absent keys (a new aggregate, a dedup check) a
data block read per SST file. With the cache capped, RSS stops growing once it
is full: bench/memory_engine.py, 600k open workflows, 281 MB with a 64 MB cache
and indexes outside it, 259 MB with 32 MB holding them.
"""

from __future__ import annotations

from rocksdict import BlockBasedIndexType, BlockBasedOptions, Cache, DBCompressionType, Options, WriteBufferManager

__all__ = ["StoreMemory", "store_memory", "set_store_memory"]

MB = 1 << 20


# Defaults of a budget made without settings (tests, tools); a worker passes its
# `state.*` settings, whose defaults are the same (eventyard.config.settings).
DEFAULT_MEMTABLES = 64 * MB
DEFAULT_BLOCK_CACHE = 16 * MB  # 32 until session 18: the worker at 1M open held ~30 MB more (benchmarks.md)
DEFAULT_RECORDS = 5_000

_MIN_WRITE_BUFFER = 64 << 10
_MAX_WRITE_BUFFER = 4 * MB
# Every store keeps three files open for writing (WAL, MANIFEST, info LOG), each
# with a 64 KB buffer by default: 48 MB of heap for 256 stores (heaptrack). The
# WAL is flushed after every write anyway; engine CPU per event did not move (benchmarks.md).
_FILE_BUFFER = 16 << 10


class StoreMemory:
    def __init__(self, memtables_bytes: int = DEFAULT_MEMTABLES, block_cache_bytes: int = DEFAULT_BLOCK_CACHE,
                 stores: int = 256, *, bloom_bits_per_key: int = 10,
                 index_in_cache: bool = True, records: int = DEFAULT_RECORDS) -> None:
        share = memtables_bytes // max(stores, 1)
        # Decoded workflow records kept by each store (TaskStore.cached_instance).
        self.records_per_store = records // max(stores, 1)
        self.write_buffer_bytes = min(max(share, _MIN_WRITE_BUFFER), _MAX_WRITE_BUFFER)
        self.manager = WriteBufferManager(memtables_bytes, False)  # no stalls: flushes keep up
        self.cache = Cache(block_cache_bytes)
        self.bloom_bits_per_key = bloom_bits_per_key
        self.index_in_cache = index_in_cache
        self._table = BlockBasedOptions()
        self._table.set_block_cache(self.cache)
        # The outbox is read in sequence order (after a restart, and by expiry),
        # never by key: no Bloom filter, and its index through the shared cache.
        self._outbox_table = BlockBasedOptions()
        self._outbox_table.set_block_cache(self.cache)
        self._outbox_table.set_cache_index_and_filter_blocks(index_in_cache)
        if bloom_bits_per_key:
            self._table.set_bloom_filter(bloom_bits_per_key, False)
        if index_in_cache:
            # Partitioned index and filters: only the small top level stays pinned,
            # partitions come and go through the shared cache (one big task store
            # would otherwise pin its whole index, or read it per lookup).
            self._table.set_index_type(BlockBasedIndexType.two_level_index_search())
            self._table.set_partition_filters(True)
            self._table.set_cache_index_and_filter_blocks(True)
            self._table.set_pin_top_level_index_and_filter(True)
            self._table.set_pin_l0_filter_and_index_blocks_in_cache(True)

    def apply(self, opts: Options) -> None:
        opts.set_write_buffer_manager(self.manager)
        opts.set_write_buffer_size(self.write_buffer_bytes)
        opts.set_block_based_table_factory(self._table)
        opts.set_writable_file_max_buffer_size(_FILE_BUFFER)
        # Point lookups hit the upper levels: reading compressed blocks there cost
        # snappy + checksum work on every get (DESIGN.md 2). Compress only the
        # bottom levels, where the cold bulk of a task's data settles.
        none, lz4 = DBCompressionType.none(), DBCompressionType.lz4()
        opts.set_compression_per_level([none, none, none, lz4, lz4, lz4, lz4])

    def apply_outbox(self, opts: Options) -> None:
        """Options of a store's outbox column family (state/store.py): the same
        memtable budget and cache, and a table without a Bloom filter."""
        self.apply(opts)
        opts.set_block_based_table_factory(self._outbox_table)


_current: StoreMemory | None = None


def store_memory() -> StoreMemory:
    """The process's budget (created with defaults on first use)."""
    global _current
    if _current is None:
        _current = StoreMemory()
    return _current


def set_store_memory(memtables_bytes: int, block_cache_bytes: int, stores: int = 256, *,
                     bloom_bits_per_key: int = 10, index_in_cache: bool = True,
                     records: int = DEFAULT_RECORDS) -> None:
    """Set the budget before the first store opens (a worker does this at start)."""
    global _current
    _current = StoreMemory(memtables_bytes, block_cache_bytes, stores,
                           bloom_bits_per_key=bloom_bits_per_key, index_in_cache=index_in_cache, records=records)
