"""Where a run's worker processes are: one machine, or several forming one cluster.

A cluster is the same `eventyard run` on every machine, told the machines in one
order and which of them it is on. Machine M runs processes M*P .. M*P+P-1 (P is
`--processes`, the same everywhere); bytewax connects them by address.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import orjson
from bytewax.recovery import init_db_dir

from eventyard.core.errors import ConfigError
from eventyard.kafka.edge_sink import MAX_PROCESSES
from eventyard.ports import free_ports

__all__ = ["DEFAULT_CLUSTER_PORT", "LAYOUT_FILE", "ClusterLayout", "check_layout", "check_process_count",
           "init_recovery_share", "recorded_machine"]

# First port of a machine's processes when `--cluster` names a host without one.
DEFAULT_CLUSTER_PORT = 2101
# The layout a state directory last ran under, kept in it.
LAYOUT_FILE = "cluster-layout.json"


@dataclass(frozen=True)
class ClusterLayout:
    """Every process's `host:port` in process-id order (empty for a lone process),
    the processes this run starts, and which of `machines` this is."""

    addresses: tuple[str, ...]
    local: range
    machine: int = 0
    machines: int = 1

    @classmethod
    def one_machine(cls, processes: int) -> "ClusterLayout":
        """All processes here, on loopback ports free right now (count checked by the caller)."""
        ports = free_ports(processes) if processes > 1 else []
        return cls(tuple(f"127.0.0.1:{port}" for port in ports), range(processes))

    @classmethod
    def parse(cls, cluster: str, machine: int, processes: int) -> "ClusterLayout":
        """`host[:port],host[:port],...` as given to `eventyard run --cluster`; each
        machine's processes take consecutive ports from its port (default 2101)."""
        hosts = [_host_port(part.strip()) for part in cluster.split(",") if part.strip()]
        if not hosts:
            raise ConfigError("--cluster needs at least one host, e.g. --cluster 10.0.0.1,10.0.0.2")
        if not 0 <= machine < len(hosts):
            raise ConfigError(f"--machine must be between 0 and {len(hosts) - 1} "
                              f"(this machine's position in --cluster), got {machine}")
        check_process_count(processes, processes * len(hosts))
        addresses = tuple(f"{host}:{port + i}" for host, port in hosts for i in range(processes))
        if len(set(addresses)) != len(addresses):
            raise ConfigError(f"--cluster gives two processes one address ({';'.join(addresses)}): "
                              f"machines on one host need ports at least --processes apart")
        first = machine * processes
        return cls(addresses, range(first, first + processes), machine, len(hosts))

    @property
    def processes(self) -> int:
        """Processes in the whole cluster."""
        return max(len(self.addresses), 1)

    def record(self) -> dict[str, int]:
        """What a state directory remembers of the layout it ran under."""
        if self.machines == 1:
            return {"machines": 1}
        return {"machines": self.machines, "machine": self.machine, "processes_each": len(self.local)}

    def recovery_share(self, partitions: int) -> list[int]:
        """The recovery partitions this machine keeps: each machine a disjoint share, together all."""
        if partitions < self.machines:
            raise ConfigError(f"recovery.partitions ({partitions}) must be at least the number of "
                              f"machines in --cluster ({self.machines}): each keeps some")
        return [p for p in range(partitions) if p % self.machines == self.machine]


def check_layout(state_dir: Path, layout: ClusterLayout, has_stores: bool) -> None:
    """Refuse to run a state directory under another layout of machines; record this one.

    Which process owns a task follows from the cluster's process count, and a store
    stays on the disk of the machine that ran it. On one machine every store is on
    the one disk, so any process count works; across machines a changed layout
    would start tasks whose stores are on another machine. bytewax's snapshots
    catch that only when it resumes from one, so this does not rely on them.
    """
    now = layout.record()
    # A state directory from before layouts were recorded ran on one machine.
    before = _recorded(state_dir) or ({"machines": 1} if has_stores else now)
    if before != now and before["machines"] != 1:  # one machine held every store: any layout may follow
        raise ConfigError(
            f"{state_dir} last ran as {_describe(before)}, now {_describe(now)}: its task stores are where "
            f"the previous layout put them. Start the previous layout, or stop every machine and rebuild "
            f"each one's state with `eventyard replay` before starting the new layout (docs/operations.md, "
            f"\"Several machines\")")
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / LAYOUT_FILE).write_bytes(orjson.dumps(now))


def recorded_machine(state_dir: Path) -> str | None:
    """'machine I of M' if `state_dir` last ran as part of a multi-machine cluster."""
    record = _recorded(state_dir)
    return f"machine {record['machine']} of {record['machines']}" if record and record["machines"] > 1 else None


def _recorded(state_dir: Path) -> dict[str, int] | None:
    record = state_dir / LAYOUT_FILE
    return orjson.loads(record.read_bytes()) if record.exists() else None


def _describe(record: dict[str, int]) -> str:
    if record["machines"] == 1:
        return "one machine"
    return f"machine {record['machine']} of {record['machines']} with {record['processes_each']} process(es) each"


def init_recovery_share(directory: Path, partitions: int, share: list[int]) -> None:
    """Create this machine's recovery partitions if `directory` is empty, else check it
    holds none of another machine's.

    bytewax needs the cluster as a whole to hold every partition; a partition found
    on two machines would be read from one of them, whichever bytewax picks.
    """
    found = sorted(int(p.name[5:-8]) for p in directory.glob("part-*.sqlite3")) if directory.is_dir() else []
    if found:
        foreign = sorted(set(found) - set(share))
        if foreign:
            raise ConfigError(
                f"{directory} holds recovery partitions {foreign} that other machines of --cluster keep "
                f"(this machine keeps {share}): it was made for another layout. Start that layout, or "
                f"rebuild state with `eventyard replay`, which sets the recovery directory aside")
        return
    if directory.is_dir() and any(directory.iterdir()):
        return  # not bytewax's partitions: left for bytewax to report
    directory.mkdir(parents=True, exist_ok=True)
    made = Path(tempfile.mkdtemp(prefix=".init-", dir=directory))
    try:
        init_db_dir(made, partitions)
        for index in share:
            (made / f"part-{index}.sqlite3").rename(directory / f"part-{index}.sqlite3")
    finally:
        shutil.rmtree(made, ignore_errors=True)


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, DEFAULT_CLUSTER_PORT
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--cluster: {text!r} is not host or host:port")
    return host, int(port)


def check_process_count(processes: int, total: int) -> None:
    """`processes` per machine, `total` in the cluster: at most as many as the sink has partitions for."""
    if processes < 1 or total > MAX_PROCESSES:
        where = f" in the whole cluster, got {processes} per machine, {total} in all" if total != processes \
            else f", got {processes}"
        raise ConfigError(f"--processes must be between 1 and {MAX_PROCESSES}{where}")
