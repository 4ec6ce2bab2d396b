# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled hot path: what every output record pays (IDs, envelope, headers,
outbox entry) and what every event pays (its handler's copy of the state, the
dedup filter), typed and hashed in C.

Each function returns exactly what its pure-Python twin returns (the tests compare
them over generated inputs); `eventyard.core.native` picks one or the other.
Untyped compilation of the same code gained nothing (docs/benchmarks.md): the time
is in building Python objects, so these build bytes and strings in C buffers and
make one object at the end.
"""

cimport cython
from libc.stdio cimport snprintf
from libc.math cimport isfinite
from libc.string cimport memcpy
from cpython.bytearray cimport PyByteArray_AS_STRING
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.number cimport PyNumber_Index
from cpython.unicode cimport PyUnicode_Check, PyUnicode_DecodeASCII

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object)
    void *PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    const char *PyUnicode_AsUTF8AndSize(object, Py_ssize_t *)
    void PyErr_Clear()

cdef extern from "openssl/sha.h":
    ctypedef struct SHA_CTX:
        pass
    ctypedef struct SHA256_CTX:
        pass
    int SHA1_Init(SHA_CTX *c) nogil
    int SHA1_Update(SHA_CTX *c, const void *data, size_t n) nogil
    int SHA1_Final(unsigned char *md, SHA_CTX *c) nogil
    int SHA256_Init(SHA256_CTX *c) nogil
    int SHA256_Update(SHA256_CTX *c, const void *data, size_t n) nogil
    int SHA256_Final(unsigned char *md, SHA256_CTX *c) nogil

cdef const char *_HEX = b"0123456789abcdef"
cdef const char *_VARIANT = b"89ab89ab89ab89ab"  # RFC 4122 variant digit (10xx) from a hex digit's value


cdef inline void _hexlify(const unsigned char *md, int nbytes, char *out) noexcept nogil:
    cdef int j
    for j in range(nbytes):
        out[2 * j] = _HEX[md[j] >> 4]
        out[2 * j + 1] = _HEX[md[j] & 15]


API = 12  # eventyard.core.native loads only this version (a stale in-place build falls back)


def uuid5_ids(bytes namespace not None, object name, Py_ssize_t start, Py_ssize_t stop):
    """[str(uuid.uuid5(UUID(bytes=namespace), f"{name}#{i}")) for i in range(start, stop)]."""
    return _uuid5_ids(namespace, name, start, stop)


cdef list _uuid5_ids(bytes namespace, object name, Py_ssize_t start, Py_ssize_t stop):
    cdef SHA_CTX base, ctx
    cdef unsigned char md[20]
    cdef char hexd[40]
    cdef char out[36]
    cdef char num[24]
    cdef Py_ssize_t i
    cdef int n
    cdef bytes raw = name.encode()  # any str (a subclass too), as the twin's
    SHA1_Init(&base)
    SHA1_Update(&base, PyBytes_AS_STRING(namespace), PyBytes_GET_SIZE(namespace))
    SHA1_Update(&base, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw))
    SHA1_Update(&base, b"#", 1)
    ids = []
    for i in range(start, stop):
        ctx = base
        n = snprintf(num, sizeof(num), "%zd", i)
        SHA1_Update(&ctx, num, n)
        SHA1_Final(md, &ctx)
        _hexlify(md, 16, hexd)
        # 8-4-4-4-12, version digit 5, variant digit from the 17th hex digit
        memcpy(out, hexd, 8)
        out[8] = 45
        memcpy(out + 9, hexd + 8, 4)
        out[13] = 45
        out[14] = 53
        memcpy(out + 15, hexd + 13, 3)
        out[18] = 45
        out[19] = _VARIANT[md[8] >> 4]
        memcpy(out + 20, hexd + 17, 3)
        out[23] = 45
        memcpy(out + 24, hexd + 20, 12)
        ids.append(PyUnicode_DecodeASCII(out, 36, NULL))
    return ids


def sha256_hex_id(bytes domain not None, object text, int chars):
    """The first `chars` hex digits of sha256(domain + text as UTF-8, surrogates
    passed), or the next `chars` when those are all zero (an all-zero id is invalid)."""
    cdef char hexd[64]
    if chars < 1 or chars > 32:
        raise ValueError("chars must be 1..32")
    return PyUnicode_DecodeASCII(_sha256_id(domain, text, chars, hexd), chars, NULL)


cdef const char *_sha256_id(bytes domain, object text, int chars, char *hexd) except NULL:
    # hexd: 64 chars; returns where the id's `chars` digits start in it
    cdef SHA256_CTX ctx
    cdef unsigned char md[32]
    cdef int j
    cdef bytes raw
    SHA256_Init(&ctx)
    SHA256_Update(&ctx, PyBytes_AS_STRING(domain), PyBytes_GET_SIZE(domain))
    if PyUnicode_Check(text) and PyUnicode_IS_ASCII(text):
        SHA256_Update(&ctx, PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text))
    else:
        raw = text.encode("utf-8", "surrogatepass")
        SHA256_Update(&ctx, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw))
    SHA256_Final(md, &ctx)
    _hexlify(md, 32, hexd)
    for j in range(chars):
        if hexd[j] != 48:
            return hexd
    return hexd + chars


cdef inline char *_put_u16(char *p, Py_ssize_t v) noexcept nogil:
    p[0] = <char>((v >> 8) & 0xFF)
    p[1] = <char>(v & 0xFF)
    return p + 2


cdef inline char *_put_i32(char *p, long long v) noexcept nogil:
    cdef int k
    for k in range(4):
        p[k] = <char>((v >> (24 - 8 * k)) & 0xFF)
    return p + 4


cdef inline char *_put_i64(char *p, long long v) noexcept nogil:
    cdef int k
    for k in range(8):
        p[k] = <char>((v >> (56 - 8 * k)) & 0xFF)
    return p + 8


cdef inline char *_put_bytes(char *p, bytes b) noexcept:
    cdef Py_ssize_t n = PyBytes_GET_SIZE(b)
    memcpy(p, PyBytes_AS_STRING(b), n)
    return p + n


cdef inline char *_put_blob(char *p, object b) noexcept:
    if b is None:
        return _put_i32(p, -1)
    p = _put_i32(p, PyBytes_GET_SIZE(<bytes>b))
    return _put_bytes(p, <bytes>b)


cdef inline bytes _as_bytes(object b):
    # bytes as they are; any other bytes-like object by its buffer (what the twin's
    # len() + concatenation take for bytearray); anything else raises TypeError
    return b if type(b) is bytes else bytes(memoryview(b))


cdef inline Py_ssize_t _blob_size(bytes b) except -1:
    if b is None:
        return 4
    if PyBytes_GET_SIZE(b) > 0x7FFFFFFF:
        raise ValueError("an outbox entry field is limited to 2 GiB")
    return 4 + PyBytes_GET_SIZE(b)


def encode_outbox_entry(dict framed not None, object frame, object created_ms, object record):
    """state.outbox's binary entry for `record`: version 1, created_ms, topic, key,
    value, headers, timestamp. `framed` caches each topic and header name as its
    u16-length-prefixed UTF-8; `frame(name)` makes (and may cache) a missing one."""
    cdef long long created = PyNumber_Index(created_ms)  # an int, as the twin's struct.pack wants
    cdef object topic = record.topic, ts = record.timestamp_ms, headers = record.headers
    cdef long long stamp = 0 if ts is None else PyNumber_Index(ts)
    cdef Py_ssize_t count, size, h
    cdef list parts = []  # topic, key, value, then (name, data) per header; None is -1
    cdef char *p
    cdef bytes out, part
    if not isinstance(headers, (tuple, list)):
        raise TypeError(f"headers must be a tuple or list, not {type(headers).__name__}")
    headers = tuple(headers)
    count = len(headers)
    if count > 0xFFFF:
        raise ValueError("more than 65535 headers")
    part = <bytes?>(framed.get(topic) or frame(topic))
    parts.append(part)
    size = 9 + PyBytes_GET_SIZE(part) + 2 + (8 if ts is not None else 0)
    for blob in (record.key, record.value):
        part = None if blob is None else _as_bytes(blob)
        parts.append(part)
        size += _blob_size(part)
    for name, data in headers:
        part = <bytes?>(framed.get(name) or frame(name))
        parts.append(part)
        size += PyBytes_GET_SIZE(part)
        part = None if data is None else _as_bytes(data)
        parts.append(part)
        size += _blob_size(part)
    out = PyBytes_FromStringAndSize(NULL, size)
    p = PyBytes_AS_STRING(out)
    p[0] = 1
    p = _put_i64(p + 1, created)
    p = _put_bytes(p, <bytes>parts[0])
    for h in range(1, 3):
        p = _put_blob(p, parts[h])
    p = _put_u16(p, count)
    for h in range(count):
        p = _put_bytes(p, <bytes>parts[3 + 2 * h])
        p = _put_blob(p, parts[4 + 2 * h])
    if ts is not None:
        p = _put_i64(p, stamp)
    return out


cdef bytes _common_json(dict common, object dumps):
    # the envelope's fields between type and payload, as they sit inside its braces
    cdef bytes whole = dumps(common)
    return whole[1:PyBytes_GET_SIZE(whole) - 1]


cdef bytes _envelope_json(str event_id, bytes type_json, bytes middle, bytes payload_json):
    # {"event_id":"<id>","type":<type>,<middle>,"payload":<payload>}: what dumps writes for
    # that dict (no spaces, keys in order); the ID is hex and dashes, nothing to escape
    cdef bytes id_raw = event_id.encode("ascii")
    cdef Py_ssize_t middle_n = PyBytes_GET_SIZE(middle)
    cdef Py_ssize_t payload_n = PyBytes_GET_SIZE(payload_json) - 2  # payload_json is "[<payload>]"
    cdef Py_ssize_t size = (13 + PyBytes_GET_SIZE(id_raw) + 9 + PyBytes_GET_SIZE(type_json)
                            + (middle_n + 1 if middle_n else 0) + 11 + payload_n + 1)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, size)
    cdef char *p = PyBytes_AS_STRING(out)
    memcpy(p, b'{"event_id":"', 13)
    p += 13
    p = _put_bytes(p, id_raw)
    memcpy(p, b'","type":', 9)
    p += 9
    p = _put_bytes(p, type_json)
    if middle_n:
        p[0] = 44  # ,
        p = _put_bytes(p + 1, middle)
    memcpy(p, b',"payload":', 11)
    p += 11
    memcpy(p, PyBytes_AS_STRING(payload_json) + 1, payload_n)
    p += payload_n
    p[0] = 125  # }
    return out


def envelope_records(bytes namespace not None, object cause_id, object emits, object topics, dict common not None,
                     bytes record_key not None, bytes span_domain not None, object trace_header,
                     bytes trace_head not None, bytes trace_tail not None, object state_header, object out_cls,
                     object dumps):
    """operators.outputs' records for one cause's emits: for emit i, the envelope
    {event_id, type, **common, payload} (as dumps writes that dict, from the parts
    dumps writes) under ID uuid5(namespace, f"{cause_id}#{i}"), its ID and type
    headers, and a traceparent of trace_head + span + trace_tail whose span is the
    ID's sha256 id in `span_domain` (plus `state_header` if any)."""
    # tuples: nothing a callback does (an emit's `type` property, say) can shrink them under the loop
    cdef tuple emitted = tuple(emits), targets = tuple(topics)
    cdef Py_ssize_t i, n = len(emitted), head_n = PyBytes_GET_SIZE(trace_head)
    cdef Py_ssize_t tail_n = PyBytes_GET_SIZE(trace_tail)
    cdef list ids = _uuid5_ids(namespace, cause_id, 0, n)
    cdef list records = []
    cdef char hexd[64]
    cdef const char *span
    cdef bytes traceparent
    cdef char *p
    cdef bytes middle = _common_json(common, dumps)
    if len(targets) != n:
        raise ValueError("one topic per emit")
    for i in range(n):
        emit = emitted[i]
        event_id = ids[i]
        etype = emit.type
        # the payload one level down (a one-item array): orjson's depth limit as inside the envelope
        value = _envelope_json(<str>event_id, dumps(etype), middle, dumps((emit.payload,)))
        span = _sha256_id(span_domain, event_id, 16, hexd)
        traceparent = PyBytes_FromStringAndSize(NULL, head_n + 16 + tail_n)
        p = PyBytes_AS_STRING(traceparent)
        memcpy(p, PyBytes_AS_STRING(trace_head), head_n)
        memcpy(p + head_n, span, 16)
        memcpy(p + head_n + 16, PyBytes_AS_STRING(trace_tail), tail_n)
        if state_header is None:
            headers = (("eventyard.event_id", (<str>event_id).encode()), ("eventyard.type", etype.encode()),
                       (trace_header, traceparent))
        else:
            headers = (("eventyard.event_id", (<str>event_id).encode()), ("eventyard.type", etype.encode()),
                       (trace_header, traceparent), state_header)
        records.append(out_cls(targets[i], record_key, value, headers))
    return records


