"""The pipeline lock: whoever writes a pipeline's state directory holds it.

`eventyard run` takes it before anything else and holds it for its whole life; its
worker processes inherit the open file, so the lock stays held until the last of
them is gone. `eventyard replay` takes it for its whole rebuild and swap. A task
store's own RocksDB lock is not enough: a pipeline that has not opened a store yet
(it opens them as events arrive) holds none, and replay once swapped the state
directory from under such a run (issue 16).

It is an advisory `flock` on a file next to the state directory (not inside it: a
replay renames the directory). The kernel releases it when the holders die, even
by SIGKILL, so a crash never leaves a stale lock behind. The file's content only
describes the last holder, for the error message; it decides nothing.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from eventyard.core.errors import EventyardError

__all__ = ["PipelineLock", "PipelineLockedError", "lock_path"]


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
    def acquire(cls, state_dir: Path, pipeline: str, purpose: str, hint: str = "") -> "PipelineLock":
        """Take the lock for `purpose` (e.g. "eventyard run"), or raise naming its holder."""
        path = lock_path(state_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd) or "another process"
            os.close(fd)
            raise PipelineLockedError(
                f"pipeline {pipeline} is in use by {holder} (lock {path}): {purpose} must wait until it "
                f"ends; stop it first{hint} (a crashed process releases the lock by itself)") from None
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


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 500, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""

