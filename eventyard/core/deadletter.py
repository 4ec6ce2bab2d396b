"""Dead-letter records: the original bytes, verbatim, plus headers that explain why."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from eventyard.core.envelope import utc_now
from eventyard.core.records import Headers, OutRecord, SourceMessage

__all__ = ["Reason", "DeadLetterRecord", "HEADER_PREFIX", "ERROR_HEADERS", "REDRIVE_COUNT_HEADER",
           "REDRIVE_NEEDS", "NEVER_APPLICABLE", "never_applicable"]

HEADER_PREFIX = "eventyard."
# Set (and incremented) on every record `eventyard dlq redrive` publishes.
REDRIVE_COUNT_HEADER = "eventyard.redrive.count"


class Reason(StrEnum):
    INVALID_JSON = "invalid_json"
    SCHEMA_VIOLATION = "schema_violation"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_KEY = "missing_key"
    INVALID_KEY = "invalid_key"
    KEY_MISMATCH = "key_mismatch"
    OVERSIZED = "oversized"
    LOOP_DETECTED = "loop_detected"
    HANDLER_ERROR = "handler_error"
    ORPHANED = "orphaned"
    REJECTED = "rejected"  # an operator dead-lettered the event on purpose
    UNEXPECTED_IN_STATE = "unexpected_in_state"  # no transition accepted it within unexpected_timeout
    LATE_IN_SEQUENCE = "late_in_sequence"  # came after reorder_timeout gave up waiting for it


# What a redrive of each reason needs before the same bytes can be applied. A redrive
# publishes the original key and value unchanged, so a reason that is a property of
# those bytes alone can never pass: such records are refused unless --to sends them
# to a topic where something else can repair them (docs/dead-letters.md).
REDRIVE_NEEDS: dict[str, str] = {
    Reason.INVALID_JSON: "never: the value is not JSON, and a redrive does not change it",
    Reason.SCHEMA_VIOLATION: "deploy an event model (catalog) that accepts it",
    Reason.UNKNOWN_TYPE: "deploy a pipeline that has the type as an input",
    Reason.MISSING_KEY: "never: the record has no key, and a redrive does not add one",
    Reason.INVALID_KEY: "never: the key is not UTF-8, and a redrive does not change it",
    Reason.KEY_MISMATCH: "never: key and aggregate_id differ, and a redrive does not change either",
    Reason.OVERSIZED: "raise pipeline.max_event_bytes above the value's size",
    Reason.LOOP_DETECTED: "raise pipeline.max_hops above the event's hops (after fixing the loop)",
    Reason.HANDLER_ERROR: "deploy the fixed handler (or wait until what it called is back)",
    Reason.ORPHANED: "publish the start event first (e.g. OrderPlaced)",
    Reason.REJECTED: "fix what the operator rejected it for",
    Reason.UNEXPECTED_IN_STATE: "bring the instance to a state that accepts it (publish what was missing)",
    Reason.LATE_IN_SEQUENCE: "never: its sequence number lies in a gap the workflow gave up on, and a redrive "
                             "carries the same number; publish a new event if it still matters",
}
NEVER_APPLICABLE = frozenset(r for r, needs in REDRIVE_NEEDS.items() if needs.startswith("never"))


def never_applicable(reason: str) -> bool:
    """True for reasons the same bytes can never get past (operators' own codes can)."""
    return reason in NEVER_APPLICABLE


ERROR_HEADERS = (
    "eventyard.error.reason",
    "eventyard.error.message",
    "eventyard.error.class",
    "eventyard.error.step",
    "eventyard.error.attempts",
    "eventyard.source.topic",
    "eventyard.source.partition",
    "eventyard.source.offset",
    "eventyard.pipeline",
    "eventyard.failed_at",
    "eventyard.first_failed_at",
)


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """Why one input message could not be processed, and the message itself."""

    reason: str  # a Reason, or an operator's own code (ctx.dead_letter)
    message: str
    pipeline: str
    step: str
    source: SourceMessage
    error_class: str = ""
    attempts: int = 1
    failed_at: datetime = field(default_factory=utc_now)

    def headers(self) -> Headers:
        # Original headers first (minus stale error context from an earlier
        # failure), then ours: a redrive strips ours and gets the original back.
        original = tuple(
            (k, v) for k, v in self.source.headers if k not in ERROR_HEADERS
        )
        failed_at = self.failed_at.isoformat().encode()
        first = next(
            (v for k, v in self.source.headers if k == "eventyard.first_failed_at"),
            failed_at,
        )
        ours: Headers = (
            ("eventyard.error.reason", str(self.reason).encode()),
            ("eventyard.error.message", self.message[:2000].encode("utf-8", "replace")),
            ("eventyard.error.class", self.error_class.encode()),
            ("eventyard.error.step", self.step.encode()),
            ("eventyard.error.attempts", str(self.attempts).encode()),
            ("eventyard.source.topic", self.source.topic.encode()),
            ("eventyard.source.partition", str(self.source.partition).encode()),
            ("eventyard.source.offset", str(self.source.offset).encode()),
            ("eventyard.pipeline", self.pipeline.encode()),
            ("eventyard.failed_at", failed_at),
            ("eventyard.first_failed_at", first),
        )
        return original + ours

    def to_record(self, topic: str) -> OutRecord:
        return OutRecord(
            topic=topic, key=self.source.key, value=self.source.value, headers=self.headers()
        )
