"""How an outbox entry is stored: a compact binary frame around the record's bytes.

The outbox holds every emitted record until its retention passes, so its size
is most of what a task writes. The first format (JSON with hex-encoded bytes)
doubled every key, value and header; this one stores them verbatim:

    0x01 | created_ms:i64 | topic:u16+utf8 | key:i32+bytes | value:i32+bytes |
    header count:u16 | (name:u16+utf8 | value:i32+bytes)* [| timestamp_ms:i64]
                                                                (-1 length: None)

The trailing timestamp is there only for records that carry their own event time
(re-keyed inputs); readers of the first binary format never look past the headers.

Entries written by the first format (they start with `[`) still decode, so a
store written by an older release re-emits its outbox after an upgrade.

One RocksDB value holds all the entries of one commit (`outbox_value`), keyed by
the first one's sequence: a worker's commit carries a source batch's outputs, and
a key per entry cost a WriteBatch put, a memtable insert and a flushed key each
(benchmarks.md). A value of several entries is a chunk:

    0x02 | count:u32 | (length:u32 | entry)*

a value of one entry is that entry, as releases before chunks wrote every entry.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import orjson

from eventyard.core.native import choose
from eventyard.core.records import OutRecord

__all__ = ["encode_entry", "decode_entry", "entry_created_ms", "outbox_value", "value_entries", "value_count",
           "value_created_ms"]

_VERSION = 1
_HEAD = struct.Struct(">Bq")
_U16 = struct.Struct(">H")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_CHUNK = b"\x02"
_CHUNK_HEAD = struct.Struct(">cI")
_U32 = struct.Struct(">I")


_NONE = _I32.pack(-1)


_TEXTS: dict[str, bytes] = {}  # topics and header names: a handful, framed once


def _text(text: str) -> bytes:
    framed = _TEXTS.get(text)
    if framed is None:
        raw = text.encode("utf-8")
        framed = _U16.pack(len(raw)) + raw
        if len(_TEXTS) < 1024:
            _TEXTS[text] = framed
    return framed


def _py_encode_entry(created_ms: int, record: OutRecord) -> bytes:
    # _blob and _text spelled out: ~10 calls per record saved; it runs for every output.
    key, value, texts = record.key, record.value, _TEXTS
    parts = [_HEAD.pack(_VERSION, created_ms), texts.get(record.topic) or _text(record.topic),
             _NONE if key is None else _I32.pack(len(key)) + key,
             _NONE if value is None else _I32.pack(len(value)) + value,
             _U16.pack(len(record.headers))]
    for name, data in record.headers:
        parts.append(texts.get(name) or _text(name))
        parts.append(_NONE if data is None else _I32.pack(len(data)) + data)
    if record.timestamp_ms is not None:
        parts.append(_I64.pack(record.timestamp_ms))
    return b"".join(parts)


# encode_entry(created_ms, record), compiled when it can be
encode_entry: Callable[[int, OutRecord], bytes] = choose(
    _py_encode_entry, "encode_outbox_entry", _TEXTS, _text)


class _Reader:
    __slots__ = ("data", "at")

    def __init__(self, data: bytes, at: int) -> None:
        self.data, self.at = data, at

    def u16(self) -> int:
        (n,) = _U16.unpack_from(self.data, self.at)
        self.at += 2
        return n

    def text(self) -> str:
        n = self.u16()
        self.at += n
        return self.data[self.at - n:self.at].decode("utf-8")

    def blob(self) -> bytes | None:
        (n,) = _I32.unpack_from(self.data, self.at)
        self.at += 4
        if n < 0:
            return None
        self.at += n
        return self.data[self.at - n:self.at]


def decode_entry(data: bytes) -> tuple[int, OutRecord]:
    """(created_ms, record) of a stored entry, in either format."""
    if data[:1] == b"[":
        created_ms, obj = orjson.loads(data)
        return created_ms, OutRecord.from_json(obj)
    _, created_ms = _HEAD.unpack_from(data, 0)
    reader = _Reader(data, _HEAD.size)
    topic, key, value = reader.text(), reader.blob(), reader.blob()
    headers = []
    for _ in range(reader.u16()):
        name = reader.text()
        headers.append((name, reader.blob() or b""))
    timestamp_ms = _I64.unpack_from(data, reader.at)[0] if len(data) - reader.at >= _I64.size else None
    return created_ms, OutRecord(topic, key, value, tuple(headers), timestamp_ms)


def entry_created_ms(data: bytes) -> int:
    """When the entry was written, without decoding the record (for expiry)."""
    if data[:1] == b"[":
        return int(orjson.loads(data)[0])
    return _HEAD.unpack_from(data, 0)[1]


def outbox_value(entries: list[bytes]) -> bytes:
    """The value storing the encoded `entries` of one commit, in sequence order."""
    if len(entries) == 1:
        return entries[0]
    parts = [_CHUNK_HEAD.pack(_CHUNK, len(entries))]
    pack = _U32.pack
    for entry in entries:
        parts.append(pack(len(entry)))
        parts.append(entry)
    return b"".join(parts)


def value_entries(data: bytes) -> list[bytes]:
    """The encoded entries a stored value holds, in sequence order."""
    if data[:1] != _CHUNK:
        return [data]
    _, count = _CHUNK_HEAD.unpack_from(data, 0)
    entries, at = [], _CHUNK_HEAD.size
    for _ in range(count):
        (n,) = _U32.unpack_from(data, at)
        at += _U32.size
        entries.append(data[at:at + n])
        at += n
    return entries


def value_count(data: bytes) -> int:
    """How many entries (sequence numbers) a stored value holds, without splitting it."""
    return _CHUNK_HEAD.unpack_from(data, 0)[1] if data[:1] == _CHUNK else 1


def value_created_ms(data: bytes) -> int:
    """When a stored value's newest (last) entry was written, without copying its
    entries out (for expiry: a value goes once its newest entry is past retention)."""
    if data[:1] != _CHUNK:
        return entry_created_ms(data)
    _, count = _CHUNK_HEAD.unpack_from(data, 0)
    at = _CHUNK_HEAD.size
    for _ in range(count - 1):
        at += _U32.size + _U32.unpack_from(data, at)[0]
    return entry_created_ms(data[at + _U32.size:at + _U32.size + _HEAD.size])
