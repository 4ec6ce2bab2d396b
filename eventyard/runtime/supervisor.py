"""Start a pipeline as N worker processes and stop them together.

Processes, not threads: bytewax threads share the GIL (DESIGN.md 5).
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from pathlib import Path

from eventyard.config import EventyardSettings
from eventyard.importing import python_module_command
from eventyard.kafka import ensure_topics_exist
from eventyard.kafka.reachability import require_reachable
from eventyard.kafka.transport import describe
from eventyard.orphans import ending_with_this_process
from eventyard.runtime.exits import describe_exit, first_exit
from eventyard.runtime.lock import PipelineLock
from eventyard.runtime.peers import CUT_OFF, PeerWatch, cluster_threads
from eventyard.runtime.settings_record import write_record
from eventyard.runtime.cluster import ClusterLayout, check_layout, check_process_count, init_recovery_share
from eventyard.pipelines import get_pipeline
from eventyard.runtime.flow import input_tasks
from eventyard.state import StateDirectory

__all__ = ["PipelineSupervisor"]

log = logging.getLogger(__name__)

# A worker notices by itself when its cluster connection is gone (runtime/peers.py,
# 5 s). Watched from here too, a worker cut off for this long is ended: a backstop for
# a worker whose watch cannot tell (in CI one waited 2 minutes: its watch had first
# looked after the peer was gone, since fixed) or does not get to run.
BACKSTOP_GRACE_S = 20.0


def worker_command(pipeline: str, config_file: Path | None = None) -> list[str]:
    """How a worker process is started (add --process-id/--addresses for a cluster)."""
    command = [*python_module_command("eventyard.runtime.worker"), pipeline]
    return command + ["--config", str(config_file)] if config_file is not None else command


class PipelineSupervisor:
    """Owns the worker processes of one pipeline run on this machine: all of them, or
    this machine's share of a `cluster` (then `processes` is ignored)."""

    def __init__(
        self,
        pipeline: str,
        settings: EventyardSettings,
        processes: int = 1,
        config_file: Path | None = None,
        env: dict[str, str] | None = None,
        log_file: Path | None = None,
        cluster: ClusterLayout | None = None,
    ) -> None:
        if cluster is None:
            check_process_count(processes, processes)
        self.pipeline = pipeline
        self.definition = get_pipeline(pipeline)
        self.settings = settings
        self.processes = processes
        self.config_file = config_file
        self.env = env
        self.log_file = log_file
        self.cluster = cluster
        self.children: list[subprocess.Popen[bytes]] = []
        self.lock: PipelineLock | None = None
        self._stopping = threading.Event()
        self._cut_off: set[int] = set()  # pids of workers this process ended as cut off

    def prepare(self, layout: ClusterLayout) -> None:
        """Check what workers need before any starts, so errors are reported once."""
        share = layout.recovery_share(self.settings.recovery.partitions)
        log.info("kafka transport: %s", describe(self.settings.kafka))  # fails if not installed
        require_reachable(self.settings.kafka)  # in kafka.connect_timeout, not kafka-python's ~30 s
        ensure_topics_exist(self.settings.kafka, self.definition.task_inputs(self.settings))
        self.tasks = input_tasks(self.settings, self.definition)  # refuses inputs not co-partitioned
        if len(layout.local) * max(layout.machines, 1) > self.tasks:
            log.warning("%d processes for %d tasks (partitions per input topic): %d will idle; "
                        "parallelism is capped by the partition count",
                        len(layout.local) * max(layout.machines, 1), self.tasks,
                        len(layout.local) * max(layout.machines, 1) - self.tasks)
        directory = StateDirectory(self.settings.state.dir, self.settings.name, self.tasks)
        directory.ensure()
        check_layout(directory.root, layout, has_stores=bool(directory.existing_tasks()))
        write_record(directory.root, self.settings)  # what `replay` checks its settings against
        init_recovery_share(self.settings.recovery.dir, self.settings.recovery.partitions, share)

    def start(self) -> None:
        layout = self.cluster or ClusterLayout.one_machine(self.processes)
        # First: nothing else (a replay, a second run) may write this state meanwhile.
        self.lock = PipelineLock.acquire(self.settings.state.dir, self.settings.name, "eventyard run")
        try:
            self.prepare(layout)
        except BaseException:
            self.lock.release()
            raise
        command = worker_command(self.pipeline, self.config_file)
        addresses = ";".join(layout.addresses)
        out = self.log_file.open("ab") if self.log_file else None
        for pid in layout.local:
            extra = ["--process-id", str(pid), "--addresses", addresses] if layout.addresses else []
            # A worker outliving `eventyard run` (SIGKILLed) would keep its stores locked.
            # Workers inherit the lock: it is held until the last of them is gone.
            self.children.append(subprocess.Popen(ending_with_this_process(command + extra), env=self.env,
                                                  stdout=out, stderr=subprocess.STDOUT if out else None,
                                                  pass_fds=(self.lock.fileno(),)))
        log.info("started %s with %d process(es): %s", self.pipeline, len(layout.local),
                 ", ".join(str(c.pid) for c in self.children))
        if layout.addresses:
            self.watch_peers(layout.processes - 1)
        if layout.machines > 1:
            log.info("machine %d of %d in the cluster: processes %d-%d of %d (%s)", layout.machine,
                     layout.machines, layout.local[0], layout.local[-1], layout.processes, addresses)

    def watch_peers(self, peers: int, grace: float = BACKSTOP_GRACE_S) -> None:
        """End a worker whose connections to its `peers` are gone for `grace` s."""
        for child in self.children:
            PeerWatch(peers, lambda c=child: self._end_cut_off(c, grace), self._stopping.is_set, grace=grace,
                      count=lambda pid=child.pid: cluster_threads(Path(f"/proc/{pid}/task"))).start()

    def _end_cut_off(self, child: subprocess.Popen[bytes], grace: float) -> None:
        if child.poll() is None:
            log.error("worker pid %d: the connection to another process of the cluster is gone (for %.0f s, "
                      "and the worker has not ended by itself); killing it", child.pid, grace)
            self._cut_off.add(child.pid)
            child.kill()

    def wait(self) -> int:
        """Block until a worker exits; then stop the rest. Returns the exit code of
        the first worker that ended (128 + N if signal N ended it, as a shell does)."""
        exited = first_exit(self.children)
        code = CUT_OFF if exited.pid in self._cut_off else exited.returncode
        if code != 0:
            log.error("worker pid %d %s; stopping the others", exited.pid, describe_exit(code))
        self.stop()
        return 128 - code if code < 0 else code

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM every worker, wait up to `grace` seconds, then SIGKILL."""
        self._stopping.set()
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in self.children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not stop in %.0fs; killing it", child.pid, grace)
                child.kill()
                child.wait()
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> "PipelineSupervisor":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


