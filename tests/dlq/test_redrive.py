import pytest

from eventyard.core.deadletter import ERROR_HEADERS, Reason
from eventyard.dlq.ledger import RedriveLedger
from eventyard.dlq.redrive import (RedriveCheckpoint, RedriveRequest, RedriveSelection, redrive_headers,
                                   redrive_record)
from eventyard.dlq.runner import Pacer
from eventyard.dlq.view import DeadLetterFilter
from eventyard.core.errors import DeadLetterError
from tests.dlq.conftest import FAILED_AT


def test_a_redriven_record_is_the_original_with_only_first_failure_and_count_added(dead_letter):
    view = dead_letter(Reason.HANDLER_ERROR, headers=(("trace", b"t-1"),))
    record = redrive_record(view, "orders")
    assert (record.topic, record.key, record.value) == ("orders", view.key, view.value)
    assert record.headers == (
        ("trace", b"t-1"),
        ("eventyard.first_failed_at", FAILED_AT.isoformat().encode()),
        ("eventyard.redrive.count", b"1"),
    )


def test_the_redrive_count_goes_up_each_time_and_appears_once():
    headers = (("eventyard.redrive.count", b"2"), ("eventyard.error.reason", b"handler_error"))
    assert redrive_headers(headers) == (("eventyard.redrive.count", b"3"),)
    assert redrive_headers((("eventyard.redrive.count", b"garbage"),)) == (("eventyard.redrive.count", b"1"),)


def test_every_error_header_but_the_first_failure_time_is_dropped():
    headers = tuple((name, b"v") for name in ERROR_HEADERS)
    kept = [name for name, _ in redrive_headers(headers)]
    assert kept == ["eventyard.first_failed_at", "eventyard.redrive.count"]


def test_records_go_back_to_their_source_topic_unless_to_is_given(dead_letter):
    boom, timer = dead_letter(source_topic="payments"), dead_letter(source_topic="<timer>")
    request = RedriveRequest("order_saga", "order_saga.dlq")
    assert request.target(boom) == "payments" and request.target(timer) is None
    assert RedriveRequest("order_saga", "order_saga.dlq", to="retry").target(boom) == "retry"
    only_junk = RedriveRequest("order_saga", "order_saga.dlq", DeadLetterFilter(reason="invalid_json"))
    assert only_junk.target(boom) is None


def test_the_checkpoint_file_is_named_by_pipeline_and_filter(tmp_path):
    a = RedriveRequest("order_saga", "order_saga.dlq", DeadLetterFilter(reason="handler_error"))
    same = RedriveRequest("order_saga", "order_saga.dlq", DeadLetterFilter(reason="handler_error"))
    other = RedriveRequest("order_saga", "order_saga.dlq", DeadLetterFilter(reason="orphaned"))
    elsewhere = RedriveRequest("order_saga", "order_saga.dlq", DeadLetterFilter(reason="handler_error"), to="x")
    assert a.checkpoint_path(tmp_path) == same.checkpoint_path(tmp_path)
    assert len({a.checkpoint_path(tmp_path), other.checkpoint_path(tmp_path), elsewhere.checkpoint_path(tmp_path)}) == 3
    assert a.checkpoint_path(tmp_path).name.startswith("order_saga-")
    odd = RedriveRequest("my.pkg:PIPELINE/x", "t").checkpoint_path(tmp_path)
    assert odd.parent == tmp_path and odd.name.startswith("my.pkg_PIPELINE_x-")


def test_a_checkpoint_round_trips_and_accumulates(tmp_path):
    request = RedriveRequest("order_saga", "order_saga.dlq", DeadLetterFilter(since=FAILED_AT))
    path = request.checkpoint_path(tmp_path / "redrive")
    assert RedriveCheckpoint.load(path, request) == RedriveCheckpoint.fresh(request)
    first = RedriveCheckpoint.fresh(request).advanced({0: 7, 3: 2}, published=4, complete=False)
    first.save(path)
    loaded = RedriveCheckpoint.load(path, request)
    assert (loaded.positions, loaded.redriven, loaded.complete) == ({0: 7, 3: 2}, 4, False)
    loaded.advanced({0: 9, 3: 2}, published=1, complete=True).save(path)
    again = RedriveCheckpoint.load(path, request)
    assert (again.positions, again.redriven, again.complete) == ({0: 9, 3: 2}, 5, True)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_an_unreadable_or_foreign_checkpoint_is_refused_with_the_way_out(tmp_path):
    request = RedriveRequest("order_saga", "order_saga.dlq")
    path = request.checkpoint_path(tmp_path)
    path.write_text("{not json")
    with pytest.raises(DeadLetterError, match="unreadable.*--restart"):
        RedriveCheckpoint.load(path, request)
    RedriveCheckpoint.fresh(RedriveRequest("order_saga", "other.dlq")).save(path)
    with pytest.raises(DeadLetterError, match="belongs to another redrive"):
        RedriveCheckpoint.load(path, request)


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_the_pacer_spaces_records_by_the_rate_without_catching_up_after_a_stall():
    time = FakeTime()
    pacer = Pacer(4, clock=time.clock, sleep=time.sleep)
    pacer.wait()
    pacer.wait()
    time.now += 0.1  # work between records counts towards the interval
    pacer.wait()
    assert time.slept == [0.25, 0.15]
    time.now += 10  # a stall: the next records are spaced again, not sent in a burst
    pacer.wait()
    pacer.wait()
    assert time.slept == [0.25, 0.15, 0.25]


def test_no_rate_means_no_waiting():
    time = FakeTime()
    pacer = Pacer(None, clock=time.clock, sleep=time.sleep)
    for _ in range(100):
        pacer.wait()
    assert time.slept == []


def test_a_selection_skips_copies_of_a_dead_letter_already_redriven(dead_letter):
    request = RedriveRequest("order_saga", "order_saga.dlq", DeadLetterFilter(reason="handler_error"))
    first, copy = dead_letter(order_id="o-1", offset=0), dead_letter(order_id="o-1", offset=5)
    other = dead_letter(order_id="o-2", offset=6, source_topic="payments")
    selection = RedriveSelection(request, ledger={"payments:2:17"})
    targets = [selection.target(v) for v in (first, copy, other, dead_letter(Reason.ORPHANED))]
    assert targets == ["orders", None, None, None]  # the orphan does not match the filter
    assert (selection.duplicates, selection.not_redrivable) == (2, 0)
    timers = RedriveSelection(RedriveRequest("order_saga", "order_saga.dlq"), ledger=set())
    assert timers.target(dead_letter(source_topic="<timer>")) is None and timers.not_redrivable == 1


def test_the_ledger_appends_what_was_redriven_and_reads_it_back(tmp_path):
    path = tmp_path / "redrive" / "order_saga-x.redriven"
    ledger = RedriveLedger.load(path)
    assert "orders:2:17" not in ledger and not path.exists()
    ledger.record(["orders:2:17", "orders:0:3"])
    ledger.record(["orders:0:3", "payments:1:9"])  # already there: written once
    assert path.read_text().split() == ["orders:2:17", "orders:0:3", "payments:1:9"]
    again = RedriveLedger.load(path)
    assert "orders:0:3" in again and len(again) == 3
    RedriveLedger(None).record(["x:0:0"])  # a dry run's ledger writes nothing
