"""Notice that another process of the bytewax cluster is gone, and end this one.

bytewax 0.21 does not end a process whose peer stopped or crashed: `cli_main`
waits for a worker thread that never finishes (seen: still running 90 s after the
other machine's process ended, until killed). On one machine the supervisor stops
the rest when one worker dies; across machines nobody would. Once connected, timely
sends to each peer on a thread named `timely:send-N` and receives on one named
`timely:recv-N`, which ends with the connection: fewer receiving threads than peers,
once all were connected, means this process is cut off. The send thread may outlive
its connection, so it also tells a watch that first looks after the loss (a peer
stopped within a second of the cluster forming) that there was a connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["PeerWatch", "cluster_threads", "receiving_threads", "CUT_OFF"]

_TASKS = Path("/proc/self/task")
# Exit code of a worker (and of `eventyard run`) that ended because another process
# of its cluster is gone.
CUT_OFF = 3


def cluster_threads(tasks: Path = _TASKS) -> tuple[int, int] | None:
    """timely's (receiving, sending) threads in a process (None where /proc is not there)."""
    if not tasks.is_dir():
        return None
    receiving = sending = 0
    for task in tasks.iterdir():
        try:
            name = (task / "comm").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        receiving += name.startswith("timely:recv")
        sending += name.startswith("timely:send")
    return receiving, sending


def receiving_threads(tasks: Path = _TASKS) -> int | None:
    """timely's receiving threads in this process (None where /proc is not there)."""
    counted = cluster_threads(tasks)
    return None if counted is None else counted[0]


class PeerWatch:
    """Calls `on_lost` once the `peers` connections were made (all receiving threads
    seen, or all sending threads) and a receiving thread has been gone for `grace`
    seconds, unless `stopping()` (a stop asked of this process: its peers stopping
    too close the connections first)."""

    def __init__(self, peers: int, on_lost: Callable[[], None], stopping: Callable[[], bool],
                 interval: float = 1.0, grace: float = 5.0,
                 count: Callable[[], tuple[int, int] | None] = cluster_threads) -> None:
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
            receiving, sending = self.count() or (0, 0)
            if receiving >= self.peers:
                connected, lost_since = True, None
                continue
            # A peer that stopped before this watch first looked (7 of 17 probe runs of
            # the two-machine test): only the send thread says there was a connection.
            connected = connected or sending >= self.peers
            if connected:
                lost_since = lost_since if lost_since is not None else time.monotonic()
                if time.monotonic() - lost_since >= self.grace and not self.stopping():
                    self.on_lost()
                    return
