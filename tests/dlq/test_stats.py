from datetime import timedelta

from eventyard.core.deadletter import Reason
from eventyard.dlq.stats import summarize
from tests.dlq.conftest import FAILED_AT


def test_counts_by_reason_type_and_source_most_frequent_first(dead_letter):
    views = [
        dead_letter(Reason.HANDLER_ERROR),
        dead_letter(Reason.HANDLER_ERROR),
        dead_letter(Reason.INVALID_JSON, value=b"junk"),
        dead_letter(Reason.HANDLER_ERROR, source_topic="payments"),
    ]
    stats = summarize("order_saga.dlq", views, now=FAILED_AT)
    assert stats.total == 4
    assert stats.by_reason == (("handler_error", 3), ("invalid_json", 1))
    assert stats.by_type == (("OrderPlaced", 3), ("?", 1))
    assert stats.by_source_topic == (("orders", 3), ("payments", 1))


def test_oldest_newest_and_the_last_hour_use_the_failure_time(dead_letter):
    now = FAILED_AT + timedelta(hours=3)
    views = [dead_letter(failed_at=FAILED_AT + timedelta(minutes=m)) for m in (170, 0, 110, 179)]
    stats = summarize("order_saga.dlq", views, now=now)
    assert stats.oldest == FAILED_AT and stats.newest == FAILED_AT + timedelta(minutes=179)
    assert stats.last_hour == 2  # 170 and 179 minutes; 110 is 70 minutes before `now`
    assert stats.to_json()["oldest"] == "2026-03-01T12:00:00+00:00"


def test_an_empty_topic_has_no_times():
    stats = summarize("order_saga.dlq", [], now=FAILED_AT)
    assert (stats.total, stats.last_hour, stats.oldest, stats.newest) == (0, 0, None, None)
    assert stats.to_json()["by_reason"] == {}
