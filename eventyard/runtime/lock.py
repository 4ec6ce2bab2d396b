"""The pipeline lock: whoever writes a pipeline's state directory holds it.

`eventyard run` takes it before anything else and holds it for its whole life; its
worker processes inherit the open file, so the lock stays held until the last of
them is gone. `eventyard replay` takes it for its whole rebuild and swap. A task
store's own RocksDB lock is not enough: a pipeline that has not opened a store yet
(it opens them as events arrive) holds none, and replay once swapped the state
directory from under such a run (issue 16).

It is an advisory `flock` on a file next to the state directory (not inside it: a
replay renames the directory). The kernel releases it when the holders die, even
by SIGKILL, so a crash never leaves a stale lock behind. The file's content
describes the last holder, for the error message, and one thing more: when that
process is gone but the lock is still held, its workers are still stopping (a
killed `eventyard run` ends them with SIGTERM, and they flush and close their
stores first). A restart then waits for them, up to `orphans_grace` seconds,
instead of failing while they finish: what a supervisor restarting a killed run
at once needs.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import time
from pathlib import Path
from types import TracebackType

from eventyard.core.errors import EventyardError

__all__ = ["PipelineLock", "PipelineLockedError", "lock_path", "ORPHANS_GRACE_S"]

log = logging.getLogger(__name__)

ORPHANS_GRACE_S = 30.0  # a worker's clean stop takes well under a second; a busy box, seconds
_POLL_S = 0.05
_HOLDER_PID = re.compile(r"\(pid (\d+),")


class PipelineLockedError(EventyardError):
    """Another process (a running pipeline, a replay) holds the pipeline lock."""


def lock_path(state_dir: Path) -> Path:
    """`<state.dir>.lock`, beside the directory a replay swaps."""
    state_dir = state_dir.absolute()
    return state_dir.with_name(f"{state_dir.name}.lock")


class PipelineLock:
    """An exclusive, non-blocking lock on one pipeline's state directory."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, state_dir: Path, pipeline: str, purpose: str, hint: str = "",
                orphans_grace: float = ORPHANS_GRACE_S) -> "PipelineLock":
        """Take the lock for `purpose` (e.g. "eventyard run"), or raise naming its holder.

        Held by a live process: refused at once. Held after its recorded holder
        ended (its workers stopping): waits up to `orphans_grace` s for them."""
        path = lock_path(state_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            if not _try_lock(fd):
                holder = _read(fd) or "another process"
                if _alive(holder):
                    raise PipelineLockedError(
                        f"pipeline {pipeline} is in use by {holder} (lock {path}): {purpose} must wait until "
                        f"it ends; stop it first{hint} (a crashed process releases the lock by itself)")
                log.warning("pipeline %s: %s has ended but its worker processes still hold the lock; "
                            "waiting up to %.0f s for them to stop", pipeline, holder, orphans_grace)
                if not _await_lock(fd, orphans_grace):
                    raise PipelineLockedError(
                        f"pipeline {pipeline} is still locked by the worker processes of {holder}, which has "
                        f"ended: they did not stop within {orphans_grace:.0f} s (`fuser -v {path}` lists "
                        f"them); {purpose} must wait until they are gone")
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{purpose} (pid {os.getpid()}, since {time.strftime('%Y-%m-%dT%H:%M:%S%z')})\n"
                  .encode(), 0)
        return cls(path, fd)

    def fileno(self) -> int:
        """The locked file, for `pass_fds`: a child holding it keeps the lock held."""
        if self._fd is None:
            raise ValueError("the pipeline lock was released")
        return self._fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # children that inherited it keep the lock until they exit

    def __enter__(self) -> "PipelineLock":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _await_lock(fd: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not _try_lock(fd):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)
    return True


def _alive(holder: str) -> bool:
    """Is the holder the lock file names still running? Unknown counts as running."""
    match = _HOLDER_PID.search(holder)
    if match is None:
        return True
    pid = int(match.group(1))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:  # killed but not yet reaped by its parent: ended all the same
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 500, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""

