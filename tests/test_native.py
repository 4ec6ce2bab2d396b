"""The compiled hot path returns exactly what its pure-Python twin returns.

Outputs are re-emitted after a crash and compared by ID downstream, so a compiled
function that differs by one byte would break exactly-once output: each function
of `eventyard.core._native` is checked against its twin over generated inputs.
"""

from __future__ import annotations

import enum
import fnmatch
import re
import sys
import uuid
from importlib.machinery import ExtensionFileLoader

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventyard.core import native, routing
from eventyard.core.source_first import pure_python_asked
from eventyard.core.records import OutRecord
from eventyard.kafka import record_v2
from eventyard.observe import tracing
from eventyard.operators import context, outputs
from eventyard.operators.api import RESERVED_FIELDS, Emit
from eventyard.state import outbox, seen_filter
from tests.conftest import REPO

try:
    from eventyard.core import _native  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - only where the build had no compiler or OpenSSL
    _native = None

PURE = pure_python_asked()
needs_compiled = pytest.mark.skipif(_native is None, reason="the compiled hot path was not built")

any_text = st.text(st.characters(blacklist_categories=()), max_size=40)  # surrogates included
utf8_text = st.text(max_size=40)
blobs = st.none() | st.binary(max_size=64)
headers = st.lists(st.tuples(utf8_text, blobs), max_size=4).map(tuple)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False) | utf8_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(utf8_text, inner, max_size=3), max_leaves=8)


def test_the_install_built_the_compiled_hot_path():
    # `make test` on a fresh machine must measure and ship the compiled path, not
    # silently fall back; EVENTYARD_PURE_PYTHON=1 is the fallback's own CI run.
    if PURE:
        assert native.compiled is None and native.hot_path() == "pure Python"
    else:
        assert native.compiled is not None and native.hot_path() == "compiled", (
            "the compiled hot path was not built: install gcc and OpenSSL's headers (Debian: libssl-dev) "
            "and reinstall (`pip install -e .`, or `rm .venv/.installed && make test`), or run the pure-Python "
            "path on purpose with EVENTYARD_PURE_PYTHON=1 (make test-pure)")


@needs_compiled
@given(name=utf8_text, start=st.integers(-5, 5), count=st.integers(0, 4))
def test_uuid5_ids_are_uuid5_of_name_and_index(name, start, count):
    expected = [str(uuid.uuid5(uuid.UUID(bytes=routing.NAMESPACE_BYTES), f"{name}#{i}"))
                for i in range(start, start + count)]
    assert _native.uuid5_ids(routing.NAMESPACE_BYTES, name, start, start + count) == expected
    assert routing._derived_event_ids(name, start, start + count) == expected


@needs_compiled
@given(domain=st.binary(max_size=20), text=any_text, chars=st.integers(1, 32))
def test_sha256_hex_id_matches_the_pure_python_digest(domain, text, chars):
    assert _native.sha256_hex_id(domain, text, chars) == tracing._py_hex_digest(domain, text, chars)


@needs_compiled
def test_sha256_hex_id_refuses_a_length_no_digest_has():
    with pytest.raises(ValueError):
        _native.sha256_hex_id(b"", "x", 33)


@needs_compiled
@given(created=st.integers(-2**63, 2**63 - 1), topic=utf8_text, key=blobs, value=blobs, headers=headers,
       timestamp=st.none() | st.integers(-2**63, 2**63 - 1))
def test_outbox_entries_are_byte_identical(created, topic, key, value, headers, timestamp):
    record = OutRecord(topic, key, value, headers, timestamp)
    framed: dict[str, bytes] = {}
    expected = outbox._py_encode_entry(created, record)
    assert _native.encode_outbox_entry(framed, outbox._text, created, record) == expected


@needs_compiled
@given(offset=st.integers(0, 2**31 - 1), delta=st.integers(-2**62, 2**62), key=blobs, value=blobs, headers=headers)
def test_kafka_records_are_byte_identical(offset, delta, key, value, headers):
    expected = record_v2.encode_record_py(offset, delta, key, value, headers)
    assert _native.record_v2(offset, delta, key, value, headers) == expected


def _pure_envelope_records(cause_id, emits, topics, common, record_key, parent, trace_id):
    # The twin with every piece pure: routing's and tracing's functions may be compiled too.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(outputs, "derived_event_ids", routing._derived_event_ids)
        patch.setattr(tracing, "_hex_digest", tracing._py_hex_digest)
        return outputs._envelope_records(cause_id, emits, topics, common, record_key,
                                         tracing.ChildHeaders(parent, trace_id))


