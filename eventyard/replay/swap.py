"""Put a rebuilt state directory in place of the live one, only when safe."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from eventyard.core.errors import EventyardError, StoreLockedError
from eventyard.state import TaskStore, StateDirectory

__all__ = ["ReplayRefused", "ensure_not_running", "swap_in", "discard"]


class ReplayRefused(EventyardError):
    """The rebuilt state cannot replace the live state now."""


def ensure_not_running(directory: StateDirectory) -> None:
    """A running worker holds its task stores' RocksDB locks; try taking them."""
    for task in directory.existing_tasks():
        try:
            TaskStore.open(directory.task_path(task), task).close()
        except StoreLockedError:
            raise ReplayRefused(
                f"pipeline {directory.pipeline} is running (task {task} is held by a worker): "
                "stop it before replacing its state, or use --verify, which does not swap"
            ) from None


def swap_in(rebuilt: Path, live: Path, recovery: Path) -> Path:
    """Move live state (and its now stale bytewax recovery) aside; rebuilt takes its place.

    Each rename is atomic. The old directories are kept, named in the return value,
    for the user to delete once satisfied.
    """
    stamp = _unused_stamp(live, recovery)
    backup = live.with_name(f"{live.name}.replaced-{stamp}")
    if live.exists():
        live.rename(backup)
    rebuilt.rename(live)
    if recovery.exists():
        # Snapshots describe the old stores' outboxes and offsets: start afresh;
        # the watermarks in the rebuilt stores skip what replay already applied.
        recovery.rename(recovery.with_name(f"{recovery.name}.replaced-{stamp}"))
    return backup


def _unused_stamp(live: Path, recovery: Path) -> str:
    """The time to the second, with a count after it when an earlier swap in the
    same second took that name (a small replay takes well under a second)."""
    stamp = base = time.strftime("%Y%m%dT%H%M%S")
    count = 1
    while any(p.with_name(f"{p.name}.replaced-{stamp}").exists() for p in (live, recovery)):
        count += 1
        stamp = f"{base}-{count}"
    return stamp


def discard(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
