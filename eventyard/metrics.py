"""Prometheus metrics of a worker process (served when metrics.port is set)."""

from __future__ import annotations

from prometheus_client import Counter, start_http_server

__all__ = ["DEAD_LETTERS", "RETRIES", "EVENTS_APPLIED", "TIMERS_FIRED", "serve"]

DEAD_LETTERS = Counter("eventyard_dead_letters", "Records sent to the dead-letter topic",
                       ["pipeline", "reason"])
RETRIES = Counter("eventyard_retries", "Handler retries by outcome (scheduled, succeeded, exhausted)",
                  ["pipeline", "outcome"])
EVENTS_APPLIED = Counter("eventyard_events_applied", "Input events applied to workflow state",
                         ["pipeline", "type"])
TIMERS_FIRED = Counter("eventyard_timers_fired", "Timers fired", ["pipeline"])


def serve(port: int) -> None:
    """Serve /metrics on `port` (one port per worker process)."""
    start_http_server(port)
