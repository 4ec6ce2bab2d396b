"""Key layout of a task store. One leading tag byte per column of data.

Fixed-width numbers keep RocksDB's byte order equal to numeric order, so the
timer index iterates by due time and the outbox by sequence.

The compiled transaction (eventyard/core/_transaction.pxi) builds the instance,
timer, dedup and outbox keys itself: a change here is a change there too
(tests/state/test_transaction.py fails until both agree).
"""

from __future__ import annotations

import functools

__all__ = [
    "instance_key",
    "timer_key",
    "parse_timer_key",
    "TIMER_PREFIX",
    "watermark_key",
    "seen_key",
    "seen_expiry_key",
    "parse_seen_expiry_key",
    "SEEN_EXPIRY_PREFIX",
    "outbox_key",
    "parse_outbox_key",
    "OUTBOX_PREFIX",
    "INSTANCE_PREFIX",
    "META_KEY",
    "SEEN_PREFIX",
    "SCOPE_SEP",
]

SEP = b"\x00"
# Between an operator's scope and its key in a stored ID (`velocity<US>customer-7`);
# the workflow's keys have none, so an aggregate ID may not hold one (decode refuses it).
SCOPE_SEP = "\x1f"
INSTANCE_PREFIX = b"i"
TIMER_PREFIX = b"t"
WATERMARK_PREFIX = b"w"
SEEN_PREFIX = b"d"
SEEN_EXPIRY_PREFIX = b"e"
OUTBOX_PREFIX = b"o"
META_KEY = b"m"


def instance_key(aggregate_id: str) -> bytes:
    return INSTANCE_PREFIX + aggregate_id.encode()


def timer_key(due_ms: int, aggregate_id: str, name: str) -> bytes:
    return TIMER_PREFIX + b"%016d" % due_ms + aggregate_id.encode() + SEP + name.encode()


def parse_timer_key(key: bytes) -> tuple[int, str, str]:
    # Split at the last NUL: an aggregate ID may contain U+0000, a timer name may not
    # (Context.set_timer refuses one).
    due = int(key[1:17])
    aggregate, _, name = key[17:].rpartition(SEP)
    return due, aggregate.decode(), name.decode()


@functools.lru_cache(maxsize=4096)  # read and written for every event, of a few partitions
def watermark_key(topic: str, partition: int) -> bytes:
    return WATERMARK_PREFIX + topic.encode() + SEP + b"%d" % partition


def seen_key(event_id: str) -> bytes:
    return SEEN_PREFIX + event_id.encode()


def seen_expiry_key(at_ms: int, event_id: str) -> bytes:
    return SEEN_EXPIRY_PREFIX + b"%016d" % at_ms + event_id.encode()


def parse_seen_expiry_key(key: bytes) -> tuple[int, str]:
    return int(key[1:17]), key[17:].decode()


def outbox_key(seq: int) -> bytes:
    return OUTBOX_PREFIX + b"%020d" % seq


def parse_outbox_key(key: bytes) -> int:
    return int(key[1:])