def _compiled_envelope_records(cause_id, emits, topics, common, record_key, parent, trace_id):
    head, tail, state = tracing.ChildHeaders(parent, trace_id).parts()
    return _native.envelope_records(routing.NAMESPACE_BYTES, cause_id, emits, topics, common, record_key,
                                    tracing.SPAN_DOMAIN, tracing.TRACEPARENT, head, tail, state, OutRecord,
                                    orjson.dumps)


@needs_compiled
@given(emits=st.lists(st.builds(Emit, utf8_text, utf8_text, st.dictionaries(utf8_text, json_values, max_size=4)),
                      max_size=4),
       cause_id=utf8_text, key=utf8_text, traced=st.booleans(), tracestate=st.none() | st.just("vendor=1"),
       hops=st.integers(0, 100))
def test_envelope_records_are_the_pure_python_records(emits, cause_id, key, traced, tracestate, hops):
    parent = tracing.TraceParent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1, tracestate) \
        if traced else None
    trace_id = tracing.trace_id_of(parent, None, cause_id or "x")
    common = {"aggregate_id": key, "occurred_at": "2026-12-06T17:00:00+00:00", "producer": "p", "schema_version": 1,
              "trace_id": None, "causation_id": cause_id, "correlation_id": None, "hops": hops}
    topics = [f"topic-{i}" for i in range(len(emits))]
    args = (cause_id, emits, topics, common, key.encode(), parent, trace_id)
    try:
        expected = _pure_envelope_records(*args)
    except orjson.JSONEncodeError:
        return  # a payload orjson refuses (e.g. an int past 64 bits) fails both ways; not this test's concern
    assert _compiled_envelope_records(*args) == expected


class _Kind(enum.StrEnum):
    PLACED = "order.placed"


class _Name(str):
    pass


@needs_compiled
def test_str_subclasses_are_taken_as_the_pure_path_takes_them():
    # An emit type from a StrEnum is a str to the handler's author, and to both paths.
    args = ("c-1", [Emit("out", _Kind.PLACED, {"a": 1})], ["orders"], {"hops": 1}, b"k", None, "t" * 32)
    assert _compiled_envelope_records(*args) == _pure_envelope_records(*args)
    assert _native.sha256_hex_id(b"d:", _Name("x"), 16) == tracing._py_hex_digest(b"d:", _Name("x"), 16)
    assert _native.uuid5_ids(routing.NAMESPACE_BYTES, _Name("c"), 0, 2) == routing._derived_event_ids("c", 0, 2)


@needs_compiled
@pytest.mark.parametrize("bad", [
    OutRecord("t", 3, None),  # type: ignore[arg-type]
    OutRecord("t", [1, 2], None),  # type: ignore[arg-type]
    OutRecord("t", None, None, (("h", 7),)),  # type: ignore[arg-type]
    OutRecord("t", None, None, (x for x in ())),  # type: ignore[arg-type]
    OutRecord("t", None, None, (), 1.5),  # type: ignore[arg-type]
])
def test_an_outbox_entry_of_what_is_not_bytes_fails_both_ways(bad):
    with pytest.raises(Exception):
        outbox._py_encode_entry(1, bad)
    with pytest.raises((TypeError, ValueError, OverflowError)):
        _native.encode_outbox_entry({}, outbox._text, 1, bad)


@needs_compiled
def test_a_bytearray_blob_is_stored_as_its_bytes_both_ways():
    record = OutRecord("t", bytearray(b"key"), b"v", (("h", bytearray(b"x")),))  # type: ignore[arg-type]
    assert _native.encode_outbox_entry({}, outbox._text, 1, record) == outbox._py_encode_entry(1, record)


class _Level(enum.IntEnum):
    HIGH = 3


