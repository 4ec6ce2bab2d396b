"""Cluster layouts: which process runs where, and which recovery partitions each machine keeps."""

from __future__ import annotations

import pytest

from eventyard.core.errors import ConfigError, StoreMissingError
from eventyard.cli.inspect import read_instance
from eventyard.runtime.cluster import ClusterLayout, check_layout, init_recovery_share


def test_each_machine_runs_its_own_consecutive_process_numbers():
    layouts = [ClusterLayout.parse("10.0.0.1,10.0.0.2:3000", m, processes=2) for m in range(2)]
    assert [list(layout.local) for layout in layouts] == [[0, 1], [2, 3]]
    # Every machine hands bytewax the same address list, in process-id order.
    assert layouts[0].addresses == layouts[1].addresses == (
        "10.0.0.1:2101", "10.0.0.1:2102", "10.0.0.2:3000", "10.0.0.2:3001")
    assert layouts[1].processes == 4


def test_machines_keep_disjoint_recovery_partitions_that_together_are_all():
    shares = [ClusterLayout.parse("a,b,c", m, 1).recovery_share(8) for m in range(3)]
    assert sorted(p for share in shares for p in share) == list(range(8))


def test_one_machine_keeps_every_recovery_partition_and_lone_process_has_no_addresses():
    assert ClusterLayout.one_machine(3).recovery_share(4) == [0, 1, 2, 3]
    assert len(set(ClusterLayout.one_machine(3).addresses)) == 3
    assert ClusterLayout.one_machine(1).addresses == ()


def test_init_recovery_share_creates_only_this_machines_partitions(tmp_path):
    init_recovery_share(tmp_path / "recovery", 4, [1, 3])
    assert sorted(p.name for p in (tmp_path / "recovery").iterdir()) == ["part-1.sqlite3", "part-3.sqlite3"]


@pytest.mark.parametrize(("cluster", "machine", "processes", "message"), [
    ("a,b", 2, 1, "--machine must be between 0 and 1"),
    ("", 0, 1, "--cluster needs at least one host"),
    ("a:x", 0, 1, "'a:x' is not host or host:port"),
    ("h:2101,h:2102", 0, 2, "two processes one address"),
    ("a,b", 0, 129, "between 1 and 256 in the whole cluster, got 129 per machine, 258 in all"),
])
def test_a_layout_that_cannot_work_is_refused_with_what_to_fix(cluster, machine, processes, message):
    with pytest.raises(ConfigError, match=message):
        ClusterLayout.parse(cluster, machine, processes)


def test_fewer_recovery_partitions_than_machines_is_refused():
    with pytest.raises(ConfigError, match=r"recovery.partitions \(2\) must be at least .* \(3\)"):
        ClusterLayout.parse("a,b,c", 0, 1).recovery_share(2)


def test_a_state_directory_runs_only_under_the_multi_machine_layout_it_last_ran_under(tmp_path):
    machine0 = ClusterLayout.parse("a,b", 0, 1)
    check_layout(tmp_path, machine0, has_stores=False)
    check_layout(tmp_path, machine0, has_stores=True)  # a restart
    for other in (ClusterLayout.parse("a,b", 1, 1), ClusterLayout.parse("a,b", 0, 2),
                  ClusterLayout.parse("a,b,c", 0, 1), ClusterLayout.one_machine(2)):
        with pytest.raises(ConfigError, match="last ran as machine 0 of 2 with 1 process.*eventyard replay"):
            check_layout(tmp_path, other, has_stores=True)


def test_one_machines_state_may_start_any_layout_and_rescales_freely_on_one_machine(tmp_path):
    # A one-machine state directory holds every store (or was rebuilt by replay).
    check_layout(tmp_path / "old", ClusterLayout.one_machine(1), has_stores=True)
    check_layout(tmp_path / "old", ClusterLayout.one_machine(3), has_stores=True)
    check_layout(tmp_path / "old", ClusterLayout.parse("a,b", 1, 2), has_stores=True)
    # A directory from before layouts were recorded, with stores: it ran on one machine.
    check_layout(tmp_path / "unrecorded", ClusterLayout.parse("a,b", 0, 1), has_stores=True)


def test_a_recovery_directory_holding_another_machines_partitions_is_refused(tmp_path):
    init_recovery_share(tmp_path, 4, [0, 1, 2, 3])  # made on one machine
    with pytest.raises(ConfigError, match=r"holds recovery partitions \[1, 3\] .*this machine keeps \[0, 2\]"):
        init_recovery_share(tmp_path, 4, [0, 2])
    init_recovery_share(tmp_path, 4, [0, 1, 2, 3])  # the same layout again: kept as it is
    assert len(list(tmp_path.glob("part-*.sqlite3"))) == 4


def test_state_show_on_a_cluster_machine_says_the_task_may_be_on_another(make_settings):
    settings = make_settings()
    check_layout(settings.state.dir, ClusterLayout.parse("a,b", 1, 2), has_stores=False)
    with pytest.raises(StoreMissingError, match="no task stores .* machine 1 of 2 of a cluster, .* another machine"):
        read_instance(settings, "order-000001")
