"""Output records: each envelope is the JSON of one dict, whichever path wrote it."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventyard.core import native
from eventyard.core.routing import derived_event_ids
from eventyard.operators import outputs
from eventyard.operators.api import Emit

text = st.text(max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=8)
paths = ["compiled", "pure"] if native.compiled is not None else ["pure"]


@pytest.mark.parametrize("path", paths)
@given(emits=st.lists(st.builds(Emit, text, text, st.dictionaries(text, json_values, max_size=4)), max_size=3),
       key=text, cause_id=text, correlation_id=st.none() | text, now_ms=st.integers(0, 2**42))
def test_each_envelope_is_orjson_of_its_fields_in_order(path, emits, key, cause_id, correlation_id, now_ms):
    # Consumers (and re-emission after a crash) see exactly orjson.dumps of this dict.
    cause = None
    with pytest.MonkeyPatch.context() as patch:
        if path == "pure":
            patch.setattr(outputs, "compiled", None)
        records = outputs.output_records(emits, ["t"] * len(emits), pipeline="saga", key=key, cause_id=cause_id,
                                         cause=cause, correlation_id=correlation_id, now_ms=now_ms)
    ids = derived_event_ids(cause_id, 0, len(emits))
    for record, emit, event_id in zip(records, emits, ids):
        assert record.value == orjson.dumps({
            "event_id": event_id, "type": emit.type, "aggregate_id": key, "occurred_at": outputs.iso_utc(now_ms),
            "producer": "saga", "schema_version": 1, "trace_id": correlation_id, "causation_id": cause_id,
            "correlation_id": correlation_id, "hops": 1, "payload": emit.payload})
    assert len(records) == len(emits)
