"""Routing and derived IDs: what must stay the same across processes, runs and versions."""

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kafka.partitioner.default import murmur2 as kafka_murmur2

from eventyard.core.routing import (derived_event_id, derived_event_ids, key_partition, key_partition_py, murmur2,
                                    task_of)

NAMESPACE = uuid.UUID("6f1c7a52-5a53-4c1e-9d4e-0e7a2b9f3c11")


@pytest.mark.parametrize("cause", ["order-1-OrderPlaced-0", "timer/order-1/payment_timeout/3/e-1", "é ü 注文", "x" * 500])
def test_output_ids_are_the_rfc4122_uuid5_of_cause_and_index(cause):
    # Consumers dedup re-emitted outputs by these IDs, so a release must never change them.
    for index in range(3):
        expected = str(uuid.uuid5(NAMESPACE, f"{cause}#{index}"))
        assert derived_event_id(cause, index) == expected
        assert uuid.UUID(expected).version == 5
    # What output building uses: the same IDs, hashed from one shared prefix.
    assert derived_event_ids(cause, -1, 3) == [str(uuid.uuid5(NAMESPACE, f"{cause}#{i}")) for i in range(-1, 3)]


@pytest.mark.parametrize("key", ["", "a", "ab", "abc", "order-1", "é ü 注文", "x" * 501])
def test_a_keys_task_is_the_partition_kafkas_default_partitioner_picks(key):
    # `state show` finds an aggregate's store by this; producers use the default partitioner.
    assert murmur2(key.encode()) == kafka_murmur2(key.encode())
    assert task_of(key, 12) == (kafka_murmur2(key.encode()) & 0x7FFFFFFF) % 12


@given(key=st.binary(max_size=64), partitions=st.integers(1, 1000))
def test_both_twins_place_a_key_where_kafkas_default_partitioner_does(key, partitions):
    expected = (kafka_murmur2(key) & 0x7FFFFFFF) % partitions
    assert key_partition_py(key, partitions) == expected
    assert key_partition(key, partitions) == expected  # compiled where it was built


def test_a_topic_without_partitions_is_refused_by_both_twins():
    for place in (key_partition_py, key_partition):
        with pytest.raises(ValueError, match="at least one partition"):
            place(b"k", 0)
