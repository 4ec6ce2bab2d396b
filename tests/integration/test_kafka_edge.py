"""Both pipeline transports behave the same at the edge, on the real embedded broker."""

import time
from collections.abc import Callable
import pytest
from prometheus_client import REGISTRY

from eventyard.config import KafkaSettings
from eventyard.core.errors import TopicMissingError
from eventyard.kafka import create_topics, make_partition_reader, make_sink, partition_counts
from eventyard.core.records import OutRecord

pytestmark = [pytest.mark.integration, pytest.mark.both_transports]


def _settings(broker, transport: str, **kw) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=broker.bootstrap_servers, client=transport, topic_partitions=1, **kw)


def _read_until(reader, done: Callable[[list], bool], timeout: float = 30) -> list:
    items: list = []
    deadline = time.monotonic() + timeout
    while not done(items):
        assert time.monotonic() < deadline, items
        started = time.monotonic()
        items += reader.read()
        assert time.monotonic() - started < 1, "read blocked"
        awake = reader.next_awake()
        if awake is not None:  # what a task does: wait until the reader asks to be read again
            time.sleep(max(0.0, awake.timestamp() - time.time()))
    return items


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_records_round_trip_with_headers_offsets_input_time_and_metrics(broker, transport):
    settings = _settings(broker, transport)
    pipeline = f"edge-{transport}"
    create_topics(settings, ["edge"])
    sent = [OutRecord("edge", b"k1", b"v1", (("eventyard.type", b"Shipped"), ("trace", b"t-1"))),
            OutRecord("edge", None, b"v2"),
            OutRecord("edge", b"k3", None, (("eventyard.type", b"Shipped"),))]
    sink = make_sink(settings, pipeline)
    writer = sink.build_part("out", sink.list_parts()[0], None)
    writer.write_batch([sent])
    writer.snapshot()  # flushes: everything is on the broker after this
    writer.close()

    assert partition_counts(settings, ["edge"]) == {"edge": 1}
    reader = make_partition_reader(settings, "edge", 0, None, pipeline)
    got = _read_until(reader, lambda got: len(got) == 3)
    now = int(time.time() * 1000)
    _read_until(reader, lambda _: reader.input_time_ms(now) == now)  # caught up: the wall clock vouches
    reader.close()
    assert [(m.offset, m.key, m.value, m.headers) for m in got] == [
        (n, r.key, r.value, r.headers) for n, r in enumerate(sent)]
    assert all(m.timestamp_ms > 0 and (m.topic, m.partition) == ("edge", 0) for m in got)
    assert reader.next_offset() == 3
    assert _sample("eventyard_events_in_total", pipeline=pipeline, topic="edge") == 3
    assert _sample("eventyard_consumer_lag", pipeline=pipeline, topic="edge", partition="0") == 0
    assert _sample("eventyard_events_out_total", pipeline=pipeline, topic="edge", type="Shipped") == 2
    assert _sample("eventyard_events_out_total", pipeline=pipeline, topic="edge", type="") == 1

    # resuming at a snapshot offset reads from exactly there
    resumed = make_partition_reader(settings, "edge", 0, 2, pipeline)
    rest = _read_until(resumed, lambda got: bool(got))
    resumed.close()
    assert [m.offset for m in rest] == [2]


def test_lag_counts_what_is_left_behind_a_partial_read(broker, transport):
    settings = _settings(broker, transport, max_poll_records=10)
    pipeline = f"lag-{transport}"
    create_topics(settings, ["lagging"])
    sink = make_sink(settings, pipeline)
    writer = sink.build_part("out", "0", None)
    writer.write_batch([[OutRecord("lagging", b"k", b"%d" % n) for n in range(500)]])
    writer.snapshot()
    writer.close()
    reader = make_partition_reader(settings, "lagging", 0, None, pipeline)
    items = _read_until(reader, lambda got: bool(got))
    assert reader.input_time_ms(int(time.time() * 1000)) == max(m.timestamp_ms for m in items)  # not caught up
    reader.close()
    read = len(items)
    assert 0 < read <= 10
    lag = _sample("eventyard_consumer_lag", pipeline=pipeline, topic="lagging", partition="0")
    assert 0 < lag <= 500 - read


def test_a_missing_input_topic_is_named(broker, transport):
    settings = _settings(broker, transport)
    create_topics(settings, ["present"])
    with pytest.raises(TopicMissingError, match="'absent' does not exist"):
        partition_counts(settings, ["present", "absent"])