def _typed(value):
    """value with every node's exact type: True vs 1, a tuple vs a list, a str subclass."""
    if isinstance(value, dict):
        return ("dict", type(value).__name__, [(_typed(k), _typed(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_typed(v) for v in value])
    return (type(value).__name__, repr(value))


json_ish = st.recursive(
    st.none() | st.booleans() | st.integers(-2**65, 2**65) | st.floats() | utf8_text | any_text
    | st.builds(_Name, utf8_text) | st.just(_Level.HIGH),
    lambda inner: (st.lists(inner, max_size=3) | st.lists(inner, max_size=3).map(tuple)
                   | st.dictionaries(utf8_text | any_text | st.builds(_Name, utf8_text), inner, max_size=3)
                   | st.dictionaries(st.integers(0, 3), inner, min_size=1, max_size=2)),
    max_leaves=12)


def _outcome(fn, value):
    try:
        return "value", _typed(fn(value))
    except Exception as exc:  # the same refusal, whatever its message
        return "raised", type(exc).__name__


@needs_compiled
@given(value=json_ish)
def test_json_copy_is_the_orjson_round_trip(value):
    # A handler's private copy of its state: the same values, types and refusals as
    # encoding and decoding it (tuples become lists, NaN None, big ints and int keys refused).
    round_trip = context._round_trip
    assert _outcome(lambda v: _native.json_copy(v, round_trip), value) == _outcome(round_trip, value)


@needs_compiled
def test_json_copy_shares_nothing_mutable_and_follows_orjson_past_its_depth():
    state = {"items": [{"sku": "a"}], "seen": ("x",)}
    copied = _native.json_copy(state, context._round_trip)
    copied["items"][0]["sku"] = "b"
    assert state == {"items": [{"sku": "a"}], "seen": ("x",)} and copied["seen"] == ["x"]
    deep: list = []
    for _ in range(300):
        deep = [deep]
    with pytest.raises(orjson.JSONEncodeError):
        context._round_trip(deep)
    with pytest.raises(orjson.JSONEncodeError):
        _native.json_copy(deep, context._round_trip)


@needs_compiled
@given(expected=st.integers(0, 20_000), added=st.lists(utf8_text, max_size=60), probes=st.lists(utf8_text, max_size=30),
       bits_per_key=st.integers(1, 16))
def test_the_compiled_seen_filter_sets_the_same_bits_as_its_twin(expected, added, probes, bits_per_key):
    # The dedup filter answers "certainly new" from these bits: the same bits, the same answers.
    compiled, pure = _native.SeenFilter(expected, bits_per_key), seen_filter.PySeenFilter(expected, bits_per_key)
    for key in added:
        compiled.add(key)
        pure.add(key)
    assert compiled.bits() == pure.bits()
    assert (len(compiled), compiled.full) == (len(pure), pure.full)
    assert [key in compiled for key in probes + added] == [key in pure for key in probes + added]
    assert all(key in compiled for key in added)


@needs_compiled
@given(state=st.dictionaries(utf8_text | st.sampled_from(["version", "timers", "has_state"]), json_ish, max_size=5),
       has_state=st.booleans())
def test_the_state_copy_skips_the_engine_fields_and_is_the_round_trip(state, has_state):
    record = {**state, "has_state": has_state, "version": 3, "timers": {}}
    pure = {k: v for k, v in record.items() if k not in RESERVED_FIELDS}
    assert _outcome(lambda r: _native.json_state(r, RESERVED_FIELDS, context._round_trip), record) == \
        _outcome(context._round_trip, pure)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(context, "compiled", None)  # and the engine's own pure path agrees
        expected = _outcome(context.private_state, record)
    assert expected == (("value", _typed(None)) if not has_state else _outcome(context._round_trip, pure))


@needs_compiled
@pytest.mark.parametrize("common", [{}, {"hops": 1}, {"a": "\u00e9\"\\", "b": None}])
def test_an_envelope_is_the_json_of_its_dict_whatever_the_shared_fields(common):
    args = ("c-1", [Emit("out", "Kind\"\n", {"k": [1, {"x": "\u2028"}]})], ["t"], common, b"k", None, "t" * 32)
    (record,) = _compiled_envelope_records(*args)
    assert _pure_envelope_records(*args) == [record]
    event_id = routing._derived_event_ids("c-1", 0, 1)[0]
    assert record.value == orjson.dumps({"event_id": event_id, "type": "Kind\"\n", **common,
                                         "payload": {"k": [1, {"x": "\u2028"}]}})


@needs_compiled
def test_json_copy_refuses_a_lone_surrogate_as_orjson_does():
    # A str orjson cannot encode as UTF-8, as a value or a key: the copy refuses it too.
    for value in ({"a": "\ud800"}, {"\ud83d": 1}, ["x", ("\udfff",)]):
        assert _outcome(lambda v: _native.json_copy(v, context._round_trip), value) == \
            _outcome(context._round_trip, value) == ("raised", "TypeError")


@pytest.mark.parametrize("depth", [251, 252, 253])
def test_an_envelope_refuses_a_payload_exactly_as_deep_as_orjson_refuses_it(depth):
    # Encoded on its own, a payload had one level more to go than inside the envelope.
    payload: object = []
    for _ in range(depth):
        payload = [payload]
    emits = [Emit("out", "T", {"x": payload})]
    args = ("c-1", emits, ["t"], {"hops": 1}, b"k", None, "t" * 32)
    whole = _outcome(lambda e: orjson.dumps({"event_id": "i", "type": "T", "hops": 1, "payload": e[0].payload}),
                     emits)
    pure = _outcome(lambda a: _pure_envelope_records(*a), args)
    assert (pure[0], whole[0]) in {("value", "value"), ("raised", "raised")}
    if _native is not None:
        assert _outcome(lambda a: _compiled_envelope_records(*a), args)[0] == pure[0]


@needs_compiled
def test_a_seen_filter_survives_copy_and_pickle_and_a_bare_new():
    import copy
    import pickle

    seen = _native.SeenFilter(1000)
    seen.add("e-1")
    for clone in (copy.copy(seen), copy.deepcopy(seen), pickle.loads(pickle.dumps(seen))):
        assert "e-1" in clone and clone.bits() == seen.bits() and len(clone) == 1
        clone.add("e-2")
        assert "e-2" in clone
    bare = _native.SeenFilter.__new__(_native.SeenFilter)  # no __init__: still a usable empty filter
    bare.add("x")
    assert "x" in bare


@needs_compiled
@pytest.mark.parametrize("expected, bits_per_key", [(2**61, 8), (-2**63 - 1, 10), (0, 10)])
def test_a_seen_filter_is_sized_as_its_twin_or_refused(expected, bits_per_key):
    def size(cls):
        try:
            return len(cls(expected, bits_per_key).bits())
        except (MemoryError, OverflowError) as exc:
            return type(exc).__name__
    compiled, pure = size(_native.SeenFilter), size(seen_filter.PySeenFilter)
    assert compiled == pure or {compiled, pure} <= {"MemoryError", "OverflowError"}


def test_the_sdist_ships_every_file_the_compiled_hot_path_includes():
    # A wheel built from the sdist compiles _native.pyx; a missing include would fail
    # that build, and the optional extension would fall back to pure Python silently.
    source = (REPO / "eventyard" / "core" / "_native.pyx").read_text()
    included = re.findall(r'^include "([^"]+)"', source, re.MULTILINE)
    assert included, "no include found: is this still how _native.pyx is split?"
    shipped = [line.split()[1] for line in (REPO / "MANIFEST.in").read_text().splitlines()
               if line.startswith("include ")]
    for name in included:
        assert any(fnmatch.fnmatch(f"eventyard/core/{name}", pattern) for pattern in shipped), name


# -- the engine's modules, compiled from their own source (setup.py) -------------------
ENGINE_MODULES = ("engine", "task", "workflow_operator", "context", "merge", "decode")


def _running_compiled() -> set[str]:
    """Eventyard's modules imported so far that run as an extension, not from source."""
    return {name for name, module in list(sys.modules.items())
            if name.startswith("eventyard.") and isinstance(getattr(module, "__loader__", None), ExtensionFileLoader)}


def test_the_engine_modules_run_compiled_unless_pure_python_is_asked():
    import eventyard.operators.engine  # noqa: F401 - imports the rest of the engine
    import eventyard.operators.task  # noqa: F401

    running = _running_compiled()
    engine = {f"eventyard.operators.{name}" for name in ENGINE_MODULES}
    if PURE:
        assert not running & engine
        assert native.hot_path() == "pure Python"
    elif _native is not None:  # the build had a compiler: it must have compiled them too
        assert engine <= running, sorted(engine - running)
        assert native.hot_path() == "compiled"


def test_hot_path_names_the_part_that_is_not_compiled(monkeypatch):
    # Whichever part runs compiled here, pretend the other one does not (or does).
    import eventyard.operators.engine  # noqa: F401

    if "eventyard.operators.engine" in _running_compiled():
        monkeypatch.setattr(native, "compiled", None)
        assert native.hot_path() == "partly compiled (eventyard.core._native is not loaded)"
    else:
        monkeypatch.setattr(native, "compiled", object())
        assert native.hot_path() == "partly compiled (the engine's modules run from source)"
