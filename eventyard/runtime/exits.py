"""Which worker ended first, and how: what `eventyard run` reports and exits with.

When one worker dies, its peers follow a few milliseconds later (a broken
connection, a bytewax "Send thread panic", exit 1). Polling the workers in list
order every 0.2 s could see both gone and blame a peer (issue 16). A thread per
worker blocks in `wait()` instead, and the first to return names the worker the
kernel reaped first.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import threading

__all__ = ["first_exit", "describe_exit"]


def first_exit(children: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    """Block until one of `children` exits; return it (its `returncode` is set)."""
    done: queue.SimpleQueue[subprocess.Popen[bytes]] = queue.SimpleQueue()
    for child in children:
        threading.Thread(target=lambda c=child: (c.wait(), done.put(c)), daemon=True,
                         name=f"wait-{child.pid}").start()
    while True:
        try:  # a timeout, so that the signal handlers of the main thread run
            return done.get(timeout=0.5)
        except queue.Empty:
            continue


def describe_exit(code: int) -> str:
    """`exited with 1`, or `was killed by SIGKILL` for a negative return code."""
    if code >= 0:
        return f"exited with {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    return f"was killed by {name}"
