"""Retry policy for handler failures that may be transient."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import timedelta

from eventyard.operators.api import RetryableError

__all__ = ["RetryPolicy", "RETRY_TIMER"]

RETRY_TIMER = "__retry__"  # the engine's own; operators cannot arm it


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff: timedelta = timedelta(seconds=1)
    backoff_max: timedelta = timedelta(minutes=5)
    retryable: tuple[type[BaseException], ...] = (RetryableError, TimeoutError, ConnectionError)

    def is_retryable(self, exc: BaseException) -> bool:
        return self.max_attempts > 1 and isinstance(exc, self.retryable)

    def delay_ms(self, event_id: str, attempt: int) -> int:
        """Exponential backoff with +-20% jitter, deterministic per (event, attempt)
        so a replay waits exactly as long as the live run did."""
        base = min(self.backoff * (2 ** (attempt - 1)), self.backoff_max).total_seconds() * 1000
        spread = (zlib.crc32(f"{event_id}#{attempt}".encode()) % 4001 - 2000) / 10000
        return max(1, int(base * (1 + spread)))
