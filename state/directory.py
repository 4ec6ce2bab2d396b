"""The state directory of one pipeline: a manifest plus one store per shard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from eventyard.core.errors import StoreError

__all__ = ["StateDirectory"]

MANIFEST = "MANIFEST.json"


class StateDirectory:
    """Owns the layout `<dir>/MANIFEST.json` and `<dir>/shard-NNNNN/`.

    The manifest pins the shard count: changing it would re-route aggregates to
    other stores and silently orphan their state, so a mismatch is refused.
    """

    def __init__(self, root: Path, pipeline: str, shards: int) -> None:
        self.root = root
        self.pipeline = pipeline
        self.shards = shards

    def shard_path(self, shard: int) -> Path:
        return self.root / f"shard-{shard:05d}"

    def existing_shards(self) -> list[int]:
        if not self.root.is_dir():
            return []
        return sorted(
            int(p.name.removeprefix("shard-"))
            for p in self.root.iterdir()
            if p.is_dir() and p.name.startswith("shard-")
        )

    def ensure(self) -> None:
        """Create the directory and manifest, or check the existing manifest."""
        manifest = self.root / MANIFEST
        if manifest.exists():
            found = orjson.loads(manifest.read_bytes())
            if found.get("pipeline") != self.pipeline:
                raise StoreError(
                    f"{self.root} holds state of pipeline {found.get('pipeline')!r}, "
                    f"not {self.pipeline!r}: point state.dir elsewhere"
                )
            if found.get("shards") != self.shards:
                raise StoreError(
                    f"{self.root} was created with state.shards={found.get('shards')}, "
                    f"configured {self.shards}: keep the shard count, or replay into "
                    "a new state directory"
                )
            return
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = manifest.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps({"pipeline": self.pipeline, "shards": self.shards}))
        tmp.replace(manifest)

    def read_instances(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every workflow instance of every shard, opened read-only (safe next to a writer)."""
        from eventyard.state.store import ShardStore

        for shard in self.existing_shards():
            store = ShardStore.open(self.shard_path(shard), shard, read_only=True)
            try:
                yield from store.instances()
            finally:
                store.close()
