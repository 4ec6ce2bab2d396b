"""Prometheus metrics of a worker process (served when metrics.port is set).

The names are a contract: deploy/grafana/dashboards/eventyard.json queries them
and tests/test_deployment.py checks that every name it uses is defined here.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

__all__ = [
    "DEAD_LETTERS", "RETRIES", "EVENTS_APPLIED", "EVENTS_IGNORED", "SEQUENCE_GAPS", "TIMERS_FIRED", "EVENTS_IN", "EVENTS_OUT", "CONSUMER_LAG",
    "OPEN_WORKFLOWS", "PENDING_TIMERS", "TIMER_LATENESS", "BATCH_LATENCY",
    "LATE_EVENTS", "TASKS", "LATENESS_BUCKETS", "BATCH_BUCKETS", "PerTaskGauge", "per_task_gauge", "set_worker",
    "worker_label", "serve",
]

# Timer lateness spans "on time" (a few ms) to "the worker was stalled" (a minute).
LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                    2.5, 5.0, 10.0, 30.0, 60.0)
# One bytewax batch: sub-millisecond for ticks, up to seconds for a full poll of cold keys.
BATCH_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                 1.0, 2.5, 5.0, 10.0)

DEAD_LETTERS = Counter("eventyard_dead_letters", "Records sent to the dead-letter topic",
                       ["pipeline", "reason"])
RETRIES = Counter("eventyard_retries", "Handler retries by outcome (scheduled, succeeded, exhausted)",
                  ["pipeline", "outcome"])
EVENTS_APPLIED = Counter("eventyard_events_applied", "Input events applied to workflow state",
                         ["pipeline", "type"])
# Applied, but changing nothing on purpose (instance.ignore(reason), or no handler for the type).
EVENTS_IGNORED = Counter("eventyard_events_ignored", "Input events a workflow ignored on purpose, by reason",
                         ["pipeline", "type", "reason"])
SEQUENCE_GAPS = Counter("eventyard_sequence_gaps",
                        "Producer sequence gaps given up after pipeline.reorder_timeout", ["pipeline"])
TIMERS_FIRED = Counter("eventyard_timers_fired", "Timers fired", ["pipeline"])
# The Kafka edge (both transports); names are what dashboards query.
EVENTS_IN = Counter("eventyard_events_in", "Records read by the pipeline source", ["pipeline", "topic"])
EVENTS_OUT = Counter("eventyard_events_out", "Records produced by the pipeline sink (type: eventyard.type header)",
                     ["pipeline", "topic", "type"])
CONSUMER_LAG = Gauge("eventyard_consumer_lag", "High watermark minus next offset to read, per input partition",
                     ["pipeline", "topic", "partition"])
OPEN_WORKFLOWS = Gauge("eventyard_open_workflows",
                       "Workflow instances in the task stores this worker owns",
                       ["pipeline", "worker"])
PENDING_TIMERS = Gauge("eventyard_pending_timers",
                       "Timers armed and not yet fired in the task stores this worker owns",
                       ["pipeline", "worker"])
TIMER_LATENESS = Histogram("eventyard_timer_lateness_seconds",
                           "Wall-clock time between a timer's due time and its firing",
                           ["pipeline"], buckets=LATENESS_BUCKETS)
LATE_EVENTS = Counter("eventyard_late_events",
                      "Input records read with a timestamp older than their task's stream time",
                      ["pipeline"])
TASKS = Gauge("eventyard_tasks", "Tasks (input partition numbers) this worker runs: each task's events "
              "are applied in this process, none crosses to another", ["pipeline", "worker"])
BATCH_LATENCY = Histogram("eventyard_batch_latency_seconds",
                          "Time to process one bytewax batch in a step",
                          ["pipeline", "step"], buckets=BATCH_BUCKETS)

_worker = "0"


def set_worker(process_id: int | None) -> None:
    """Name this process's `worker` label (its bytewax process id; 0 when alone)."""
    global _worker
    _worker = str(process_id or 0)


def worker_label() -> str:
    return _worker


class PerTaskGauge:
    """A per-worker gauge fed with per-task values.

    Each task knows only its own count; the worker's value is their sum.
    Not thread-safe: bytewax runs one worker per process here (DESIGN.md 5).
    """

    def __init__(self, gauge: Gauge, pipeline: str) -> None:
        self._child = gauge.labels(pipeline, worker_label())
        self._values: dict[int, float] = {}

    def set(self, task: int, value: float) -> None:
        self._values[task] = value
        self._child.set(sum(self._values.values()))

    def add(self, task: int, delta: float) -> None:
        self.set(task, self._values.get(task, 0) + delta)

    def forget(self, task: int) -> None:
        """A task moved to another worker (or was closed): stop counting it here."""
        self._values.pop(task, None)
        self._child.set(sum(self._values.values()))


_per_task: dict[tuple[str, str], PerTaskGauge] = {}


def per_task_gauge(gauge: Gauge, pipeline: str) -> PerTaskGauge:
    """The process's one PerTaskGauge for `gauge` (every task of the worker feeds it)."""
    key = (gauge._name, pipeline)  # noqa: SLF001 - the metric's own name
    if key not in _per_task:
        _per_task[key] = PerTaskGauge(gauge, pipeline)
    return _per_task[key]


def serve(port: int) -> None:
    """Serve /metrics on `port` (one port per worker process)."""
    start_http_server(port)
