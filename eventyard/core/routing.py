"""Where a key's records live (Kafka's default partitioning) and deterministic output IDs."""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Callable

from eventyard.core.native import choose

__all__ = ["murmur2", "key_partition", "key_partition_py", "task_of", "derived_event_id", "derived_event_ids",
           "NAMESPACE_BYTES"]

# Fixed namespace: output IDs must be identical across processes and restarts.
_ID_NAMESPACE = uuid.UUID("6f1c7a52-5a53-4c1e-9d4e-0e7a2b9f3c11")
NAMESPACE_BYTES = _ID_NAMESPACE.bytes
_VARIANT = {c: "89ab"[int(c, 16) & 0x3] for c in "0123456789abcdef"}
_sha1 = hashlib.sha1


def murmur2(data: bytes) -> int:
    """Kafka's key hash (the Java client's default partitioner), as an unsigned 32-bit int."""
    length = len(data)
    m, r = 0x5BD1E995, 24
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    tail = length % 4
    base = length - tail
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


# Outputs reuse one key (the aggregate) several times, and this murmur2 runs in Python.
_key_hash = functools.lru_cache(maxsize=65_536)(murmur2)


def key_partition_py(key: bytes, partitions: int) -> int:
    """The partition of `key` among `partitions` (0..n-1), as Kafka's default partitioner places it."""
    if partitions < 1:
        raise ValueError("a topic has at least one partition")
    return (_key_hash(key) & 0x7FFFFFFF) % partitions


# key_partition(key, partitions): compiled when it can be (every output record asks it)
key_partition: Callable[[bytes, int], int] = choose(key_partition_py, "key_partition")


def task_of(key: str, tasks: int) -> int:
    """The input partition, hence the task, of records keyed `key` when every input
    topic has `tasks` partitions and producers use Kafka's default partitioner."""
    return key_partition(key.encode("utf-8"), tasks)


def derived_event_id(cause_id: str, index: int) -> str:
    """ID of the index-th record emitted because of `cause_id`; same on every re-run."""
    return derived_event_ids(cause_id, index, index + 1)[0]


def _derived_event_ids(cause_id: str, start: int, stop: int) -> list[str]:
    """`derived_event_id(cause_id, i)` for i in range(start, stop), hashing the
    shared prefix of their names once."""
    # uuid5 (RFC 4122 name-based SHA-1) spelled from the digest's hex, without
    # building UUID objects: the same string as str(uuid.uuid5(_ID_NAMESPACE, name)),
    # name = f"{cause_id}#{index}", at a quarter of the cost; it runs for every output.
    prefix = _sha1(NAMESPACE_BYTES + cause_id.encode() + b"#")
    ids = []
    for index in range(start, stop):
        digest = prefix.copy()
        digest.update(b"%d" % index)
        h = digest.hexdigest()
        # version nibble 5; variant bits 10xx in the first nibble of the fourth group
        ids.append(f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}")
    return ids


# derived_event_ids(cause_id, start, stop), compiled when it can be
derived_event_ids: Callable[[str, int, int], list[str]] = choose(
    _derived_event_ids, "uuid5_ids", NAMESPACE_BYTES)
