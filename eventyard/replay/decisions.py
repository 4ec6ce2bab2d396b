"""The live engine's decisions, indexed for a replay to obey."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from eventyard.core.records import SourceMessage
from eventyard.operators.decisions import OUT_OF_ORDER, TIMER_FIRED

__all__ = ["DecisionLog", "Coords"]

Coords = tuple[str, int, int]  # topic, partition, offset


@dataclass
class DecisionLog:
    # (aggregate, instance version when it fired) -> [(timer, due_ms)]
    timers: dict[tuple[str, int], list[tuple[str, int]]] = field(default_factory=dict)
    # (operator scope, event) -> the event that operator applied it after
    after: dict[tuple[str, Coords], Coords] = field(default_factory=dict)
    records: int = 0

    @classmethod
    def from_records(cls, records: Iterable[SourceMessage]) -> "DecisionLog":
        log, seen = cls(), set()
        for record in records:
            decision = orjson.loads(record.value or b"{}")
            if decision.get("event_id") in seen:  # published at least once: drop repeats
                continue
            seen.add(decision.get("event_id"))
            log.records += 1
            payload = decision["payload"]
            if decision["type"] == TIMER_FIRED:
                key = (decision["aggregate_id"], payload["at_version"])
                log.timers.setdefault(key, []).append((payload["timer"], payload["due_ms"]))
            elif decision["type"] == OUT_OF_ORDER:
                event = tuple(payload["event"])
                log.after[(payload.get("scope", ""), event)] = tuple(payload["after"])  # type: ignore[index,assignment]
        return log
