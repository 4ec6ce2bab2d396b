"""One pipeline on two machines: `eventyard run --cluster A,B --machine I` on each.

Two machines are simulated on this one: two `eventyard run` trees, each with its own
state and recovery directories (its "disk"), on loopback addresses.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from eventyard.demo.traffic import FAST_OUTCOMES, plan_orders
from eventyard.ports import free_ports
from eventyard.state import StateDirectory
from tests.conftest import REPO

pytestmark = pytest.mark.integration


class TwoMachines:
    def __init__(self, root: Path, start_pipeline) -> None:
        self.root = root
        self.start_pipeline = start_pipeline
        self.cluster = ",".join(f"127.0.0.1:{port}" for port in free_ports(2))

    def disk(self, machine: int) -> dict[str, str]:
        return {"EVENTYARD_STATE__DIR": str(self.root / f"machine-{machine}" / "state"),
                "EVENTYARD_RECOVERY__DIR": str(self.root / f"machine-{machine}" / "recovery")}

    def start(self, disks: tuple[int, int] = (0, 1)) -> list:
        """Machine m runs on disk `disks[m]` (swapped: each on the other's disk)."""
        return [self.start_pipeline(processes=1, args=("--cluster", self.cluster, "--machine", str(m)),
                                    env=self.disk(disks[m])) for m in range(2)]

    @staticmethod
    def stop(runs: list) -> list[int]:
        """SIGTERM every machine at once, as an operator stops a cluster; their exit codes."""
        for run in runs:
            run.stopped = True
            if run.process.poll() is None:
                run.process.send_signal(signal.SIGTERM)
        return [run.process.wait(timeout=60) for run in runs]

    def directory(self, settings, machine: int) -> StateDirectory:
        return StateDirectory(Path(self.disk(machine)["EVENTYARD_STATE__DIR"]), settings.name)


def test_two_machines_split_the_tasks_and_resume_after_a_restart(live_settings, start_pipeline, make_driver, tmp_path):
    settings = live_settings()
    machines = TwoMachines(tmp_path, start_pipeline)
    scenarios = plan_orders(1000, FAST_OUTCOMES, seed=17)
    driver = make_driver(settings, scenarios)
    first, second = scenarios[:500], scenarios[500:]
    runs = machines.start()
    driver.send(r for s in first for r in s.initial_events())
    start_pipeline.settle(driver, lambda: len(driver.collector.tally.by_aggregate) >= 100)
    assert machines.stop(runs) == [0, 0]  # mid-stream
    runs = machines.start()
    driver.send(r for s in second for r in s.initial_events())
    start_pipeline.settle(driver, driver.all_as_expected)
    # One machine stopped alone: the other, cut off, ends by itself (bytewax would not).
    assert runs[1].stop() == 0
    assert runs[0].process.wait(timeout=120) == 3
    runs[0].stopped = True
    assert "the connection to another process of the cluster is gone" in runs[0].log.read_text()

    # Each machine's disk holds the stores of the tasks its process owns, none of the other's.
    tasks = [set(machines.directory(settings, m).existing_tasks()) for m in range(2)]
    assert tasks[0] and tasks[1] and not tasks[0] & tasks[1]
    assert all(len(list((tmp_path / f"machine-{m}" / "recovery").glob("part-*.sqlite3"))) == 2 for m in range(2))
    instances = {}
    for m in range(2):
        instances.update(machines.directory(settings, m).read_instances())
    assert len(instances) == 1000
    for order_id, instance in instances.items():
        event_ids = [h[1] for h in instance["history"]]
        assert len(event_ids) == len(set(event_ids)), order_id  # nothing applied twice across the restart
        assert instance["version"] == len(event_ids), order_id


def test_a_changed_layout_is_refused_before_any_worker_starts_and_starts_after_replay_on_every_machine(
        live_settings, start_pipeline, make_driver, tmp_path):
    settings = live_settings()
    machines = TwoMachines(tmp_path, start_pipeline)
    driver = make_driver(settings, plan_orders(50, FAST_OUTCOMES, seed=4))
    runs = machines.start()
    driver.send_initial()
    start_pipeline.settle(driver, driver.all_as_expected)
    assert machines.stop(runs) == [0, 0]
    before = [set(machines.directory(settings, m).existing_tasks()) for m in range(2)]

    runs = machines.start(disks=(1, 0))  # each machine now on the other's disk: its tasks are elsewhere
    assert [run.process.wait(timeout=120) for run in runs] == [2, 2]
    for m, run in enumerate(runs):
        run.stopped = True
        log = run.log.read_text(errors="replace")
        assert f"last ran as machine {1 - m} of 2 with 1 process(es) each, now machine {m} of 2" in log
        assert "eventyard replay" in log and "started order_saga" not in log
    # Refused, not recreated empty: both disks hold exactly the shards they had.
    assert [set(machines.directory(settings, m).existing_tasks()) for m in range(2)] == before

    # The way to a new layout: replay on every machine, then start it.
    for m in range(2):
        replayed = subprocess.run([sys.executable, "-m", "eventyard", "replay", "order_saga"], cwd=REPO,
                                  env={**os.environ, **machines.disk(m)}, capture_output=True, text=True, timeout=600)
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    runs = machines.start(disks=(1, 0))
    later = make_driver(settings, plan_orders(50, FAST_OUTCOMES, seed=5, prefix="later"))
    later.send_initial()
    start_pipeline.settle(later, later.all_as_expected)
    assert machines.stop(runs) == [0, 0]
    instances = {}
    for m in range(2):
        instances.update(machines.directory(settings, m).read_instances())
    assert len(instances) == 100  # the first 50 orders rebuilt, the later 50 applied