# -- a handler's private copy of JSON state ------------------------------------------

cdef object _ABORT = object()  # met something only the orjson round trip spells right
cdef int _MAX_DEPTH = 200  # under orjson's own limit: deeper aborts, and orjson decides


cdef inline bint _utf8_ok(object s):
    cdef Py_ssize_t n
    if PyUnicode_IS_ASCII(s):
        return True
    if PyUnicode_AsUTF8AndSize(s, &n) == NULL:  # lone surrogates: orjson refuses them
        PyErr_Clear()
        return False
    return True


cdef object _json_copy(object x, int depth):
    cdef type t = type(x)
    cdef Py_ssize_t i, n
    cdef dict copied
    cdef list items
    if t is str:
        return x if _utf8_ok(x) else _ABORT
    if x is None or t is bool:
        return x
    if t is int:
        # orjson writes any 64-bit int, signed or not; past that it raises
        return x if -9223372036854775808 <= x <= 18446744073709551615 else _ABORT
    if t is float:
        return x if isfinite(<double>x) else _ABORT  # orjson writes NaN and infinities as null
    if depth >= _MAX_DEPTH:
        return _ABORT
    if t is dict:
        copied = {}
        for key, value in (<dict>x).items():
            if type(key) is not str or not _utf8_ok(key):
                return _ABORT
            value = _json_copy(value, depth + 1)
            if value is _ABORT:
                return _ABORT
            copied[key] = value
        return copied
    if t is list or t is tuple:
        items = list(x)  # ours: a finalizer run by an allocation below cannot shrink it
        n = len(items)
        for i in range(n):
            value = _json_copy(items[i], depth + 1)
            if value is _ABORT:
                return _ABORT
            items[i] = value
        return items
    return _ABORT


