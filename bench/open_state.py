"""An order saga holding M open workflows, shared by memory, timers and recovery.

Loading 1M workflows through the pipeline is the slow part of the suite, so a
run loads once and grows the same deployment (100k, then up to 1M): that is
also the question memory asks (does RSS stay flat as open workflows grow?).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bench.saga_env import BenchError, SagaEnv
from bench.workload import Workload, publish

__all__ = ["LoadedSaga", "Session", "REMINDER_AFTER_S"]

# Far beyond the suite's duration: loading 1M takes ~15-25 min here, and a loaded
# workflow's reminder firing during timers or recovery would queue before the probes.
REMINDER_AFTER_S = 6 * 3600
TIMEOUT_S = 12 * 3600


@dataclass
class LoadedSaga:
    env: SagaEnv
    open_workflows: int = 0
    events: int = 0  # input events published so far (probes included)
    load_rate: float = 0.0  # OrderPlaced applied per second during the last growth
    load_cpu_us: float = 0.0  # worker CPU microseconds per OrderPlaced, same window
    rss_samples: list[tuple[int, float]] = field(default_factory=list)  # (applied, RSS MB)

    def grow_to(self, open_workflows: int, timeout: float = 3600) -> None:
        """Publish more open workflows and wait until the worker applied them."""
        more = open_workflows - self.open_workflows
        if more <= 0:
            return
        self.events += publish(self.env.bootstrap,
                               Workload(open_workflows=more, prefix=f"open{self.open_workflows}").records())
        self.open_workflows = open_workflows
        if self.env.supervisor is None:
            self.env.start_workers(1)
        before = self.env.applied()
        first: tuple[float, int, float] | None = None
        deadline = time.monotonic() + timeout
        while True:
            self.env.check_alive()
            applied, now = self.env.applied(), time.monotonic()
            if applied > before:
                first = first or (now, applied, self.env.cpu_seconds())
                self.rss_samples.append((applied, self.env.rss_mb()[0]))
            if applied >= self.events:
                break
            if now > deadline:
                raise BenchError(f"applied {applied} of {self.events} events in {timeout:.0f}s")
            time.sleep(1.0)
        assert first is not None
        self.load_rate = (self.events - first[1]) / max(time.monotonic() - first[0], 1e-9)
        self.load_cpu_us = 1e6 * (self.env.cpu_seconds() - first[2]) / max(self.events - first[1], 1)

    def note_extra_events(self, count: int) -> None:
        """Probes sent by a measurement count towards what the worker must apply."""
        self.events += count


@dataclass
class Session:
    """What measurements of one `python -m bench` run share."""

    loaded: LoadedSaga | None = None

    def open_saga(self, open_workflows: int) -> LoadedSaga:
        """A running deployment with at least `open_workflows` open (grown if fewer)."""
        if self.loaded is None or self.loaded.env.supervisor is None \
                or self.loaded.open_workflows > open_workflows:
            self.close()
            env = SagaEnv(f"open{open_workflows}", {
                "EVENTYARD_ORDER_SAGA__PAYMENT_REMINDER_AFTER": f"{REMINDER_AFTER_S}s",
                "EVENTYARD_ORDER_SAGA__PAYMENT_TIMEOUT": f"{TIMEOUT_S}s",
            })
            self.loaded = LoadedSaga(env.__enter__())
        try:
            self.loaded.grow_to(open_workflows)
        except BaseException:
            self.close()
            raise
        return self.loaded

    def close(self) -> None:
        if self.loaded is not None:
            self.loaded.env.__exit__(None, None, None)
            self.loaded = None
