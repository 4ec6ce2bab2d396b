"""The input messages a redrive has already published, so no copy of the same dead
letter is published twice.

Dead letters are published at least once: after a pipeline restart a dead letter
can appear again at a later offset of the dead-letter topic, behind a redrive that
already passed it. The ledger is an append-only file of source ids
(`topic:partition:offset`, see `DeadLetterView.source_id`), one per line, appended
only after Kafka confirmed the records.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from eventyard.core.errors import DeadLetterError

__all__ = ["RedriveLedger"]


class RedriveLedger:
    def __init__(self, path: Path | None, ids: set[str] | None = None) -> None:
        self.path = path  # None: in memory only (a dry run writes nothing)
        self._ids = ids or set()

    @classmethod
    def load(cls, path: Path) -> "RedriveLedger":
        try:
            ids = set(path.read_text().split()) if path.exists() else set()
        except (OSError, UnicodeDecodeError) as exc:
            raise DeadLetterError(f"redrive ledger {path} is unreadable ({exc!r}): "
                                  "delete it or pass --restart") from None
        return cls(path, ids)

    def __contains__(self, source_id: object) -> bool:
        return source_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def record(self, source_ids: Iterable[str]) -> None:
        fresh = [i for i in source_ids if i not in self._ids]
        if not fresh:
            return
        self._ids.update(fresh)
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as out:
            out.write("".join(f"{i}\n" for i in fresh))
            out.flush()
            os.fsync(out.fileno())
