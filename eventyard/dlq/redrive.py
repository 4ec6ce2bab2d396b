"""What a redrive publishes, and the checkpoint that lets an interrupted one resume.

A redrive is identified by its pipeline, dead-letter topic, filter and target; the
checkpoint file is named from a hash of that identity, so the same command finds
its own checkpoint and a different filter starts from the beginning.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Container
from dataclasses import dataclass, field, replace
from pathlib import Path

import orjson

from eventyard.core.deadletter import ERROR_HEADERS, REDRIVE_NEEDS, never_applicable
from eventyard.dlq.view import REDRIVE_COUNT_HEADER, DeadLetterFilter, DeadLetterView, header_text
from eventyard.core.envelope import utc_now
from eventyard.core.errors import DeadLetterError
from eventyard.core.records import Headers, OutRecord

__all__ = ["RedriveRequest", "RedriveSelection", "RedriveCheckpoint", "RedrivePlan", "RedriveResult",
           "redrive_headers", "redrive_record"]

# The error context is dropped so that a new failure describes itself; the first
# failure time is kept so that it survives any number of redrives.
_DROPPED = (frozenset(ERROR_HEADERS) - {"eventyard.first_failed_at"}) | {REDRIVE_COUNT_HEADER}
_CHECKPOINT_VERSION = 1


def redrive_headers(headers: Headers) -> Headers:
    """Original headers plus `eventyard.first_failed_at` and the incremented redrive count."""
    try:
        count = int(header_text(headers, REDRIVE_COUNT_HEADER, "0"))
    except ValueError:
        count = 0
    kept = tuple((k, v) for k, v in headers if k not in _DROPPED)
    return kept + ((REDRIVE_COUNT_HEADER, str(count + 1).encode()),)


def redrive_record(view: DeadLetterView, topic: str) -> OutRecord:
    return OutRecord(topic=topic, key=view.key, value=view.value, headers=redrive_headers(view.headers))


@dataclass(frozen=True, slots=True)
class RedriveRequest:
    pipeline: str
    topic: str  # the dead-letter topic read
    filter: DeadLetterFilter = DeadLetterFilter()
    to: str | None = None  # None: each record goes back to its source topic

    def identity(self) -> dict[str, object]:
        return {"pipeline": self.pipeline, "topic": self.topic, **self.filter.describe(), "to": self.to}

    def digest(self) -> str:
        return hashlib.sha256(orjson.dumps(self.identity(), option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]

    def checkpoint_path(self, directory: Path) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.pipeline)
        return directory / f"{safe}-{self.digest()}.json"

    def ledger_path(self, directory: Path) -> Path:
        return self.checkpoint_path(directory).with_suffix(".redriven")

    def target(self, view: DeadLetterView) -> str | None:
        """Where `view` goes if this redrive selects it; None if it is not selected."""
        if not self.filter.matches(view) or not view.redrivable:
            return None
        if self.to is None and never_applicable(view.reason):
            return None  # back to its source it would only be dead-lettered again
        return self.to or view.source_topic

    def refuse_never_applicable(self) -> None:
        """Refuse up front a redrive of a reason whose records can never be applied as they are."""
        reason = self.filter.reason
        if self.to is None and reason is not None and never_applicable(reason):
            raise DeadLetterError(
                f"{reason} dead letters cannot be applied by a redrive: {REDRIVE_NEEDS[reason]}. "
                "Fix the producer, or pass --to TOPIC to hand them to something that repairs them")


class RedriveSelection:
    """Decides, record by record in one pass, where each goes: a topic, or nowhere
    (not selected, not redrivable, or a copy of a dead letter already redriven)."""

    def __init__(self, request: RedriveRequest, ledger: Container[str]) -> None:
        self.request = request
        self.ledger = ledger
        self.taken: set[str] = set()
        self.duplicates = 0
        self.not_redrivable = 0

    def target(self, view: DeadLetterView) -> str | None:
        target = self.request.target(view)
        if target is None:
            self.not_redrivable += self.request.filter.matches(view)
            return None
        source = view.source_id
        if source is not None and (source in self.ledger or source in self.taken):
            self.duplicates += 1
            return None
        if source is not None:
            self.taken.add(source)
        return target


@dataclass(frozen=True, slots=True)
class RedriveCheckpoint:
    """How far a redrive got: the next dead-letter offset to look at, per partition."""

    identity: dict[str, object]
    positions: dict[int, int] = field(default_factory=dict)
    redriven: int = 0  # records published by every run of this redrive so far
    complete: bool = False  # the last run reached the end of what it saw
    updated_at: str = ""

    @classmethod
    def fresh(cls, request: RedriveRequest) -> "RedriveCheckpoint":
        return cls(request.identity())

    @classmethod
    def load(cls, path: Path, request: RedriveRequest) -> "RedriveCheckpoint":
        """The saved checkpoint, or a fresh one if there is none."""
        if not path.exists():
            return cls.fresh(request)
        try:
            obj = orjson.loads(path.read_bytes())
            checkpoint = cls(
                identity=obj["identity"],
                positions={int(p): int(o) for p, o in obj["positions"].items()},
                redriven=int(obj["redriven"]),
                complete=bool(obj["complete"]),
                updated_at=str(obj.get("updated_at", "")),
            )
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DeadLetterError(
                f"redrive checkpoint {path} is unreadable ({exc!r}): delete it or pass --restart"
            ) from None
        if checkpoint.identity != request.identity():
            raise DeadLetterError(
                f"redrive checkpoint {path} belongs to another redrive ({checkpoint.identity}): "
                "delete it or pass --restart"
            )
        return checkpoint

    def advanced(self, positions: dict[int, int], published: int, complete: bool) -> "RedriveCheckpoint":
        return replace(self, positions=dict(positions), redriven=self.redriven + published,
                       complete=complete, updated_at=utc_now().isoformat())

    def save(self, path: Path) -> None:
        """Write atomically: a crash leaves the previous checkpoint or this one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        data = orjson.dumps({
            "version": _CHECKPOINT_VERSION,
            "identity": self.identity,
            "positions": {str(p): o for p, o in sorted(self.positions.items())},
            "redriven": self.redriven,
            "complete": self.complete,
            "updated_at": self.updated_at,
        }, option=orjson.OPT_INDENT_2)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)


@dataclass(frozen=True, slots=True)
class RedrivePlan:
    """What one run will publish, counted before anything is published."""

    request: RedriveRequest
    start: dict[int, int]  # next offset per partition when the run begins
    stop_at: dict[int, int]  # next offset after the last record seen, per partition
    selected: int  # records this run would publish
    duplicates: int  # matching copies of dead letters already redriven (or twice in this run)
    not_redrivable: int  # matching records with nothing to put back (failed timers)
    targets: tuple[tuple[str, int], ...]  # topic -> records
    sample: tuple[DeadLetterView, ...]  # the first selected records, for --dry-run


@dataclass(frozen=True, slots=True)
class RedriveResult:
    plan: RedrivePlan
    redriven: int  # by this run
    by_target: tuple[tuple[str, int], ...]  # topic -> records published by this run
    duplicates: int
    total_redriven: int  # by every run of this redrive
    complete: bool
    interrupted: bool
    seconds: float
    checkpoint: Path
