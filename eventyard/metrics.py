"""Prometheus metrics of a worker process (served when metrics.port is set)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, start_http_server

__all__ = ["DEAD_LETTERS", "RETRIES", "EVENTS_APPLIED", "TIMERS_FIRED", "EVENTS_IN", "EVENTS_OUT",
           "CONSUMER_LAG", "serve"]

DEAD_LETTERS = Counter("eventyard_dead_letters", "Records sent to the dead-letter topic",
                       ["pipeline", "reason"])
RETRIES = Counter("eventyard_retries", "Handler retries by outcome (scheduled, succeeded, exhausted)",
                  ["pipeline", "outcome"])
EVENTS_APPLIED = Counter("eventyard_events_applied", "Input events applied to workflow state",
                         ["pipeline", "type"])
TIMERS_FIRED = Counter("eventyard_timers_fired", "Timers fired", ["pipeline"])
# The Kafka edge (both transports); names are what dashboards query.
EVENTS_IN = Counter("eventyard_events_in", "Records read by the pipeline source", ["pipeline", "topic"])
EVENTS_OUT = Counter("eventyard_events_out", "Records produced by the pipeline sink (type: eventyard.type header)",
                     ["pipeline", "topic", "type"])
CONSUMER_LAG = Gauge("eventyard_consumer_lag", "High watermark minus next offset to read, per input partition",
                     ["pipeline", "topic", "partition"])


def serve(port: int) -> None:
    """Serve /metrics on `port` (one port per worker process)."""
    start_http_server(port)
