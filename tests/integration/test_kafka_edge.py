"""Both pipeline transports behave the same at the edge, on the real embedded broker."""

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from eventyard.config import KafkaSettings
from eventyard.core.errors import TopicMissingError
from eventyard.kafka import create_topics, make_sink, make_source
from eventyard.core.records import InputTick, OutRecord, SourceMessage

pytestmark = [pytest.mark.integration, pytest.mark.both_transports]


def _settings(broker, transport: str, **kw) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=broker.bootstrap_servers, client=transport, topic_partitions=1,
                         tick_interval=timedelta(milliseconds=50), **kw)


def _read_until(part, done: Callable[[list], bool], timeout: float = 30) -> list:
    items: list = []
    deadline = time.monotonic() + timeout
    while not done(items):
        assert time.monotonic() < deadline, items
        started = time.monotonic()
        items += part.next_batch()
        assert time.monotonic() - started < 1, "next_batch blocked"
        awake = part.next_awake()
        if awake is not None:  # what bytewax does: wait until the source asks to be woken
            time.sleep(max(0.0, awake.timestamp() - time.time()))
    return items


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_records_round_trip_with_headers_offsets_ticks_and_metrics(broker, transport):
    settings = _settings(broker, transport)
    pipeline = f"edge-{transport}"
    create_topics(settings, ["edge"])
    sent = [OutRecord("edge", b"k1", b"v1", (("eventyard.type", b"Shipped"), ("trace", b"t-1"))),
            OutRecord("edge", None, b"v2"),
            OutRecord("edge", b"k3", None, (("eventyard.type", b"Shipped"),))]
    sink = make_sink(settings, pipeline)
    writer = sink.build_part("out", sink.list_parts()[0], None)
    writer.write_batch(sent)
    writer.snapshot()  # flushes: everything is on the broker after this
    writer.close()

    source = make_source(settings, ["edge"], pipeline)
    assert source.list_parts() == ["0-edge"]
    reader = source.build_part("in", "0-edge", None)
    before = time.time() * 1000
    items = _read_until(reader, lambda got: any(isinstance(i, InputTick) and i.input_time_ms >= before
                                                for i in got))
    reader.close()
    got = [i for i in items if isinstance(i, SourceMessage)]
    assert [(m.offset, m.key, m.value, m.headers) for m in got] == [
        (n, r.key, r.value, r.headers) for n, r in enumerate(sent)]
    assert all(m.timestamp_ms > 0 and (m.topic, m.partition) == ("edge", 0) for m in got)
    assert reader.snapshot() == 3
    assert _sample("eventyard_events_in_total", pipeline=pipeline, topic="edge") == 3
    assert _sample("eventyard_consumer_lag", pipeline=pipeline, topic="edge", partition="0") == 0
    assert _sample("eventyard_events_out_total", pipeline=pipeline, topic="edge", type="Shipped") == 2
    assert _sample("eventyard_events_out_total", pipeline=pipeline, topic="edge", type="") == 1

    # resuming at a snapshot offset reads from exactly there
    resumed = source.build_part("in", "0-edge", 2)
    rest = _read_until(resumed, lambda got: any(isinstance(i, SourceMessage) for i in got))
    resumed.close()
    assert [m.offset for m in rest if isinstance(m, SourceMessage)] == [2]


def test_lag_counts_what_is_left_behind_a_partial_read(broker, transport):
    settings = _settings(broker, transport, max_poll_records=10)
    pipeline = f"lag-{transport}"
    create_topics(settings, ["lagging"])
    sink = make_sink(settings, pipeline)
    writer = sink.build_part("out", "0", None)
    writer.write_batch([OutRecord("lagging", b"k", b"%d" % n) for n in range(500)])
    writer.snapshot()
    writer.close()
    reader = make_source(settings, ["lagging"], pipeline).build_part("in", "0-lagging", None)
    items = _read_until(reader, lambda got: any(isinstance(i, SourceMessage) for i in got))
    reader.close()
    read = sum(isinstance(i, SourceMessage) for i in items)
    assert 0 < read <= 10
    lag = _sample("eventyard_consumer_lag", pipeline=pipeline, topic="lagging", partition="0")
    assert 0 < lag <= 500 - read


def test_a_missing_input_topic_is_named(broker, transport):
    settings = _settings(broker, transport)
    create_topics(settings, ["present"])
    with pytest.raises(TopicMissingError, match="'absent' does not exist"):
        make_source(settings, ["present", "absent"], "order_saga").list_parts()
