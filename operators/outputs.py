"""The records a handler's emits become: envelope, derived ID, headers, trace context."""

from __future__ import annotations

import orjson

from eventyard.core.envelope import Envelope, iso_utc
from eventyard.core.records import OutRecord, SourceMessage
from eventyard.core.native import compiled
from eventyard.core.routing import NAMESPACE_BYTES, derived_event_ids
from eventyard.observe import tracing
from eventyard.operators.api import Emit
from eventyard.state import TimerEntry

__all__ = ["output_records", "check_outputs", "timer_source"]


def check_outputs(emits: list[Emit], outputs: dict[str, str], step: str) -> list[str]:
    """The topic of each emit; an output name the pipeline does not have is an error."""
    topics = []
    for emit in emits:  # a loop, not a comprehension (a function call in 3.11): every cause runs it
        topic = outputs.get(emit.output)
        if topic is None:
            raise KeyError(f"{step} emitted to unknown output {emit.output!r}; outputs: {sorted(outputs)}")
        topics.append(topic)
    return topics


def output_records(emits: list[Emit], topics: list[str], *, pipeline: str, key: str, cause_id: str,
                   cause: Envelope | None, correlation_id: str | None, now_ms: int,
                   parent: tracing.TraceParent | None = None) -> list[OutRecord]:
    """Output `index` of `cause_id` is named `derived_event_id(cause_id, index)`, so a
    re-run emits the same bytes under the same ID."""
    trace_id = cause.trace_id if cause and cause.trace_id else correlation_id
    # W3C trace context: same trace as the input (resolved once per cause), a
    # span named by each output's ID, so a re-emitted record has identical headers.
    w3c_trace = tracing.trace_id_of(parent, trace_id, correlation_id or cause_id)
    causation_id, hops = (cause.event_id, cause.hops + 1) if cause else (cause_id, 1)
    # every envelope of this cause: these fields between event_id/type and payload (never one
    # of those three: the envelope is written from its parts, and a repeated key would repeat)
    common = {"aggregate_id": key, "occurred_at": iso_utc(now_ms), "producer": pipeline, "schema_version": 1,
              "trace_id": trace_id, "causation_id": causation_id, "correlation_id": correlation_id, "hops": hops}
    trace_headers = tracing.ChildHeaders(parent, w3c_trace)
    if compiled is not None:
        head, tail, state = trace_headers.parts()
        return compiled.envelope_records(NAMESPACE_BYTES, cause_id, emits, topics, common, key.encode(),
                                         tracing.SPAN_DOMAIN, tracing.TRACEPARENT, head, tail, state,
                                         OutRecord, orjson.dumps)
    return _envelope_records(cause_id, emits, topics, common, key.encode(), trace_headers)


def _envelope_records(cause_id: str, emits: list[Emit], topics: list[str], common: dict[str, object],
                      record_key: bytes, trace_headers: tracing.ChildHeaders) -> list[OutRecord]:
    # the pure-Python twin of eventyard.core._native.envelope_records
    # The envelope is {"event_id", "type", **common, "payload"}, written from its parts
    # as orjson writes that dict (no spaces, keys in order): the fields every output
    # of this cause shares are encoded once.
    middle = orjson.dumps(common)[1:-1]
    records: list[OutRecord] = []
    for emit, topic, event_id in zip(emits, topics, derived_event_ids(cause_id, 0, len(emits))):
        # The payload encoded one level down, in a one-item array, then unwrapped:
        # orjson's depth limit then refuses exactly what it refuses inside the envelope.
        payload = orjson.dumps((emit.payload,))[1:-1]
        value = b"".join((b'{"event_id":"', event_id.encode(), b'","type":', orjson.dumps(emit.type),
                          b"," + middle if middle else b"", b',"payload":', payload, b"}"))
        headers = (("eventyard.event_id", event_id.encode()), ("eventyard.type", emit.type.encode()))
        records.append(OutRecord(topic, record_key, value, headers + trace_headers(event_id)))
    return records


def timer_source(timer: TimerEntry) -> SourceMessage:
    """What a failed timer's dead letter carries: a timer has no input bytes, so the
    record describes the timer instead."""
    value = orjson.dumps({"timer": timer.name, "aggregate_id": timer.aggregate_id, "due_ms": timer.due_ms})
    return SourceMessage("<timer>", -1, -1, timer.aggregate_id.encode(), value, (), timer.due_ms)