def json_copy(object value, object round_trip):
    """orjson.loads(orjson.dumps(value)) without the bytes: dicts with str keys,
    lists, tuples (as lists), str, 64-bit ints, finite floats, bools and None are
    copied directly; anything else anywhere in `value` hands the whole of it to
    `round_trip`, which spells it (or raises) as orjson does."""
    copied = _json_copy(value, 0)
    return round_trip(value) if copied is _ABORT else copied


# -- the dedup filter -------------------------------------------------------------------

@cython.auto_pickle(False)
cdef class SeenFilter:
    """state.seen_filter's Bloom filter over processed event IDs, bit for bit: the
    same hash (Python's, per process), the same three probes (h + i * (h >> 29 | 1)),
    the same sizing. Its pure-Python twin is state.seen_filter.PySeenFilter."""

    cdef bytearray _array
    cdef unsigned char *_bits
    cdef unsigned long long _mask
    cdef Py_ssize_t _count, _capacity, _bits_per_key

    def __cinit__(self, *args, **kwargs):
        self._array = bytearray(1 << 13)  # a usable (empty) filter even if __init__ never runs
        self._bits = <unsigned char *>PyByteArray_AS_STRING(self._array)
        self._mask = (1 << 16) - 1
        self._bits_per_key = 10
        self._capacity = (1 << 16) // 10

    def __init__(self, expected=0, bits_per_key=10):
        expected = max(expected, 1)
        bits = max(1 << 16, 1 << (expected * bits_per_key - 1).bit_length())  # Python ints: no overflow
        self._bits_per_key = bits_per_key
        self._count = 0
        self._mask = bits - 1
        self._array = bytearray(bits >> 3)
        self._bits = <unsigned char *>PyByteArray_AS_STRING(self._array)
        self._capacity = bits // bits_per_key

    cdef bint _probe(self, object key, bint set_bits) except -1:
        # the three probes of double hashing, in unsigned 64-bit: the same bits as
        # Python's unbounded (h + i * (h >> 29 | 1)) & mask, since the mask is below 2**64
        cdef Py_hash_t h = hash(key)
        cdef unsigned long long start = <unsigned long long>h, step = <unsigned long long>((h >> 29) | 1), bit
        cdef unsigned char flag
        cdef int i
        for i in range(3):
            bit = (start + i * step) & self._mask
            flag = <unsigned char>(1 << (bit & 7))
            if set_bits:
                self._bits[bit >> 3] |= flag
            elif not self._bits[bit >> 3] & flag:
                return False
        return True

    def add(self, key):
        self._probe(key, True)
        self._count += 1

    def __contains__(self, key):
        return self._probe(key, False)

    @property
    def full(self):
        """Past its capacity the false-positive rate climbs: rebuild it bigger."""
        return self._count > self._capacity

    def __len__(self):
        return self._count

    def bits(self):
        """The filter's bits (for comparing with the twin)."""
        return bytes(self._array)

    def __reduce__(self):
        return (_seen_filter_from, (self._bits_per_key, self._count, self._capacity, self._mask, bytes(self._array)))


