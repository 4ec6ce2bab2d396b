"""The engine's own decisions, published so a replay can repeat them exactly.

Replay applies input events in timestamp-merge order. Two things the live engine
did cannot be derived from the inputs, so it publishes them to the pipeline's
decisions topic (through the outbox, like every output):

- `TimerFired`: timer T of aggregate A fired when A was at version V.
- `AppliedOutOfOrder`: event E was applied after event P of the same aggregate
  although E sorts before P by (timestamp, topic, partition, offset). Races
  between topics are rare, so this record is rare too.
"""

from __future__ import annotations

from typing import Any

import orjson

from eventyard.core.envelope import iso_utc
from eventyard.core.records import OutRecord, SourceMessage
from eventyard.core.routing import derived_event_id

__all__ = ["merge_key", "MergeKey", "timer_fired", "applied_out_of_order", "TIMER_FIRED", "OUT_OF_ORDER"]

TIMER_FIRED = "TimerFired"
OUT_OF_ORDER = "AppliedOutOfOrder"
MergeKey = tuple[int, str, int, int]


def merge_key(msg: SourceMessage) -> MergeKey:
    """Replay's total order over all input records."""
    return (msg.timestamp_ms, msg.topic, msg.partition, msg.offset)


def _record(topic: str, pipeline: str, kind: str, aggregate_id: str, cause_id: str,
            at_ms: int, payload: dict[str, Any]) -> OutRecord:
    event_id = derived_event_id(cause_id, -1)  # -1: never collides with a handler output
    envelope = {
        "event_id": event_id, "type": kind, "aggregate_id": aggregate_id,
        "occurred_at": iso_utc(at_ms),
        "producer": pipeline, "schema_version": 1, "causation_id": cause_id, "hops": 0,
        "payload": payload,
    }
    return OutRecord(topic, aggregate_id.encode(), orjson.dumps(envelope),
                     (("eventyard.event_id", event_id.encode()), ("eventyard.type", kind.encode())))


def timer_fired(topic: str, pipeline: str, aggregate_id: str, timer: str, due_ms: int,
                armed_version: int, at_version: int, cause_id: str) -> OutRecord:
    return _record(topic, pipeline, TIMER_FIRED, aggregate_id, cause_id, due_ms, {
        "timer": timer, "due_ms": due_ms, "armed_version": armed_version, "at_version": at_version,
    })


def applied_out_of_order(topic: str, pipeline: str, aggregate_id: str, event: SourceMessage,
                         after: list[Any], scope: str = "") -> OutRecord:
    """`after` is [topic, partition, offset] of the event the operator (`scope`;
    "" for the workflow) applied just before."""
    # Named by the record's position (and operator): a duplicate shares the original's event_id.
    position = f"order/{scope + '/' if scope else ''}{event.topic}/{event.partition}/{event.offset}"
    payload: dict[str, Any] = {"event": [event.topic, event.partition, event.offset], "after": after}
    if scope:
        payload["scope"] = scope
    return _record(topic, pipeline, OUT_OF_ORDER, aggregate_id, position, event.timestamp_ms, payload)
