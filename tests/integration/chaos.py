"""Chaos harness: SIGKILL random workers of `eventyard run` at random points."""

from __future__ import annotations

import os
import random
import time
import signal
from pathlib import Path

from tests.conftest import PipelineLauncher, RunningPipeline

__all__ = ["Chaos", "worker_pids"]


def worker_pids(run: RunningPipeline) -> list[int]:
    """The bytewax worker processes the supervisor started."""
    pid = run.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


class Chaos:
    def __init__(self, launcher: PipelineLauncher, seed: int) -> None:
        self.launcher = launcher
        self.seed = seed
        self.rng = random.Random(seed)
        self.kills = 0

    def kill_random_worker(self, run: RunningPipeline) -> None:
        """SIGKILL one worker; the supervisor then stops the others and exits."""
        pids: list[int] = []
        while not pids:  # the supervisor may not have spawned them yet
            run.check_alive()
            pids = worker_pids(run)
            if not pids:
                time.sleep(0.05)
        os.kill(self.rng.choice(pids), signal.SIGKILL)
        self.kills += 1
        code = run.process.wait(timeout=120)
        run.stopped = True  # ended on purpose: settle() no longer checks it
        assert code != 0, f"supervisor should report the killed worker (seed {self.seed})"
