"""A throwaway order-saga deployment: embedded broker, topics, state dirs, workers.

Every measurement opens its own (`with SagaEnv(...) as env:`) and everything,
broker and worker processes included, is stopped and deleted on exit.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from eventyard.config import EventyardSettings
from eventyard.broker import EmbeddedBroker
from eventyard.kafka import create_topics
from eventyard.ports import free_ports
from eventyard.runtime import PipelineSupervisor
from eventyard.pipelines import get_pipeline

__all__ = ["SagaEnv", "Progress", "patched_environ", "BenchError"]

PIPELINE = "order_saga"


@dataclass(frozen=True)
class Progress:
    events: int
    seconds: float
    cpu_seconds: float  # worker CPU time over the same window: robust to a busy machine
    broker_cpu_seconds: float = 0.0  # the embedded broker's, same window

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def worker_cores(self) -> float:
        """Cores the workers kept busy on average (all their threads)."""
        return self.cpu_seconds / self.seconds if self.seconds else float("nan")

    @property
    def broker_cores(self) -> float:
        return self.broker_cpu_seconds / self.seconds if self.seconds else float("nan")

    @property
    def cpu_us_per_event(self) -> float:
        return 1e6 * self.cpu_seconds / self.events if self.events else float("nan")


class BenchError(RuntimeError):
    """A measurement could not complete (timeout, worker died)."""


@contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _metrics_ports(count: int) -> int:
    """A base port such that base..base+count-1 are free now (worker N uses base+N)."""
    for _ in range(50):
        base = free_ports()[0]
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise BenchError("no run of free ports for worker metrics")


class SagaEnv:
    def __init__(self, name: str, extra_env: dict[str, str] | None = None) -> None:
        self.work = Path(tempfile.mkdtemp(prefix=f"eventyard-bench-{name}-"))
        self.broker = EmbeddedBroker(log_file=self.work / "broker.log")
        self.extra_env = extra_env or {}
        self.definition = get_pipeline(PIPELINE)
        self.supervisor: PipelineSupervisor | None = None
        self.metrics_base = 0
        self.env: dict[str, str] = {}
        self.settings: EventyardSettings

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap_servers

    def __enter__(self) -> "SagaEnv":
        self.broker.start()
        self.env = {
            "EVENTYARD_KAFKA__BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
            "EVENTYARD_STATE__DIR": str(self.work / "state"),
            "EVENTYARD_RECOVERY__DIR": str(self.work / "recovery"),
            "EVENTYARD_LOG_LEVEL": "WARNING",
            **self.extra_env,
        }
        with patched_environ(self.env):
            self.settings = self.definition.settings()
        create_topics(self.settings.kafka, self.definition.topics(self.settings))
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_workers()
        self.broker.stop()
        shutil.rmtree(self.work, ignore_errors=True)

    # -- workers ------------------------------------------------------------------
    def start_workers(self, processes: int = 1) -> PipelineSupervisor:
        self.stop_workers()
        self.metrics_base = _metrics_ports(processes)
        env = {**os.environ, **self.env, "EVENTYARD_METRICS__PORT": str(self.metrics_base)}
        with patched_environ(env):
            settings = self.definition.settings()
        self.supervisor = PipelineSupervisor(PIPELINE, settings, processes, env=env,
                                             log_file=self.work / "workers.log")
        self.supervisor.start()
        return self.supervisor

    def stop_workers(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop(grace=20)
            self.supervisor = None

    def kill_workers(self) -> None:
        """SIGKILL, as a crash would (of the workers and of the `eventyard run` that
        started them: its pipeline lock goes too)."""
        if self.supervisor is not None:
            for child in self.supervisor.children:
                child.kill()
                child.wait()
            if self.supervisor.lock is not None:
                self.supervisor.lock.release()
            self.supervisor = None

    def worker_pids(self) -> list[int]:
        return [c.pid for c in self.supervisor.children] if self.supervisor else []

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by all worker processes (all threads)."""
        total = 0.0
        for pid in self.worker_pids():
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        return total

    def broker_cpu_seconds(self) -> float:
        """User + system CPU time used so far by the embedded broker."""
        pid = self.broker.pid
        if pid is None:
            return 0.0
        times = psutil.Process(pid).cpu_times()
        return times.user + times.system

    def rss_mb(self) -> list[float]:
        return [psutil.Process(pid).memory_info().rss / 2**20 for pid in self.worker_pids()]

    def check_alive(self) -> None:
        """Raise BenchError with the log's tail if a worker exited."""
        for child in self.supervisor.children if self.supervisor else []:
            if child.poll() is not None:
                tail = (self.work / "workers.log").read_text(errors="replace")[-2000:]
                raise BenchError(f"worker {child.pid} exited with {child.returncode}:\n{tail}")

    # -- progress -----------------------------------------------------------------
    def _scrape(self, port: int) -> dict[str, float]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return {}
        totals: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith(("eventyard_events_applied_total", "eventyard_timers_fired_total")):
                name, value = line.split("{", 1)[0], float(line.rsplit(" ", 1)[1])
                totals[name] = totals.get(name, 0.0) + value
        return totals

    def applied(self) -> int:
        processes = len(self.worker_pids())
        return int(sum(self._scrape(self.metrics_base + i).get("eventyard_events_applied_total", 0)
                       for i in range(processes)))

    def wait_applied(self, target: int, timeout: float, start_at: int = 1) -> "Progress":
        """Poll worker metrics until `target` events are applied.

        Measured from when `start_at` events were applied, so worker start-up (and
        a warm-up past start-up) is excluded.
        """
        deadline = time.monotonic() + timeout
        first: tuple[float, int, float, float] | None = None
        while time.monotonic() < deadline:
            self.check_alive()
            n = self.applied()
            now = time.monotonic()
            if n >= start_at and first is None:
                first = (now, n, self.cpu_seconds(), self.broker_cpu_seconds())
            if n >= target:
                assert first is not None
                return Progress(n - first[1], now - first[0], self.cpu_seconds() - first[2],
                                self.broker_cpu_seconds() - first[3])
            time.sleep(0.1)
        raise BenchError(f"only {self.applied()} of {target} events applied within {timeout:.0f}s")
