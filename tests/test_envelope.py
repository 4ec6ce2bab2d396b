"""The envelope's timestamps: what records made at a given millisecond say."""

from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from eventyard.core.envelope import Envelope, iso_utc


def test_occurred_at_of_a_millisecond_is_rfc3339_utc_and_reads_back_as_that_instant():
    for ms in (0, 1_795_449_067_460, 1_795_449_067_000, 1_795_449_067_001, 4_102_444_799_999):
        text = iso_utc(ms)
        assert text == datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat()
        envelope = Envelope(event_id="e", type="T", aggregate_id="a", occurred_at=text, producer="p", payload={})
        assert int(envelope.occurred_at.timestamp() * 1000) == ms
    assert iso_utc(1_795_449_067_000).endswith(":07+00:00")  # whole seconds: no fraction, as isoformat


@given(st.integers(min_value=-(10**12), max_value=7_258_118_399_999))  # 1938 .. 2199
def test_occurred_at_is_spelled_as_isoformat_spells_it_for_any_millisecond(ms: int) -> None:
    assert iso_utc(ms) == datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat()
