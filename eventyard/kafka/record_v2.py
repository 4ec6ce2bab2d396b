"""One record of Kafka's v2 record-batch format, encoded as the producer appends it.

The bytes are those kafka-python's `DefaultRecordBatchBuilder.append` writes for
the same arguments (length prefix included): zigzag varints, attributes 0, header
keys UTF-8. The compiled hot path has the same function (`record_v2`);
`encode_record` is whichever runs.
"""

from __future__ import annotations

from kafka.record.util import encode_varint

from eventyard.core.native import choose
from eventyard.core.records import Headers

__all__ = ["encode_record", "encode_record_py"]


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
