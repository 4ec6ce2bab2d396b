"""Summaries of a dead-letter topic: what fails, since when, and how fast."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from eventyard.dlq.view import DeadLetterView

__all__ = ["DeadLetterStats", "summarize"]

Counts = tuple[tuple[str, int], ...]


def _ranked(counter: Counter[str]) -> Counts:
    # Most frequent first; ties by name so the output is stable.
    return tuple(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


@dataclass(frozen=True, slots=True)
class DeadLetterStats:
    topic: str
    total: int
    last_hour: int
    by_reason: Counts
    by_type: Counts
    by_source_topic: Counts
    oldest: datetime | None
    newest: datetime | None

    def to_json(self) -> dict[str, object]:
        return {
            "topic": self.topic,
            "total": self.total,
            "last_hour": self.last_hour,
            "oldest": self.oldest.isoformat() if self.oldest else None,
            "newest": self.newest.isoformat() if self.newest else None,
            "by_reason": dict(self.by_reason),
            "by_type": dict(self.by_type),
            "by_source_topic": dict(self.by_source_topic),
        }


def summarize(topic: str, views: Iterable[DeadLetterView], now: datetime) -> DeadLetterStats:
    """Count records by reason, event type and source topic; times are `failed_at`."""
    reasons: Counter[str] = Counter()
    types: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    oldest: datetime | None = None
    newest: datetime | None = None
    recent = 0
    hour_ago = now - timedelta(hours=1)
    for view in views:
        reasons[view.reason] += 1
        types[view.event_type] += 1
        sources[view.source_topic or "?"] += 1
        oldest = view.failed_at if oldest is None else min(oldest, view.failed_at)
        newest = view.failed_at if newest is None else max(newest, view.failed_at)
        recent += view.failed_at >= hour_ago
    return DeadLetterStats(topic, sum(reasons.values()), recent, _ranked(reasons),
                           _ranked(types), _ranked(sources), oldest, newest)
