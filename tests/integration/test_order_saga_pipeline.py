"""The order saga as users run it: `eventyard run` processes on a real broker."""

from collections import Counter
from dataclasses import replace

import orjson
import pytest

from eventyard.demo.bad_input import bad_messages
from eventyard.demo.traffic import FAST_OUTCOMES, TIMEOUT_OUTCOMES, Outcome, plan_orders
from eventyard.state import StateDirectory

pytestmark = [pytest.mark.integration, pytest.mark.both_transports]


def test_5000_orders_with_mixed_outcomes_get_exactly_their_commands(live_settings, start_pipeline, make_driver):
    settings = live_settings()
    start_pipeline(processes=2)
    scenarios = plan_orders(5000, FAST_OUTCOMES, seed=11)
    driver = make_driver(settings, scenarios)
    driver.send_initial()
    start_pipeline.settle(driver, driver.all_as_expected)
    assert driver.collector.tally.dead_letters == []
    kinds = Counter(s.outcome for s in scenarios)
    completed = sum(c["OrderCompleted"] for c in driver.collector.tally.by_aggregate.values())
    assert completed == kinds[Outcome.COMPLETED]


def test_short_timeouts_remind_once_then_cancel_and_compensate(live_settings, start_pipeline, make_driver):
    settings = live_settings(order_saga__payment_reminder_after="2s", order_saga__payment_timeout="4s")
    start_pipeline(processes=2)
    scenarios = plan_orders(40, TIMEOUT_OUTCOMES, seed=3)
    driver = make_driver(settings, scenarios)
    driver.send_initial()
    start_pipeline.settle(driver, driver.all_as_expected)
    for s in scenarios:
        got = driver.collector.tally.distinct(s.order_id)
        assert got["PaymentReminder"] == 1 and got["OrderCancelled"] == 1
        assert got["ReleaseInventory"] == (1 if s.other_side_done else 0)
        cancelled = [p for p in driver.collector.tally.payloads[s.order_id] if p["type"] == "OrderCancelled"]
        assert cancelled[0]["reason"] == "payment_timeout"


def test_each_bad_input_class_gives_one_dead_letter_and_the_pipeline_keeps_going(live_settings, start_pipeline, make_driver):
    settings = live_settings()
    start_pipeline(processes=2, pipeline="tests.integration.exploding:PIPELINE")
    scenarios = plan_orders(30, FAST_OUTCOMES, seed=5, duplicate_rate=0)
    bad = bad_messages()
    boom = scenarios[0].placed()
    envelope = orjson.loads(boom.value)
    envelope["payload"]["customer_id"] = "explode"
    envelope["aggregate_id"] = "boom-1"
    bad["handler_error"] = replace(boom, key=b"boom-1", value=orjson.dumps(envelope))
    driver = make_driver(settings, scenarios)
    # bad records in the middle of the valid stream, on the same topic
    initial = [r for s in scenarios for r in s.initial_events()]
    driver.send(initial[:40] + list(bad.values()) + initial[40:])
    start_pipeline.settle(driver, lambda: driver.all_as_expected() and
                          len(driver.collector.tally.dead_letters) >= len(bad))
    dead = {dict(m.headers)["eventyard.error.reason"].decode(): m for m in driver.collector.tally.dead_letters}
    assert sorted(dead) == sorted(bad) and len(driver.collector.tally.dead_letters) == len(bad)
    for reason, original in bad.items():
        record = dead[reason]
        headers = dict(record.headers)
        assert record.value == original.value and record.key == original.key, reason
        assert headers["eventyard.source.topic"] == b"orders"
        assert int(headers["eventyard.source.offset"]) >= 0
        assert headers["eventyard.pipeline"] == b"order_saga"
        assert headers["eventyard.error.message"] and headers["eventyard.failed_at"]


def test_graceful_stop_and_restart_mid_stream_applies_no_event_twice(live_settings, start_pipeline, make_driver):
    settings = live_settings()
    scenarios = plan_orders(1000, FAST_OUTCOMES, seed=13)
    driver = make_driver(settings, scenarios)
    run = start_pipeline(processes=2)
    first, second = scenarios[:500], scenarios[500:]
    driver.send(r for s in first for r in s.initial_events())
    start_pipeline.settle(driver, lambda: len(driver.collector.tally.by_aggregate) >= 100)
    assert run.stop() == 0  # mid-stream: the first half is not settled yet
    start_pipeline(processes=2)
    driver.send(r for s in second for r in s.initial_events())
    start_pipeline.settle(driver, driver.all_as_expected)
    # stop before reading state: a running worker holds its task stores open
    assert start_pipeline.stop_all() == [0, 0]
    instances = dict(StateDirectory(settings.state.dir, settings.name).read_instances())
    assert len(instances) == 1000
    for order_id, instance in instances.items():
        event_ids = [h[1] for h in instance["history"]]
        assert len(event_ids) == len(set(event_ids)), order_id
        assert instance["version"] == len(event_ids), order_id