def _seen_filter_from(bits_per_key, count, capacity, mask, array):
    cdef SeenFilter f = SeenFilter.__new__(SeenFilter)
    f._bits_per_key, f._count, f._capacity, f._mask = bits_per_key, count, capacity, mask
    f._array = bytearray(array)
    f._bits = <unsigned char *>PyByteArray_AS_STRING(f._array)
    return f


def json_state(dict record not None, object reserved, object round_trip):
    """json_copy of the record's fields that are not in `reserved` (operators.context:
    the operator's state inside an engine record), without the filtered dict between."""
    cdef dict copied = {}
    for key, value in record.items():
        if key in reserved:
            continue
        if type(key) is not str or not _utf8_ok(key):
            copied = None
            break
        value = _json_copy(value, 1)
        if value is _ABORT:
            copied = None
            break
        copied[key] = value
    if copied is None:
        return round_trip({k: v for k, v in record.items() if k not in reserved})
    return copied


# -- Kafka's v2 record (eventyard.kafka.record_v2) ------------------------------------

cdef inline unsigned long long _zigzag(long long v) noexcept nogil:
    return (<unsigned long long>v << 1) ^ <unsigned long long>(v >> 63)


cdef inline Py_ssize_t _varint_size(long long v) noexcept nogil:
    cdef unsigned long long z = _zigzag(v)
    cdef Py_ssize_t n = 1
    while z >= 0x80:
        z >>= 7
        n += 1
    return n


