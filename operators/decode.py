"""Decode and validate raw messages; anything bad becomes a DeadLetterRecord.

Runs in the task before any operator, so bad input never reaches workflow state.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from pydantic import ValidationError

from eventyard.observe import metrics
from eventyard.core.catalog import EventCatalog, Payload
from eventyard.core.deadletter import DeadLetterRecord, Reason
from eventyard.core.envelope import Envelope
from eventyard.core.records import SourceMessage
from eventyard.state.keys import SCOPE_SEP

__all__ = ["Inbound", "Decoder", "STEP"]

STEP = "decode"


@dataclass(frozen=True, slots=True)
class Inbound:
    """A valid event on its way to the operators."""

    message: SourceMessage
    envelope: Envelope
    payload: Payload



def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    head = errors[0]
    where = ".".join(str(p) for p in head["loc"]) or "<root>"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {head['msg']}{more}"


class Decoder:
    """SourceMessage -> Inbound | DeadLetterRecord."""

    def __init__(self, pipeline: str, catalog: EventCatalog, max_event_bytes: int, max_hops: int,
                 rekeyed_topics: frozenset[str] = frozenset()) -> None:
        self.pipeline = pipeline
        self.inputs = catalog.inputs()
        # Repartition topics: records keyed by an operator's key, not the aggregate.
        self.rekeyed_topics = rekeyed_topics
        self.max_event_bytes = max_event_bytes
        self.max_hops = max_hops

    def _dead(self, msg: SourceMessage, reason: Reason, text: str,
              exc: BaseException | None = None) -> DeadLetterRecord:
        metrics.DEAD_LETTERS.labels(self.pipeline, reason.value).inc()
        record = DeadLetterRecord(
            reason=reason,
            message=text,
            pipeline=self.pipeline,
            step=STEP,
            source=msg,
            error_class=type(exc).__name__ if exc else "",
        )
        return record

    def _not_json(self, msg: SourceMessage, value: bytes, text: str, exc: ValidationError) -> DeadLetterRecord:
        # Rare path: orjson says precisely what is wrong (e.g. "str is not valid UTF-8").
        try:
            orjson.loads(value)
        except orjson.JSONDecodeError as precise:
            return self._dead(msg, Reason.INVALID_JSON, f"value is not JSON: {precise}", precise)
        return self._dead(msg, Reason.INVALID_JSON, f"value is not JSON: {text}", exc)

    def __call__(self, msg: SourceMessage) -> Inbound | DeadLetterRecord:
        value = msg.value or b""
        if len(value) > self.max_event_bytes:
            return self._dead(
                msg, Reason.OVERSIZED, f"{len(value)} bytes > max_event_bytes {self.max_event_bytes}"
            )
        if not msg.key:
            return self._dead(msg, Reason.MISSING_KEY, "record has no key (expected the aggregate id)")
        try:
            key = msg.key.decode("utf-8")
        except UnicodeDecodeError as exc:
            return self._dead(msg, Reason.INVALID_KEY, f"key is not UTF-8: {exc}", exc)
        if SCOPE_SEP in key:
            # The stores name an operator's keys `<operator>U+001F<key>`: a workflow key
            # holding one could be taken for an operator's.
            return self._dead(msg, Reason.INVALID_KEY, "key contains U+001F (the unit separator), which "
                              "state keys reserve")
        try:
            # pydantic's own JSON parser: one pass, ~3x faster than orjson.loads + validate
            envelope = Envelope.model_validate_json(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            if first["type"] == "json_invalid":
                return self._not_json(msg, value, first["msg"], exc)
            return self._dead(msg, Reason.SCHEMA_VIOLATION, f"envelope {_first_error(exc)}", exc)
        spec = self.inputs.get(envelope.type)
        if spec is None:
            return self._dead(
                msg, Reason.UNKNOWN_TYPE, f"event type {envelope.type!r} is not an input of {self.pipeline}"
            )
        if key != envelope.aggregate_id and msg.topic not in self.rekeyed_topics:
            return self._dead(
                msg,
                Reason.KEY_MISMATCH,
                f"key {key!r} differs from aggregate_id {envelope.aggregate_id!r}",
            )
        if envelope.hops > self.max_hops:
            return self._dead(
                msg, Reason.LOOP_DETECTED, f"hops {envelope.hops} > max_hops {self.max_hops}"
            )
        try:
            payload = spec.model.model_validate(envelope.payload)
        except ValidationError as exc:
            return self._dead(
                msg, Reason.SCHEMA_VIOLATION, f"{envelope.type} payload {_first_error(exc)}", exc
            )
        return Inbound(msg, envelope, payload)
