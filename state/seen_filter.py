"""SeenFilter: an in-memory Bloom filter over a store's processed event IDs.

Almost every event is new, so a dedup check that asks RocksDB is a miss that
still walks the memtable and one filter block per SST file. This filter answers
"certainly new" from RAM; only a possible hit (~1% false positives at 10 bits per
key) reads the store. It is built from the dedup marks when the store opens and
fed by every commit; expired marks stay in it until the next open (they cost a
read, never a wrong answer).

Python's str hash is per process, which is fine: the filter never leaves it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eventyard.core.native import choose

__all__ = ["SeenFilter", "PySeenFilter"]

_MIN_BITS = 1 << 16


class PySeenFilter:
    """The filter in Python; `SeenFilter` is its compiled twin when that was built
    (eventyard.core._native, the same bits for the same keys)."""

    def __init__(self, expected: int = 0, bits_per_key: int = 10) -> None:
        self._bits_per_key = bits_per_key
        self._count = 0
        self._resize(max(expected, 1))

    def _resize(self, expected: int) -> None:
        bits = max(_MIN_BITS, 1 << (expected * self._bits_per_key - 1).bit_length())
        self._mask = bits - 1
        self._array = bytearray(bits >> 3)
        self._capacity = bits // self._bits_per_key

    def add(self, key: str) -> None:
        h = hash(key)
        mask, array = self._mask, self._array
        for i in range(3):  # double hashing: h1 + i*h2
            bit = (h + i * (h >> 29 | 1)) & mask
            array[bit >> 3] |= 1 << (bit & 7)
        self._count += 1

    def __contains__(self, key: str) -> bool:
        h = hash(key)
        mask, array = self._mask, self._array
        for i in range(3):
            bit = (h + i * (h >> 29 | 1)) & mask
            if not array[bit >> 3] & (1 << (bit & 7)):
                return False
        return True

    @property
    def full(self) -> bool:
        """Past its capacity the false-positive rate climbs: rebuild it bigger."""
        return self._count > self._capacity

    def __len__(self) -> int:
        return self._count

    def bits(self) -> bytes:
        """The filter's bits (for comparing with the twin)."""
        return bytes(self._array)


if TYPE_CHECKING:
    SeenFilter = PySeenFilter  # the compiled class has the same methods
else:
    SeenFilter = choose(PySeenFilter, "SeenFilter")
