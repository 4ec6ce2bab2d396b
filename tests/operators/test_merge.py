"""EventTimeMerge: a task's partitions released in event-time order, bounded."""

from eventyard.core.records import SourceMessage
from eventyard.operators.merge import EventTimeMerge, MergeBounds

TPS = [("orders", 0), ("payments", 0)]


def msg(topic: str, offset: int, ts: int, size: int = 1) -> SourceMessage:
    return SourceMessage(topic, 0, offset, b"k", b"x" * size, (), ts)


def released(merge: EventTimeMerge) -> list[tuple[str, int]]:
    out = []
    while merge.head_ms() is not None and (merge.head_ms() <= merge.vouched_ms() or merge.over_bound()):
        m = merge.pop()
        out.append((m.topic, m.offset))
    return out


def test_a_record_waits_until_every_partition_was_read_up_to_its_timestamp():
    merge = EventTimeMerge(TPS)
    merge.add([msg("payments", 0, 200)])  # the payment topic was read first
    assert released(merge) == []  # orders not read yet: an earlier order may come
    merge.set_input_time("orders", 0, 150)  # orders read up to 150 (a backlog)
    assert released(merge) == []
    merge.add([msg("orders", 0, 100)])
    merge.set_input_time("orders", 0, 100)
    assert released(merge) == [("orders", 0)]  # ...and the payment still waits for orders to pass 200
    merge.set_input_time("orders", 0, 10_000)  # caught up: the wall clock vouches
    assert released(merge) == [("payments", 0)]
    assert merge.stream_ms == 200


def test_ties_break_by_topic_partition_offset_as_replay_orders_them():
    merge = EventTimeMerge(TPS)
    merge.add([msg("payments", 5, 100), msg("orders", 3, 100), msg("orders", 9, 100)])
    merge.set_input_time("orders", 0, 500)
    merge.set_input_time("payments", 0, 500)
    assert released(merge) == [("orders", 3), ("orders", 9), ("payments", 5)]


def test_at_the_bound_the_oldest_record_goes_even_unvouched():
    merge = EventTimeMerge(TPS, MergeBounds(records=2, bytes=1 << 20))
    merge.add([msg("payments", 0, 100), msg("payments", 1, 101), msg("payments", 2, 102)])
    assert released(merge) == [("payments", 0)]  # 3 > 2 waiting: one released, 2 left
    big = EventTimeMerge(TPS, MergeBounds(records=100, bytes=1000))
    big.add([msg("payments", 0, 100, size=800), msg("payments", 1, 101, size=800)])
    assert released(big) == [("payments", 0)]


def test_a_restart_reads_again_from_the_oldest_record_still_waiting():
    merge = EventTimeMerge(TPS)
    merge.add([msg("payments", 7, 300), msg("payments", 8, 301)])
    merge.set_input_time("orders", 0, 50)
    assert merge.resume_offsets({("orders", 0): 12, ("payments", 0): 9}) == {("orders", 0): 12, ("payments", 0): 7}


def test_a_partition_keeps_its_offset_order_whatever_its_timestamps_say():
    # A producer stamped offset 1 ten minutes before offset 0: the partition is still
    # read in offset order (the watermark skips anything at or below the last offset
    # applied), and records of other partitions merge around its head.
    merge = EventTimeMerge(TPS)
    merge.add([msg("orders", 0, 600), msg("orders", 1, 0), msg("payments", 0, 300)])
    merge.set_input_time("orders", 0, 10_000)
    merge.set_input_time("payments", 0, 10_000)
    assert released(merge) == [("payments", 0), ("orders", 0), ("orders", 1)]
