# Included by _native.pyx: the compiled twin of eventyard.state.transaction.TaskTransaction.
#
# Same methods, same WriteBatch, byte for byte (tests/state/test_transaction.py runs
# both over generated operations); what it saves is the interpreter's work between
# the dict and RocksDB calls, and the store keys are built in one C buffer each.
# The state layer hands in what it knows (rocksdict's WriteBatch, the outbox entry
# encoder, the watermark key, orjson.dumps), so this module imports none of it.

cdef object _TXN_DELETED = object()


cdef const char *_utf8(object text, Py_ssize_t *size) except NULL:
    """The str's UTF-8 (its own cached copy); raises what str.encode() raises."""
    cdef const char *raw = PyUnicode_AsUTF8AndSize(<str?>text, size)
    if raw == NULL:  # lone surrogates
        PyErr_Clear()
        text.encode()
    return raw


cdef bytes _tagged(char tag, long long number, int width, object text, object suffix):
    """A store key as state/keys.py lays them out (its tags and widths are spelled here
    again; tests/state/test_transaction.py compares the stores both paths write):
    tag, the number zero-padded to `width` digits
    (none for width 0), the text as UTF-8, and NUL + suffix if there is one."""
    cdef char num[32]
    cdef Py_ssize_t tlen = 0, slen = 0, size
    cdef const char *t = NULL
    cdef const char *s = NULL
    cdef int n = 0
    if width > 0:
        n = snprintf(num, sizeof(num), "%0*lld", width, number)
    if text is not None:
        t = _utf8(text, &tlen)
    if suffix is not None:
        s = _utf8(suffix, &slen)
    size = 1 + n + tlen + (1 + slen if suffix is not None else 0)
    out = PyBytes_FromStringAndSize(NULL, size)
    cdef char *p = PyBytes_AS_STRING(out)
    p[0] = tag
    memcpy(p + 1, num, n)
    if tlen:
        memcpy(p + 1 + n, t, tlen)
    if suffix is not None:
        p[1 + n + tlen] = 0
        if slen:
            memcpy(p + 2 + n + tlen, s, slen)
    return out


cdef class TaskTransaction:
    """eventyard.state.transaction.TaskTransaction, compiled: see it for what each method does."""
    cdef object _store
    cdef bint _grouped
    cdef dict _writes
    cdef list _outbox
    cdef dict _instances
    cdef dict _watermarks
    cdef list _seen
    cdef public object min_timer_due
    cdef object _batch_cls, _encode_entry, _outbox_value, _watermark_key, _dumps

    def __init__(self, batch_cls, encode_entry, outbox_value, watermark_key, dumps, store, bint grouped=False):
        # the first five: bound by the state layer (eventyard.state.transaction.new_transaction)
        self._batch_cls, self._encode_entry, self._outbox_value = batch_cls, encode_entry, outbox_value
        self._watermark_key, self._dumps = watermark_key, dumps
        self._store = store
        self._grouped = grouped
        self._writes = {}
        self._outbox = []
        self._instances = {}
        self._watermarks = {}
        self._seen = []
        self.min_timer_due = None

    cdef object _get(self, bytes key):
        value = self._writes.get(key)
        if value is _TXN_DELETED:
            return None
        return value if value is not None else self._store.get(key)

    def get_instance(self, aggregate_id):
        if aggregate_id in self._instances:
            return self._instances[aggregate_id]
        return self._store.cached_instance(aggregate_id)

    def put_instance(self, aggregate_id, instance):
        self._instances[aggregate_id] = instance

    def delete_instance(self, aggregate_id):
        self._instances[aggregate_id] = None

    def set_timer(self, long long due_ms, aggregate_id, name):
        self._writes[_tagged(b"t", due_ms, 16, aggregate_id, name)] = b""
        if self.min_timer_due is None or due_ms < self.min_timer_due:
            self.min_timer_due = due_ms

    def cancel_timer(self, long long due_ms, aggregate_id, name):
        self._writes[_tagged(b"t", due_ms, 16, aggregate_id, name)] = _TXN_DELETED

    def watermark(self, topic, partition):
        key = self._watermark_key(topic, partition)
        offset = self._watermarks.get(key)
        return self._store.watermark_at(key) if offset is None else offset

    def set_watermark(self, topic, partition, offset):
        self._watermarks[self._watermark_key(topic, partition)] = offset

    def seen(self, event_id):
        key = _tagged(b"d", 0, 0, event_id, None)
        if key in self._writes:
            return self._writes[key] is not _TXN_DELETED
        return self._store.maybe_seen(event_id) and self._store.get(key) is not None

    def mark_seen(self, event_id, long long now_ms):
        self._writes[_tagged(b"d", 0, 0, event_id, None)] = b"%d" % now_ms
        self._writes[_tagged(b"e", now_ms, 16, event_id, None)] = b""
        self._seen.append(event_id)

    def unmark_seen(self, event_id):
        key = _tagged(b"d", 0, 0, event_id, None)
        raw = self._get(key)
        if raw is None:
            return
        self._writes[key] = _TXN_DELETED
        self._writes[_tagged(b"e", int(raw), 16, event_id, None)] = _TXN_DELETED

    def append_outbox(self, record, now_ms):
        self._outbox.append(self._encode_entry(now_ms, record))

    def commit(self):
        if not self._grouped:
            self.flush()

    def flush(self):
        if not self._writes and not self._outbox and not self._instances and not self._watermarks:
            return
        batch = self._batch_cls(raw_mode=True)
        put, delete, dumps = batch.put, batch.delete, self._dumps
        for aggregate_id, instance in self._instances.items():
            if instance is None:
                delete(_tagged(b"i", 0, 0, aggregate_id, None))
            else:
                put(_tagged(b"i", 0, 0, aggregate_id, None), dumps(instance))
        for key, offset in self._watermarks.items():
            put(key, b"%d" % offset)
        for key, value in self._writes.items():
            if value is _TXN_DELETED:
                delete(key)
            else:
                put(key, value)
        store = self._store
        cdef long long seq = store.next_outbox_seq
        if self._outbox:
            put(_tagged(b"o", seq, 20, None, None), self._outbox_value(self._outbox), store.outbox_family)
            seq += len(self._outbox)
        store.write(batch)
        store.next_outbox_seq = seq
        store.committed(self._instances, self._watermarks, self._seen)
        self._writes.clear()
        self._outbox.clear()
        self._instances = {}
        self._watermarks = {}
        self._seen = []
        self.min_timer_due = None

    def discard(self):
        self._writes.clear()
        self._outbox.clear()
        self._instances = {}
        self._watermarks = {}
        self._seen = []
        self._store.forget_cached()
