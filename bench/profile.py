"""Profile of the order-saga worker under load (py-spy, sampling, attached to the
worker process while it drains a backlog of orders).

Writes the raw collapsed stacks next to the results and reports the functions
with the most self time and the most inclusive time, as shares of all samples
py-spy took of non-idle threads (the Kafka producer's I/O thread included).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from bench.saga_env import BenchError, SagaEnv
from bench.scale import Scale
from bench.workload import Workload, publish

__all__ = ["run", "summarize"]

_WARM_EVENTS = 5000
# The backlog must outlast the sampling window at the fastest rate a worker has
# shown here (16,520 events/s on a calm box, 2026-12-07; saga_orders * 3 ran out).
# 40,000 events/s leaves room; an order is ~3.5 events.
_BACKLOG_EVENTS_PER_S = 40_000
_EVENTS_PER_ORDER = 3.5
# Frames on every stack of their thread: 100% inclusive, telling nothing.
_BOILERPLATE = ("<module> (", "_run_module_as_main (", "_run_code (", "main (eventyard/runtime/worker.py)",
                "Thread._bootstrap (", "Thread._bootstrap_inner (", "Thread.run (")
_LINE = re.compile(r":\d+\)$")


def _frame(raw: str) -> str:
    """'apply (operators/engine.py:123)' -> 'apply (operators/engine.py)', paths shortened."""
    name = _LINE.sub(")", raw.strip())
    return re.sub(r"\(/.*?/(site-packages|wt-bench|main)/", "(", name)


def summarize(collapsed: str, top: int = 15) -> dict[str, list]:
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";") if f and not f.startswith("process ")
                  and not f.startswith("thread ")]
        if not frames:
            continue
        total += n
        self_time[frames[-1]] += n
        for frame in set(frames):
            if not frame.startswith(_BOILERPLATE):
                inclusive[frame] += n
    share = lambda c: [[name, round(100 * k / total, 1)] for name, k in c.most_common(top)]  # noqa: E731
    return {"samples": [["total", total]], "self": share(self_time), "inclusive": share(inclusive)}


def run(scale: Scale, out_dir: Path) -> tuple[dict[str, float], dict[str, list]]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise BenchError("py-spy is not installed (pip install -e '.[bench]')")
    raw = out_dir / "profile-order-saga.txt"
    with SagaEnv("profile") as env:
        # Enough backlog that the worker stays busy for the whole sampling window.
        orders = int((_WARM_EVENTS + scale.profile_seconds * _BACKLOG_EVENTS_PER_S) / _EVENTS_PER_ORDER)
        events = publish(env.bootstrap, Workload(orders=orders).records(), causal=True)
        env.start_workers(1)
        # Past start-up: by then every task store is open (recovery.py measures
        # opening them), so the samples are the steady state.
        env.wait_applied(_WARM_EVENTS, timeout=300)
        pid = env.worker_pids()[0]
        before, cpu_before, started = env.applied(), env.cpu_seconds(), time.monotonic()
        done = subprocess.run([spy, "record", "-p", str(pid), "-d", str(int(scale.profile_seconds)),
                               "-r", "100", "-f", "raw", "-o", str(raw), "--nonblocking"],
                              capture_output=True, text=True, timeout=scale.profile_seconds + 60)
        applied = env.applied() - before
        cpu_share = (env.cpu_seconds() - cpu_before) / (time.monotonic() - started)
        if done.returncode != 0 or not raw.exists():
            raise BenchError(f"py-spy failed: {done.stderr[-1000:]}")
        if applied >= events - before:
            raise BenchError("the backlog ran out while profiling; raise the profile workload")
    summary = summarize(raw.read_text())
    return {"profile.seconds": scale.profile_seconds, "profile.events_applied": applied,
            "profile.samples": summary["samples"][0][1], "profile.worker_cpu_share": cpu_share}, {"profile": summary}