cdef inline char *_put_varint(char *p, long long v) noexcept nogil:
    cdef unsigned long long z = _zigzag(v)
    while z >= 0x80:
        p[0] = <char>((z & 0x7F) | 0x80)
        p += 1
        z >>= 7
    p[0] = <char>z
    return p + 1


cdef inline Py_ssize_t _part_size(bytes b) noexcept:
    return 1 if b is None else _varint_size(PyBytes_GET_SIZE(b)) + PyBytes_GET_SIZE(b)


cdef inline char *_put_part(char *p, bytes b) noexcept:
    if b is None:
        return _put_varint(p, -1)
    return _put_bytes(_put_varint(p, PyBytes_GET_SIZE(b)), b)


cdef inline char *_put_raw(char *p, const char *data, Py_ssize_t n) noexcept:
    p = _put_varint(p, n)
    memcpy(p, data, n)
    return p + n


def record_v2(long long offset_delta, long long timestamp_delta, object key, object value, object headers):
    """One v2 record, length-prefixed, as kafka-python's DefaultRecordBatchBuilder
    appends it: attributes 0, zigzag varints, header names UTF-8."""
    cdef bytes k = None if key is None else _as_bytes(key)
    cdef bytes v = None if value is None else _as_bytes(value)
    cdef tuple pairs = headers if type(headers) is tuple else tuple(headers)
    cdef Py_ssize_t body, total, n = len(pairs), size
    cdef const char *name
    cdef bytes out
    cdef char *p
    # Two passes over the headers, sizes then bytes: a header name's UTF-8 is the
    # str's own cached copy, so no object is made per header (the values are bytes).
    body = 1 + _varint_size(timestamp_delta) + _varint_size(offset_delta) + _part_size(k) + _part_size(v)
    body += _varint_size(n)
    for name_obj, item in pairs:
        if PyUnicode_AsUTF8AndSize(<str?>name_obj, &size) == NULL:  # lone surrogates
            PyErr_Clear()
            name_obj.encode()  # raises what the pure twin raises
        body += _varint_size(size) + size + _part_size(None if item is None else _as_bytes(item))
    total = _varint_size(body) + body
    out = PyBytes_FromStringAndSize(NULL, total)
    p = PyBytes_AS_STRING(out)
    p = _put_varint(p, body)
    p[0] = 0
    p = _put_varint(p + 1, timestamp_delta)
    p = _put_varint(p, offset_delta)
    p = _put_part(p, k)
    p = _put_part(p, v)
    p = _put_varint(p, n)
    for name_obj, item in pairs:
        name = PyUnicode_AsUTF8AndSize(name_obj, &size)
        p = _put_raw(p, name, size)
        p = _put_part(p, None if item is None else _as_bytes(item))
    return out


include "_record_batch.pxi"
include "_transaction.pxi"
include "_murmur2.pxi"
include "_slot_init.pxi"
