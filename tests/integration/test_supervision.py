"""`eventyard run` and its workers live and die together."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from tests.test_orphans import alive, wait_until

pytestmark = pytest.mark.integration


def test_workers_end_when_eventyard_run_is_sigkilled(live_settings, start_pipeline):
    live_settings()
    run = start_pipeline(processes=2)
    started = re.compile(r"started order_saga with 2 process\(es\): (\d+), (\d+)")
    assert wait_until(lambda: started.search(run.log.read_text(errors="replace")) is not None, timeout=120)
    workers = [int(pid) for pid in started.search(run.log.read_text()).groups()]
    running = lambda pid: "eventyard.runtime.worker" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")  # noqa: E731
    assert wait_until(lambda: all(running(pid) for pid in workers), timeout=60)
    run.process.send_signal(signal.SIGKILL)  # no chance to stop them itself
    run.process.wait()
    # Left running they would keep consuming and keep their shard stores locked.
    assert wait_until(lambda: not any(alive(pid) for pid in workers), timeout=60), workers
