"""Notice that another process of the bytewax cluster is gone, and end this one.

bytewax 0.21 does not end a process whose peer stopped or crashed: `cli_main`
waits for a worker thread that never finishes (seen: still running 90 s after the
other machine's process ended, until killed). On one machine the supervisor stops
the rest when one worker dies; across machines nobody would. timely receives from
each peer on its own thread, named `timely:recv-N`, which ends with the connection:
fewer of them than peers, once all were connected, means this process is cut off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["PeerWatch", "receiving_threads", "CUT_OFF"]

_TASKS = Path("/proc/self/task")
# Exit code of a worker (and of `eventyard run`) that ended because another process
# of its cluster is gone.
CUT_OFF = 3


def receiving_threads(tasks: Path = _TASKS) -> int | None:
    """timely's receiving threads in this process (None where /proc is not there)."""
    if not tasks.is_dir():
        return None
    count = 0
    for task in tasks.iterdir():
        try:
            count += (task / "comm").read_text().startswith("timely:recv")
        except OSError:  # the thread ended meanwhile
            continue
    return count


class PeerWatch:
    """Calls `on_lost` once `peers` receiving threads were up and one has been gone
    for `grace` seconds, unless `stopping()` (a stop asked of this process: its peers
    stopping too close the connections first)."""

    def __init__(self, peers: int, on_lost: Callable[[], None], stopping: Callable[[], bool],
                 interval: float = 1.0, grace: float = 5.0,
                 count: Callable[[], int | None] = receiving_threads) -> None:
        self.peers = peers
        self.on_lost = on_lost
        self.stopping = stopping
        self.interval = interval
        self.grace = grace
        self.count = count
        self._thread = threading.Thread(target=self._run, name="eventyard-peer-watch", daemon=True)

    def start(self) -> "PeerWatch":
        if self.peers > 0 and self.count() is not None:
            self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the watch to end (on a stop, or after `on_lost`); True if it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        connected = False
        lost_since: float | None = None
        while not self.stopping():
            time.sleep(self.interval)
            up = self.count() or 0
            if up >= self.peers:
                connected, lost_since = True, None
            elif connected:
                lost_since = lost_since if lost_since is not None else time.monotonic()
                if time.monotonic() - lost_since >= self.grace and not self.stopping():
                    self.on_lost()
                    return
