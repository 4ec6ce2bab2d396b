"""The worker metrics: names the dashboard relies on, buckets, per-task gauges."""

import pytest
from prometheus_client import REGISTRY, generate_latest

from eventyard.observe import metrics


def _value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_exposition_uses_the_names_the_dashboard_queries():
    metrics.OPEN_WORKFLOWS.labels("p-names", "0").set(1)
    metrics.PENDING_TIMERS.labels("p-names", "0").set(2)
    metrics.TIMER_LATENESS.labels("p-names").observe(0.002)
    metrics.BATCH_LATENCY.labels("p-names", "workflow").observe(0.01)
    text = generate_latest(REGISTRY).decode()
    for line in ('eventyard_open_workflows{pipeline="p-names",worker="0"} 1.0',
                 'eventyard_pending_timers{pipeline="p-names",worker="0"} 2.0',
                 'eventyard_timer_lateness_seconds_bucket{le="0.0025",pipeline="p-names"} 1.0',
                 'eventyard_batch_latency_seconds_count{pipeline="p-names",step="workflow"} 1.0'):
        assert line in text


def test_lateness_buckets_span_a_millisecond_to_a_minute():
    assert metrics.LATENESS_BUCKETS[0] == 0.001 and metrics.LATENESS_BUCKETS[-1] == 60.0
    assert list(metrics.LATENESS_BUCKETS) == sorted(set(metrics.LATENESS_BUCKETS))
    metrics.TIMER_LATENESS.labels("p-late").observe(45.0)
    assert _value("eventyard_timer_lateness_seconds_bucket", pipeline="p-late", le="30.0") == 0
    assert _value("eventyard_timer_lateness_seconds_bucket", pipeline="p-late", le="60.0") == 1


def test_batch_latency_times_a_block():
    with metrics.BATCH_LATENCY.labels("p-time", "decode").time():
        pass
    assert _value("eventyard_batch_latency_seconds_count", pipeline="p-time", step="decode") == 1


@pytest.fixture
def worker_7():
    metrics.set_worker(7)
    yield
    metrics.set_worker(None)


def test_per_task_gauge_reports_the_sum_of_this_workers_tasks(worker_7):
    gauge = metrics.PerTaskGauge(metrics.OPEN_WORKFLOWS, "p-tasks")
    gauge.set(3, 10)
    gauge.set(9, 5)
    gauge.add(3, -2)
    gauge.add(11, 1)
    assert _value("eventyard_open_workflows", pipeline="p-tasks", worker="7") == 14
    gauge.forget(9)
    gauge.forget(404)  # never seen: nothing to do
    assert _value("eventyard_open_workflows", pipeline="p-tasks", worker="7") == 9


def test_worker_label_is_the_process_id():
    assert metrics.worker_label() == "0"
    metrics.set_worker(2)
    try:
        assert metrics.worker_label() == "2"
    finally:
        metrics.set_worker(None)
