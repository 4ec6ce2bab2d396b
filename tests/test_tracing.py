"""W3C Trace Context helpers: parsing, deterministic ids, outgoing headers."""

import re

import pytest

from eventyard.observe.tracing import (SAMPLED, TraceParent, extract, output_headers, parse_traceparent,
                               span_id_for, trace_id_for, trace_id_of)

# The example of the W3C recommendation.
EXAMPLE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACEPARENT = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


def test_parses_the_spec_example():
    parent = parse_traceparent(EXAMPLE.encode())
    assert parent == TraceParent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", SAMPLED)
    assert parent.sampled
    assert parse_traceparent(EXAMPLE.replace("-01", "-00")).sampled is False


def test_round_trip():
    parent = parse_traceparent(EXAMPLE)
    assert parent is not None
    assert parent.header_value() == EXAMPLE.encode()
    assert parse_traceparent(parent.header_value()) == parent


@pytest.mark.parametrize("value", [
    b"",
    b"garbage",
    EXAMPLE.upper().encode(),                                           # hex must be lowercase
    EXAMPLE.replace("4bf92f3577b34da6a3ce929d0e0e4736", "0" * 32).encode(),  # all-zero trace-id
    EXAMPLE.replace("00f067aa0ba902b7", "0" * 16).encode(),             # all-zero parent-id
    ("ff" + EXAMPLE[2:]).encode(),                                      # version ff is forbidden
    (EXAMPLE + "-extra").encode(),                                      # version 00 is exactly 55 chars
    EXAMPLE[:-1].encode(),                                              # short
    EXAMPLE.replace("-", "_").encode(),
    b"\xff\xfe" + EXAMPLE.encode()[2:],                                 # not ASCII
])
def test_malformed_traceparents_are_ignored(value):
    assert parse_traceparent(value) is None
    assert extract([("traceparent", value)]) is None


def test_a_later_version_is_read_by_its_version_00_fields():
    parent = parse_traceparent("01" + EXAMPLE[2:] + "-what-comes-later")
    assert parent == parse_traceparent(EXAMPLE)
    assert parse_traceparent("01" + EXAMPLE[2:] + "x") is None


def test_all_zero_ids_cannot_be_built():
    with pytest.raises(ValueError):
        TraceParent("0" * 32, "00f067aa0ba902b7")
    with pytest.raises(ValueError):
        TraceParent("4bf92f3577b34da6a3ce929d0e0e4736", "0" * 16)


def test_extract_from_kafka_headers_with_tracestate():
    headers = (("origin", b"shop"), ("Traceparent", EXAMPLE.encode()), ("tracestate", b"congo=t61rcWkgMzE"),
               ("tracestate", b"rojo=00f067aa0ba902b7"))
    parent = extract(headers)
    assert parent is not None
    assert parent.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert parent.tracestate == "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"


def test_extract_without_or_with_conflicting_traceparents():
    assert extract(()) is None
    assert extract([("tracestate", b"congo=t61rcWkgMzE")]) is None
    other = EXAMPLE.replace("00f067aa0ba902b7", "00f067aa0ba902b8")
    assert extract([("traceparent", EXAMPLE.encode()), ("traceparent", other.encode())]) is None
    # the same value twice is not ambiguous
    assert extract([("traceparent", EXAMPLE.encode())] * 2) == parse_traceparent(EXAMPLE)


def test_unreadable_tracestate_is_dropped_but_the_parent_kept():
    parent = extract([("traceparent", EXAMPLE.encode()), ("tracestate", b"\xff")])
    assert parent == parse_traceparent(EXAMPLE) and parent.tracestate is None


def test_trace_id_for_keeps_a_w3c_trace_id():
    assert trace_id_for("4bf92f3577b34da6a3ce929d0e0e4736") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert trace_id_for("4BF92F3577B34DA6A3CE929D0E0E4736") == "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize("text", ["trace-o-17", "", "0" * 32, "4bf92f3577b34da6a3ce929d0e0e473", "ü-\udcff"])
def test_trace_id_for_hashes_anything_else_to_a_valid_stable_id(text):
    derived = trace_id_for(text)
    assert re.fullmatch(r"[0-9a-f]{32}", derived) and derived != "0" * 32
    assert derived == trace_id_for(text)
    assert derived != text


def test_trace_id_for_is_the_same_in_every_process():
    # A fixed value (sha256 of "eventyard.trace:trace-o-17", by sha256sum): other machines and runs agree.
    assert trace_id_for("trace-o-17") == "a1e61c9c7652ccb37a018f6f0773101e"


def test_span_ids_are_deterministic_valid_and_distinct():
    ids = {span_id_for(f"o-{n}-placed/{i}") for n in range(500) for i in range(2)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{16}", s) and s != "0" * 16 for s in ids)
    assert span_id_for("o-1-placed/0") == span_id_for("o-1-placed/0")


def test_output_headers_continue_the_input_trace():
    parent = extract([("traceparent", EXAMPLE.encode()), ("tracestate", b"congo=t61rcWkgMzE")])
    headers = output_headers(parent, "trace-ignored", "o-1", "o-1-placed/0")
    assert headers == (
        ("traceparent", f"00-4bf92f3577b34da6a3ce929d0e0e4736-{span_id_for('o-1-placed/0')}-01".encode()),
        ("tracestate", b"congo=t61rcWkgMzE"),
    )
    # a crash and a replay emit the same bytes
    assert output_headers(parent, "trace-ignored", "o-1", "o-1-placed/0") == headers


def test_output_headers_keep_an_unsampled_input_unsampled():
    parent = parse_traceparent(EXAMPLE[:-2] + "00")
    (_, value), = output_headers(parent, None, "o-1", "o-1-placed/0")
    assert value.endswith(b"-00")


def test_output_headers_without_input_context_use_the_envelope_trace_id():
    (name, value), = output_headers(None, "trace-o-17", "o-17", "o-17-placed/0")
    assert name == "traceparent" and TRACEPARENT.fullmatch(value.decode())
    child = parse_traceparent(value)
    assert child == TraceParent(trace_id_for("trace-o-17"), span_id_for("o-17-placed/0"), SAMPLED)
    # no envelope trace_id (timer outputs): the fallback id names the trace
    (_, value), = output_headers(None, None, "o-17", "timer/o-17/payment/3/0")
    assert parse_traceparent(value).trace_id == trace_id_for("o-17")


def test_output_round_trips_through_extract():
    headers = output_headers(None, "4bf92f3577b34da6a3ce929d0e0e4736", "o-1", "o-1-placed/0")
    parent = extract(headers)
    assert parent is not None and parent.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert parent.parent_id == span_id_for("o-1-placed/0")


def test_trace_id_of_an_input_prefers_the_header_then_the_envelope_then_the_fallback():
    parent = parse_traceparent(EXAMPLE)
    assert trace_id_of(parent, "trace-o-17", "o-17") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert trace_id_of(None, "trace-o-17", "o-17") == trace_id_for("trace-o-17")
    assert trace_id_of(None, None, "o-17") == trace_id_for("o-17")
