"""The event envelope every record on an Eventyard topic carries, and its wire codec."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["Envelope", "encode_envelope", "utc_now", "utc_from_ms", "epoch_ms", "iso_utc"]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def utc_from_ms(ms: int) -> datetime:
    """The aware UTC datetime of epoch milliseconds (how event time is carried)."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


_SECONDS: dict[int, str] = {}  # epoch second -> "YYYY-MM-DDTHH:MM:SS", for the seconds in use


def iso_utc(ms: int) -> str:
    """`occurred_at` of records made at epoch ms `ms` (RFC 3339, UTC), exactly as
    `utc_from_ms(ms).isoformat()` spells it (no fraction on a whole second).

    Every output and decision pays this, and events rarely share a millisecond:
    isoformat() was ~1.6 us; the date and time of day are made once per second.
    """
    second, milli = divmod(ms, 1000)
    head = _SECONDS.get(second)
    if head is None:
        if len(_SECONDS) >= 4096:
            _SECONDS.clear()
        head = _SECONDS[second] = utc_from_ms(second * 1000).isoformat()[:-6]  # without "+00:00"
    return f"{head}.{milli:03d}000+00:00" if milli else f"{head}+00:00"


class Envelope(BaseModel):
    """Metadata common to all events and commands; `payload` is type-specific.

    Unknown top-level fields are ignored so producers can add metadata without
    breaking older workers.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=200)
    aggregate_id: str = Field(min_length=1, max_length=500)
    occurred_at: AwareDatetime
    producer: str = Field(min_length=1)
    schema_version: int = Field(default=1, ge=1)
    trace_id: str | None = None
    causation_id: str | None = None
    correlation_id: str | None = None
    hops: int = Field(default=0, ge=0)
    sequence: int | None = Field(default=None, ge=0)
    payload: dict[str, Any]


def encode_envelope(envelope: Envelope) -> bytes:
    """Serialize to the wire format (compact JSON, RFC 3339 timestamps)."""
    return orjson.dumps(envelope.model_dump(mode="json", exclude_none=True))
