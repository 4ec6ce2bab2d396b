"""OperatorSet: the operators of one pipeline, and how events and timers reach them.

Each operator keys events its own way (a workflow by aggregate ID, a fraud
detector by customer), so one input event becomes one `Delivery` per interested
operator, applied in the task that read the event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from eventyard.core.errors import OperatorDefinitionError
from eventyard.core.records import OutRecord
from eventyard.operators.api import Event
from eventyard.operators.decode import Inbound
from eventyard.operators.engine import OperatorEngine, split_scope
from eventyard.state import TaskTransaction, TimerEntry

__all__ = ["Delivery", "OperatorSet"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One valid input event for one operator's key."""

    inbound: Inbound
    scope: str
    key: str


class OperatorSet:
    def __init__(self, engines: Iterable[OperatorEngine]) -> None:
        self.engines: dict[str, OperatorEngine] = {}
        names: set[str] = set()
        for engine in engines:
            name = engine.operator.name
            if engine.scope in self.engines or name in names:
                raise OperatorDefinitionError(
                    f"two operators named {name!r} (state scope {engine.scope!r}) in one pipeline; "
                    "give each a unique `name`")
            self.engines[engine.scope] = engine
            names.add(name)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.engines.values())

    def deliveries(self, inbound: Inbound) -> list[Delivery]:
        """One Delivery per operator that wants the event, keyed its own way."""
        event = Event(inbound.envelope, inbound.payload, 1, inbound.message)
        out = []
        for scope, engine in self.engines.items():
            operator = engine.operator
            if operator.wants(event.type) and (key := operator.key(event)) is not None:
                out.append(Delivery(inbound, scope, key))
        return out

    def apply(self, txn: TaskTransaction, delivery: Delivery) -> list[OutRecord]:
        return self.engines[delivery.scope].apply(txn, delivery.inbound, delivery.key)

    def publish_metrics(self) -> None:
        """After a batch: counts the engines keep per batch go to their metrics."""
        for engine in self.engines.values():
            engine.publish_metrics()

    def engine_of(self, stored_id: str) -> OperatorEngine:
        scope, _ = split_scope(stored_id)
        return self.engines.get(scope) or self.engines[""]

    def fire(self, txn: TaskTransaction, timer: TimerEntry) -> list[OutRecord]:
        return self.engine_of(timer.aggregate_id).fire(txn, timer)

    def stored_id(self, delivery: Delivery) -> str:
        return self.engines[delivery.scope].stored_id(delivery.key)
