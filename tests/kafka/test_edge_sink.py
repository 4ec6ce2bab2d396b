"""Sink partitions: each worker process writes what it made; every resumable partition has a home.

bytewax picks a record's sink partition by indexing the sorted union of every
worker's `list_parts` with `part_fn` (wrapped), and makes a partition primary on
a worker that listed it. These tests apply that rule to the lists our sinks give.
"""

from __future__ import annotations

import pytest

from eventyard.config import KafkaSettings
from eventyard.core.errors import ConfigError
from eventyard.kafka.edge_sink import MAX_PROCESSES, EdgeSink, process_part


class _Sink(EdgeSink):
    def build_part(self, step_id, for_part, resume_state):  # pragma: no cover - not built here
        raise NotImplementedError


def _cluster(processes: int) -> list[_Sink]:
    return [_Sink(KafkaSettings(), "saga", process, processes) for process in range(processes)]


def _known(sinks: list[_Sink]) -> list[str]:
    return sorted({part for sink in sinks for part in sink.list_parts()})


@pytest.mark.parametrize("processes", [1, 2, 3, 8])
def test_every_record_goes_to_a_partition_only_its_own_process_lists(processes):
    sinks = _cluster(processes)
    known = _known(sinks)
    for sink in sinks:
        for key in ("shard-0", "shard-17", "shard-255"):
            part = known[sink.part_fn(key) % len(known)]
            assert part == process_part(sink.process)
            assert [s.process for s in sinks if part in s.list_parts()] == [sink.process]


@pytest.mark.parametrize("processes", [1, 2, 5])
def test_partitions_of_an_earlier_run_are_listed_after_scaling_down_or_upgrading(processes):
    # bytewax resumes every partition in the recovery store and panics on one no worker lists.
    earlier = {process_part(p) for p in range(MAX_PROCESSES)} | {str(i) for i in range(8)}  # 8: older releases
    assert earlier <= set(_known(_cluster(processes)))


def test_a_process_number_outside_the_cluster_is_refused():
    with pytest.raises(ConfigError):
        _Sink(KafkaSettings(), "saga", process=2, processes=2)
    with pytest.raises(ConfigError):
        _Sink(KafkaSettings(), "saga", process=0, processes=MAX_PROCESSES + 1)
