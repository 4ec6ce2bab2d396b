from datetime import datetime, timedelta, timezone

import pytest

from eventyard.core.deadletter import Reason
from eventyard.dlq.view import DeadLetterFilter, DeadLetterView, parse_position, parse_reason, parse_time
from eventyard.core.errors import DeadLetterError
from eventyard.core.records import SourceMessage
from tests.dlq.conftest import FAILED_AT


def test_a_view_exposes_the_error_headers_and_the_envelope(dead_letter):
    view = dead_letter(Reason.HANDLER_ERROR, order_id="o-7", partition=3, offset=41)
    assert (view.reason, view.error_class, view.step, view.attempts) == ("handler_error", "ValueError", "workflow", 1)
    assert (view.source_topic, view.source_partition, view.source_offset) == ("orders", 2, 17)
    assert view.source == "orders[2]@17" and view.position == "3:41"
    assert (view.event_type, view.event_id, view.key) == ("OrderPlaced", "o-7-placed", b"o-7")
    assert view.failed_at == view.first_failed_at == FAILED_AT
    assert view.pipeline == "order_saga" and view.redrive_count == 0 and view.redrivable
    assert view.source_id == "orders:2:17"  # the same for every copy of this dead letter


@pytest.mark.parametrize("value", [b"\x80\x81binary", b'{"event_id": "x", not json', b"[1, 2]", b'{"type": 7}'])
def test_a_value_that_is_not_an_envelope_has_type_question_mark(dead_letter, value):
    view = dead_letter(Reason.INVALID_JSON, value=value)
    assert view.event_type == "?" and view.event_id is None


def test_a_record_without_our_headers_still_reads(dead_letter):
    view = DeadLetterView.from_message(SourceMessage("order_saga.dlq", 0, 5, None, b"x", (), 1_700_000_000_000))
    assert view.reason == "?" and view.source == "?" and not view.redrivable
    assert view.failed_at == datetime.fromtimestamp(1_700_000_000, tz=timezone.utc)


def test_a_failed_timer_cannot_be_redriven(dead_letter):
    timer = dead_letter(source_topic="<timer>")
    assert not timer.redrivable and timer.source_id is None


def test_the_first_failure_time_survives_a_second_failure(dead_letter):
    first = dead_letter(failed_at=FAILED_AT)
    again = dead_letter(failed_at=FAILED_AT + timedelta(hours=2),
                        headers=(("eventyard.first_failed_at", first.failed_at.isoformat().encode()),
                                 ("eventyard.redrive.count", b"1")))
    assert again.first_failed_at == FAILED_AT and again.failed_at == FAILED_AT + timedelta(hours=2)
    assert again.redrive_count == 1


def test_filters_select_by_reason_type_and_failure_time(dead_letter):
    boom = dead_letter(Reason.HANDLER_ERROR)
    junk = dead_letter(Reason.INVALID_JSON, value=b"junk")
    assert DeadLetterFilter().matches(boom) and DeadLetterFilter().matches(junk)
    assert [DeadLetterFilter(reason="handler_error").matches(v) for v in (boom, junk)] == [True, False]
    assert [DeadLetterFilter(event_type="?").matches(v) for v in (boom, junk)] == [False, True]
    assert DeadLetterFilter(since=FAILED_AT).matches(boom)  # since is inclusive
    assert not DeadLetterFilter(until=FAILED_AT).matches(boom)  # until is exclusive
    assert not DeadLetterFilter(since=FAILED_AT + timedelta(seconds=1)).matches(boom)


def test_times_are_iso_8601_and_utc_without_an_offset():
    assert parse_time("2026-03-01T12:00:00Z", "--since") == FAILED_AT
    assert parse_time("2026-03-01 13:00+01:00", "--since") == FAILED_AT
    assert parse_time("2026-03-01T12:00", "--since") == FAILED_AT
    with pytest.raises(DeadLetterError, match="--until 'yesterday' is not a time"):
        parse_time("yesterday", "--until")


def test_a_misspelt_reason_is_refused_with_the_known_ones():
    assert parse_reason("orphaned") == "orphaned"
    # an operator's own reason (docs/operators.md: ctx.dead_letter -> <operator>.<reason>)
    assert parse_reason("spending_limit.unsupported_currency") == "spending_limit.unsupported_currency"
    with pytest.raises(DeadLetterError, match="unknown reason 'handler_eror'; known: invalid_json"):
        parse_reason("handler_eror")


def test_positions_read_as_tail_prints_them():
    assert parse_position("12", None) == (None, 12)
    assert parse_position("12", 3) == (3, 12)
    assert parse_position("3:12", None) == (3, 12)
    assert parse_position("3:12", 3) == (3, 12)
    for bad in ("x", "3:", "-1", "1:2:3"):
        with pytest.raises(DeadLetterError):
            parse_position(bad, None)
    with pytest.raises(DeadLetterError, match="--partition is 1"):
        parse_position("3:12", 1)
