"""Routing and derived IDs: what must stay the same across processes, runs and versions."""

import uuid

import pytest

from eventyard.core.routing import derived_event_id, shard_key, shard_of

NAMESPACE = uuid.UUID("6f1c7a52-5a53-4c1e-9d4e-0e7a2b9f3c11")


@pytest.mark.parametrize("cause", ["order-1-OrderPlaced-0", "timer/order-1/payment_timeout/3/e-1", "é ü 注文", "x" * 500])
def test_output_ids_are_the_rfc4122_uuid5_of_cause_and_index(cause):
    # Consumers dedup re-emitted outputs by these IDs, so a release must never change them.
    for index in range(3):
        expected = str(uuid.uuid5(NAMESPACE, f"{cause}#{index}"))
        assert derived_event_id(cause, index) == expected
        assert uuid.UUID(expected).version == 5


def test_shards_come_from_crc32_not_python_hash():
    assert shard_of("order-1", 256) == 239 and shard_key(239) == "00239"  # zlib.crc32(b"order-1") % 256
