"""The state directory of one pipeline: a manifest plus one store per task."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from eventyard.core.errors import StoreError

__all__ = ["StateDirectory", "LegacyLayoutError"]

MANIFEST = "MANIFEST.json"


class LegacyLayoutError(StoreError):
    """The directory holds state in the 256-shard layout of releases before tasks."""


class StateDirectory:
    """Owns the layout `<dir>/MANIFEST.json` and `<dir>/task-NNNNN/`.

    Task p holds the keys of partition p of every input topic. The manifest pins
    the partition count: with another count the default partitioner would send
    keys to other partitions, hence other tasks, silently orphaning their state.
    """

    def __init__(self, root: Path, pipeline: str, tasks: int | None = None) -> None:
        self.root = root
        self.pipeline = pipeline
        self.tasks = tasks  # None: whatever the manifest says (read-only users)

    def task_path(self, task: int) -> Path:
        return self.root / f"task-{task:05d}"

    def existing_tasks(self) -> list[int]:
        if not self.root.is_dir():
            return []
        return sorted(
            int(p.name.removeprefix("task-"))
            for p in self.root.iterdir()
            if p.is_dir() and p.name.startswith("task-")
        )

    def manifest(self) -> dict[str, Any] | None:
        path = self.root / MANIFEST
        return orjson.loads(path.read_bytes()) if path.exists() else None

    def check_layout(self) -> None:
        """Refuse a directory of the shard layout (before tasks), naming the conversion."""
        found = self.manifest()
        if found is not None and "shards" in found and "tasks" not in found:
            raise LegacyLayoutError(
                f"{self.root} holds state in the old {found['shards']}-shard layout; this release keeps "
                f"one store per input partition (task). Convert it with `eventyard replay {self.pipeline}` "
                "(rebuilds the task stores from the topics and swaps them in; stop the pipeline first)"
            )

    def ensure(self) -> None:
        """Create the directory and manifest, or check the existing manifest."""
        found = self.manifest()
        if found is not None:
            self.check_layout()
            if found.get("pipeline") != self.pipeline:
                raise StoreError(
                    f"{self.root} holds state of pipeline {found.get('pipeline')!r}, "
                    f"not {self.pipeline!r}: point state.dir elsewhere"
                )
            if self.tasks is not None and found.get("tasks") != self.tasks:
                raise StoreError(
                    f"{self.root} was written with {found.get('tasks')} partitions per input topic, "
                    f"the topics now have {self.tasks}: keys moved between partitions, so each task's "
                    "store no longer matches its partition. Rebuild state with `eventyard replay` "
                    "into a new state directory"
                )
            if self.tasks is None:
                self.tasks = int(found["tasks"])
            return
        if self.tasks is None:
            raise StoreError(f"{self.root} has no state yet")
        self.root.mkdir(parents=True, exist_ok=True)
        manifest = self.root / MANIFEST
        tmp = manifest.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps({"pipeline": self.pipeline, "tasks": self.tasks}))
        tmp.replace(manifest)

    def read_instances(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every workflow instance of every task, opened read-only (safe next to a writer)."""
        from eventyard.state.store import TaskStore

        for task in self.existing_tasks():
            store = TaskStore.open(self.task_path(task), task, read_only=True)
            try:
                yield from store.instances()
            finally:
                store.close()
