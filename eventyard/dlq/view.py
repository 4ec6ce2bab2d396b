"""One dead-letter record as an operator sees it, and the filter that selects records.

Pure values: built from a `SourceMessage`, so everything here is testable without Kafka.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import orjson

from eventyard.core.deadletter import REDRIVE_COUNT_HEADER, Reason
from eventyard.core.errors import DeadLetterError
from eventyard.core.records import Headers, SourceMessage

__all__ = [
    "DeadLetterView",
    "DeadLetterFilter",
    "REDRIVE_COUNT_HEADER",
    "header_text",
    "parse_time",
    "parse_reason",
    "parse_position",
]

UNKNOWN_TYPE = "?"


def header_text(headers: Headers, name: str, default: str = "") -> str:
    """The last value of header `name` as text (the last one wins, as in DeadLetterRecord)."""
    for key, value in reversed(headers):
        if key == name:
            return value.decode("utf-8", "replace")
    return default


def _int(text: str, default: int | None) -> int | None:
    try:
        return int(text)
    except ValueError:
        return default


def _time(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _envelope_fields(value: bytes | None) -> tuple[str, str | None]:
    """(type, event_id) of a JSON envelope; ("?", None) for anything else."""
    try:
        obj = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return UNKNOWN_TYPE, None
    if not isinstance(obj, dict):
        return UNKNOWN_TYPE, None
    kind, event_id = obj.get("type"), obj.get("event_id")
    return (kind if isinstance(kind, str) and kind else UNKNOWN_TYPE,
            event_id if isinstance(event_id, str) else None)


@dataclass(frozen=True, slots=True)
class DeadLetterView:
    """A record of the dead-letter topic with its error headers parsed."""

    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    reason: str
    message: str
    error_class: str
    step: str
    attempts: int
    source_topic: str
    source_partition: int | None
    source_offset: int | None
    pipeline: str
    failed_at: datetime
    first_failed_at: datetime
    event_type: str
    event_id: str | None
    redrive_count: int

    @classmethod
    def from_message(cls, msg: SourceMessage) -> "DeadLetterView":
        h = msg.headers
        # A record without our headers (written by hand) still gets a time: its own.
        written = datetime.fromtimestamp(max(msg.timestamp_ms, 0) / 1000, tz=timezone.utc)
        failed_at = _time(header_text(h, "eventyard.failed_at")) or written
        kind, event_id = _envelope_fields(msg.value)
        return cls(
            partition=msg.partition,
            offset=msg.offset,
            timestamp_ms=msg.timestamp_ms,
            key=msg.key,
            value=msg.value,
            headers=h,
            reason=header_text(h, "eventyard.error.reason", UNKNOWN_TYPE),
            message=header_text(h, "eventyard.error.message"),
            error_class=header_text(h, "eventyard.error.class"),
            step=header_text(h, "eventyard.error.step"),
            attempts=_int(header_text(h, "eventyard.error.attempts"), 1) or 1,
            source_topic=header_text(h, "eventyard.source.topic"),
            source_partition=_int(header_text(h, "eventyard.source.partition"), None),
            source_offset=_int(header_text(h, "eventyard.source.offset"), None),
            pipeline=header_text(h, "eventyard.pipeline"),
            failed_at=failed_at,
            first_failed_at=_time(header_text(h, "eventyard.first_failed_at")) or failed_at,
            event_type=kind,
            event_id=event_id,
            redrive_count=_int(header_text(h, REDRIVE_COUNT_HEADER), 0) or 0,
        )

    @property
    def position(self) -> str:
        """`partition:offset`, as `eventyard dlq show` accepts it."""
        return f"{self.partition}:{self.offset}"

    @property
    def source(self) -> str:
        if not self.source_topic:
            return "?"
        return f"{self.source_topic}[{self.source_partition}]@{self.source_offset}"

    @property
    def redrivable(self) -> bool:
        # A failed timer is described as "<timer>": there is no input event to put back.
        return bool(self.source_topic) and not self.source_topic.startswith("<")

    @property
    def source_id(self) -> str | None:
        """`topic:partition:offset` of the failed input message: the same for every copy
        of this dead letter (they are published at least once, and a decode failure
        re-read after a crash is dead-lettered again). A redriven copy that fails again
        has a new offset, so it is a new dead letter."""
        if not self.redrivable or self.source_partition is None or self.source_offset is None:
            return None
        return f"{self.source_topic}:{self.source_partition}:{self.source_offset}"


@dataclass(frozen=True, slots=True)
class DeadLetterFilter:
    """Which records a command looks at; `until` is exclusive, `since` inclusive."""

    reason: str | None = None
    event_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, view: DeadLetterView) -> bool:
        return ((self.reason is None or view.reason == self.reason)
                and (self.event_type is None or view.event_type == self.event_type)
                and (self.since is None or view.failed_at >= self.since)
                and (self.until is None or view.failed_at < self.until))

    def describe(self) -> dict[str, str | None]:
        """Canonical form: the identity of a redrive and its JSON output."""
        return {
            "reason": self.reason,
            "type": self.event_type,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


def parse_time(text: str, option: str) -> datetime:
    """An ISO 8601 time; without an offset it is UTC."""
    parsed = _time(text.strip())
    if parsed is None:
        raise DeadLetterError(
            f"{option} {text!r} is not a time: use ISO 8601, e.g. 2026-03-01T14:30:00Z"
        )
    return parsed.astimezone(timezone.utc)


def parse_reason(text: str) -> str:
    """A built-in reason, or an operator's own code `<operator>.<code>`."""
    known = [r.value for r in Reason]
    if text not in known and "." not in text.strip("."):
        raise DeadLetterError(
            f"unknown reason {text!r}; known: {', '.join(known)}, or <operator>.<code> for an "
            "operator's own reasons")
    return text


def parse_position(text: str, partition: int | None) -> tuple[int | None, int]:
    """`OFFSET` or `PARTITION:OFFSET` (as printed by `dlq tail`) -> (partition, offset)."""
    head, sep, tail = text.strip().partition(":")
    try:
        parsed = (int(head), int(tail)) if sep else (partition, int(head))
    except ValueError:
        raise DeadLetterError(f"{text!r} is not an offset: give OFFSET or PARTITION:OFFSET") from None
    if sep and partition is not None and partition != parsed[0]:
        raise DeadLetterError(f"{text!r} names partition {parsed[0]} but --partition is {partition}")
    if parsed[1] < 0 or (parsed[0] is not None and parsed[0] < 0):
        raise DeadLetterError(f"{text!r}: partitions and offsets are not negative")
    return parsed
