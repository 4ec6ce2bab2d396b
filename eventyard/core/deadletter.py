"""Dead-letter records: the original bytes, verbatim, plus headers that explain why."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from eventyard.core.envelope import utc_now
from eventyard.core.records import Headers, OutRecord, SourceMessage

__all__ = ["Reason", "DeadLetterRecord", "HEADER_PREFIX", "ERROR_HEADERS"]

HEADER_PREFIX = "eventyard."


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
