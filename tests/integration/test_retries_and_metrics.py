"""Retries through `eventyard run` on the embedded broker, and the metrics endpoint."""

import re
import urllib.request

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from eventyard.demo.traffic import OrderScenario, Outcome, envelope_record
from eventyard.cli.inspect import read_instance
from eventyard.ports import free_ports

pytestmark = [pytest.mark.integration, pytest.mark.both_transports]


def _paid_with(scenario: OrderScenario, payment_id: str):
    record = scenario.paid()
    envelope = orjson.loads(record.value)
    envelope["payload"]["payment_id"] = payment_id
    return envelope_record("payments", "PaymentReceived", scenario.order_id, envelope["payload"],
                           envelope["event_id"])


def test_retry_succeeds_on_third_attempt_and_exhausted_retry_dead_letters_once(
        live_settings, start_pipeline, make_driver):
    port = free_ports()[0]
    settings = live_settings(pipeline__max_attempts="3", pipeline__retry_backoff="200ms",
                             metrics__port=str(port))
    eventually = OrderScenario("o-retry", Outcome.COMPLETED, True, False)
    never = OrderScenario("o-never", Outcome.COMPLETED, True, False)
    driver = make_driver(settings, [eventually])
    start_pipeline(processes=1, pipeline="tests.integration.flaky:PIPELINE")
    driver.send([eventually.placed(), _paid_with(eventually, "p-ok-on-3"), eventually.reserved(),
                 never.placed(), _paid_with(never, "p-never"), never.reserved()])
    tally = driver.collector.tally
    start_pipeline.settle(driver, lambda: driver.all_as_expected() and len(tally.dead_letters) >= 1)

    # the order whose payment succeeded on the third attempt completed, with no dead letter
    assert tally.distinct("o-retry") == eventually.expected()
    assert [m.key for m in tally.dead_letters] == [b"o-never"]
    headers = dict(tally.dead_letters[0].headers)
    assert headers["eventyard.error.attempts"] == b"3"
    assert headers["eventyard.error.reason"] == b"handler_error"
    # the reservation that waited behind the failing payment was applied after it
    instance = read_instance(settings, "o-never").instance
    assert instance["data"]["reservation_id"] == "r-o-never" and instance["data"]["payment_id"] is None
    assert [h[0] for h in instance["history"]] == ["OrderPlaced", "InventoryReserved"]
    assert tally.distinct("o-never")["OrderConfirmed"] == 0

    scraped = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    assert 'eventyard_retries_total{outcome="succeeded",pipeline="order_saga"} 1.0' in scraped
    assert 'eventyard_retries_total{outcome="exhausted",pipeline="order_saga"} 1.0' in scraped
    assert 'eventyard_dead_letters_total{pipeline="order_saga",reason="handler_error"} 1.0' in scraped
    # the dashboard's worker gauges and histograms are fed
    assert re.search(r'eventyard_batch_latency_seconds_count\{pipeline="order_saga",step="task"\} [1-9]', scraped)
    assert re.search(r'eventyard_timer_lateness_seconds_count\{pipeline="order_saga"\} [1-9]', scraped)
    assert re.search(r'eventyard_pending_timers\{pipeline="order_saga",worker="0"\} \d', scraped)
    assert re.search(r'eventyard_open_workflows\{pipeline="order_saga",worker="0"\} \d', scraped)

    # the Kafka edge, on whichever transport ran: one worker read every input partition
    samples = [(s.name, s.labels, s.value) for f in text_string_to_metric_families(scraped) for s in f.samples]
    read = {labels["topic"]: value for name, labels, value in samples if name == "eventyard_events_in_total"}
    assert read["orders"] == 2 and read["inventory"] == 2 and read["payments"] == 2
    written = {(labels["topic"], labels["type"]): value for name, labels, value in samples
               if name == "eventyard_events_out_total"}
    assert written[("order_saga.dlq", "")] == 1  # dead letters keep the input's headers: no type
    assert written[("order-events", "OrderCompleted")] == 1
    lag = {(labels["topic"], labels["partition"]) for name, labels, _ in samples
           if name == "eventyard_consumer_lag" and labels["pipeline"] == "order_saga"}
    assert lag == {(topic, str(p)) for topic in settings.pipeline.inputs
                   for p in range(settings.kafka.topic_partitions)}
