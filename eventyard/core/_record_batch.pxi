# Included by _native.pyx: reading the records of a Kafka v2 record batch.

from cpython.unicode cimport PyUnicode_DecodeUTF8


cdef inline long long _get_varint(const unsigned char *p, Py_ssize_t *pos, Py_ssize_t end) except? -1:
    """A zigzag varint at p[pos[0]], pos[0] moved past it."""
    cdef unsigned long long v = 0
    cdef int shift = 0
    cdef unsigned char b
    while True:
        if pos[0] >= end:
            raise ValueError("a record ends inside a varint")
        b = p[pos[0]]
        pos[0] += 1
        v |= (<unsigned long long>(b & 0x7F)) << shift
        if not b & 0x80:
            return <long long>(v >> 1) ^ -(<long long>(v & 1))
        shift += 7
        if shift > 63:
            raise ValueError("a varint longer than 10 bytes")


cdef inline Py_ssize_t _get_size(const unsigned char *p, Py_ssize_t *pos, Py_ssize_t end) except -2:
    """A length: -1 (null) or the count of bytes that follow, all inside the record."""
    cdef long long n = _get_varint(p, pos, end)
    if n < -1 or n > end - pos[0]:
        raise ValueError(f"a length of {n} with {end - pos[0]} bytes left in the record")
    return <Py_ssize_t>n


def batch_records(bytes buf not None, Py_ssize_t pos, Py_ssize_t end, Py_ssize_t count, long long base_offset,
                  long long first_timestamp, long long stamp, object topic, object partition, object make):
    """The `count` records of buf[pos:end] (an uncompressed v2 batch after its header)
    as make(topic, partition, offset, key, value, headers, timestamp_ms); headers a
    tuple of (str, bytes), a null header value as b"". `stamp` >= 0 is the batch's
    LogAppendTime, every record's timestamp; else each record's CreateTime."""
    cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(buf)
    cdef Py_ssize_t i, j, record_end, size, headers_count
    cdef long long timestamp_delta, offset_delta
    cdef object key, value
    cdef tuple headers
    if pos < 0 or end > PyBytes_GET_SIZE(buf) or pos > end or count < 0:
        raise ValueError("a batch's records outside its buffer")
    out = []
    for i in range(count):
        size = _get_size(p, &pos, end)
        if size < 0:
            raise ValueError("a record of negative length")
        record_end = pos + size
        pos += 1  # attributes: unused in v2
        timestamp_delta = _get_varint(p, &pos, record_end)
        offset_delta = _get_varint(p, &pos, record_end)
        size = _get_size(p, &pos, record_end)
        key = None if size < 0 else PyBytes_FromStringAndSize(<const char *>p + pos, size)
        pos += size if size > 0 else 0
        size = _get_size(p, &pos, record_end)
        value = None if size < 0 else PyBytes_FromStringAndSize(<const char *>p + pos, size)
        pos += size if size > 0 else 0
        headers_count = <Py_ssize_t>_get_varint(p, &pos, record_end)
        if headers_count < 0 or headers_count > record_end - pos:
            raise ValueError(f"{headers_count} headers in a record")
        pairs = []
        for j in range(headers_count):
            size = _get_size(p, &pos, record_end)
            if size < 0:
                raise ValueError("a header without a name")
            name = PyUnicode_DecodeUTF8(<const char *>p + pos, size, NULL)
            pos += size
            size = _get_size(p, &pos, record_end)
            data = b"" if size < 0 else PyBytes_FromStringAndSize(<const char *>p + pos, size)
            pos += size if size > 0 else 0
            pairs.append((name, data))
        headers = tuple(pairs) if headers_count else ()
        if pos != record_end:
            raise ValueError("a record's length does not match its fields")
        out.append(make(topic, partition, base_offset + offset_delta, key, value, headers,
                        stamp if stamp >= 0 else first_timestamp + timestamp_delta))
    if pos != end:
        raise ValueError("a batch's length does not match its records")
    return out
