"""Records of Kafka's v2 record-batch format: encoded as the producer appends them,
and read back out of a fetched batch.

`encode_record` writes the bytes kafka-python's `DefaultRecordBatchBuilder.append`
writes for the same arguments (length prefix included): zigzag varints,
attributes 0, header keys UTF-8. `batch_records` reads an uncompressed batch's
records as kafka-python's `DefaultRecordBatch` reads them, straight into
`SourceMessage`s. The compiled hot path has both (`record_v2`, `batch_records`);
each name here is whichever runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kafka.record.util import decode_varint, encode_varint

from eventyard.core.native import choose
from eventyard.core.records import Headers

__all__ = ["encode_record", "encode_record_py", "batch_records", "batch_records_py"]


def encode_record_py(offset_delta: int, timestamp_delta: int, key: bytes | None, value: bytes | None,
                     headers: Headers) -> bytes:
    body = bytearray(b"\x00")  # attributes
    put = body.append
    encode_varint(timestamp_delta, put)
    encode_varint(offset_delta, put)
    for part in (key, value):
        if part is None:
            encode_varint(-1, put)
        else:
            encode_varint(len(part), put)
            body += part
    encode_varint(len(headers), put)
    for name, data in headers:
        raw = name.encode()
        encode_varint(len(raw), put)
        body += raw
        if data is None:
            encode_varint(-1, put)
        else:
            encode_varint(len(data), put)
            body += data
    record = bytearray()
    encode_varint(len(body), record.append)
    record += body
    return bytes(record)


encode_record = choose(encode_record_py, "record_v2")


def _size(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """A length (-1: null) and the position after it; the bytes it counts lie before `end`."""
    n, pos = decode_varint(buf, pos)
    if pos > end or n < -1 or n > end - pos:
        raise ValueError(f"a length of {n} with {end - pos} bytes left in the record")
    return n, pos


def batch_records_py(buf: bytes, pos: int, end: int, count: int, base_offset: int, first_timestamp: int,
                     stamp: int, topic: str, partition: int, make: Callable[..., Any]) -> list[Any]:
    """The `count` records of buf[pos:end] (an uncompressed v2 batch after its header)
    as make(topic, partition, offset, key, value, headers, timestamp_ms); headers a
    tuple of (str, bytes), a null header value as b"". `stamp` >= 0 is the batch's
    LogAppendTime, every record's timestamp; else each record's CreateTime."""
    if pos < 0 or end > len(buf) or pos > end or count < 0:
        raise ValueError("a batch's records outside its buffer")
    out = []
    try:
        for _ in range(count):
            size, pos = _size(buf, pos, end)
            if size < 0:
                raise ValueError("a record of negative length")
            record_end = pos + size
            timestamp_delta, pos = decode_varint(buf, pos + 1)  # after the attributes byte
            offset_delta, pos = decode_varint(buf, pos)
            size, pos = _size(buf, pos, record_end)
            key = None if size < 0 else buf[pos:pos + size]
            pos += max(size, 0)
            size, pos = _size(buf, pos, record_end)
            value = None if size < 0 else buf[pos:pos + size]
            pos += max(size, 0)
            count_headers, pos = decode_varint(buf, pos)
            if count_headers < 0 or count_headers > record_end - pos:
                raise ValueError(f"{count_headers} headers in a record")
            pairs = []
            for _ in range(count_headers):
                size, pos = _size(buf, pos, record_end)
                if size < 0:
                    raise ValueError("a header without a name")
                name = buf[pos:pos + size].decode()
                size, pos = _size(buf, pos + size, record_end)
                pairs.append((name, b"" if size < 0 else buf[pos:pos + size]))
                pos += max(size, 0)
            if pos != record_end:
                raise ValueError("a record's length does not match its fields")
            out.append(make(topic, partition, base_offset + offset_delta, key, value, tuple(pairs),
                            stamp if stamp >= 0 else first_timestamp + timestamp_delta))
    except IndexError:  # decode_varint past the buffer's end
        raise ValueError("a record ends inside a varint") from None
    if pos != end:
        raise ValueError("a batch's length does not match its records")
    return out


batch_records = choose(batch_records_py, "batch_records")
