"""OutMeter: what `eventyard_events_out` counts for a written batch."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from eventyard.core.records import OutRecord
from eventyard.kafka.meter import OutMeter

_pipelines = iter(range(10**9))


def _out(pipeline: str, topic: str, kind: str) -> float:
    return REGISTRY.get_sample_value("eventyard_events_out_total",
                                     {"pipeline": pipeline, "topic": topic, "type": kind}) or 0.0


headers = st.lists(st.tuples(st.sampled_from(["eventyard.type", "eventyard.event_id", "traceparent", "x"]),
                             st.sampled_from([b"OrderPlaced", b"ChargePayment", b"", b"\xff", None])), max_size=4)


@given(batches=st.lists(st.lists(st.tuples(st.sampled_from(["orders", "orders.dlq"]), headers), max_size=6),
                        max_size=4))
def test_each_record_is_counted_once_under_its_topic_and_first_type_header(batches):
    pipeline = f"meter-{next(_pipelines)}"
    meter = OutMeter(pipeline)
    expected: dict[tuple[str, str], int] = {}
    for batch in batches:
        records = [OutRecord(topic, b"k", b"v", tuple(h)) for topic, h in batch]
        meter.count(records)
        for topic, h in batch:
            kind = (next((v for n, v in h if n == "eventyard.type"), b"") or b"").decode(errors="replace")
            expected[(topic, kind)] = expected.get((topic, kind), 0) + 1
    for (topic, kind), n in expected.items():
        assert _out(pipeline, topic, kind) == n
