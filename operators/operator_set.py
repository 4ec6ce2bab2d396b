"""OperatorSet: the operators of one pipeline, and how events and timers reach them.

Each operator keys events its own way (a workflow by aggregate ID, a fraud
detector by customer), so one input event becomes one `Delivery` per interested
operator. A delivery keyed by the aggregate is applied in the task that read the
event; one keyed by something else goes through the operator's repartition topic,
keyed by its own key, and is applied by the task that reads that key's partition
(Kafka Streams' re-keying): every event of a key meets in one task and store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from eventyard.core.values import quick_init
from eventyard.core.errors import OperatorDefinitionError
from eventyard.core.records import OutRecord
from eventyard.operators.api import Event
from eventyard.operators.decode import Inbound
from eventyard.operators.engine import OperatorEngine, split_scope
from eventyard.state import TaskTransaction, TimerEntry

__all__ = ["Delivery", "OperatorSet", "REKEYED_FROM"]

# Header on a repartition record: where the event was first read (topic/partition/offset).
REKEYED_FROM = "eventyard.rekeyed_from"


@quick_init
@dataclass(frozen=True, slots=True)
class Delivery:
    """One valid input event for one operator's key."""

    inbound: Inbound
    scope: str
    key: str
    event: Event | None = None  # the handler's view of it, when routing built one already


class OperatorSet:
    def __init__(self, engines: Iterable[OperatorEngine], repartition: dict[str, str] | None = None) -> None:
        """`repartition`: operator scope -> its repartition topic (none: all local)."""
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
        self.repartition = {scope: topic for scope, topic in (repartition or {}).items() if scope}
        self.rekeyed_scope = {topic: scope for scope, topic in self.repartition.items()}

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.engines.values())

    def deliveries(self, inbound: Inbound) -> list[Delivery]:
        """One Delivery per operator that wants the event, keyed its own way."""
        event = Event(inbound.envelope, inbound.payload, 1, inbound.message)
        out = []
        for scope, engine in self.engines.items():
            operator = engine.operator
            if operator.wants(event.type) and (key := operator.key(event)) is not None:
                out.append(Delivery(inbound, scope, key, event))
        return out

    def route(self, inbound: Inbound) -> tuple[list[Delivery], list[Delivery]]:
        """(deliveries applied here, deliveries to send through a repartition topic)."""
        local: list[Delivery] = []
        rekeyed: list[Delivery] = []
        aggregate = inbound.envelope.aggregate_id
        for delivery in self.deliveries(inbound):
            if delivery.key == aggregate or delivery.scope not in self.repartition:
                local.append(delivery)
            else:
                rekeyed.append(delivery)
        return local, rekeyed

    def rekeyed(self, inbound: Inbound) -> Delivery:
        """The delivery of a record read from an operator's repartition topic."""
        msg = inbound.message
        return Delivery(inbound, self.rekeyed_scope[msg.topic], (msg.key or b"").decode())

    def send_rekeyed(self, txn: TaskTransaction, delivery: Delivery) -> OutRecord | None:
        """The repartition record of `delivery`, once per input record: the operator's
        watermark on the input partition says whether it was sent before a restart."""
        msg = delivery.inbound.message
        engine = self.engines[delivery.scope]
        mark = engine.stored_id(msg.topic)
        if msg.offset <= txn.watermark(mark, msg.partition):
            return None
        txn.set_watermark(mark, msg.partition, msg.offset)
        record = OutRecord(self.repartition[delivery.scope], delivery.key.encode(), msg.value,
                           (*msg.headers, (REKEYED_FROM, f"{msg.topic}/{msg.partition}/{msg.offset}".encode())),
                           msg.timestamp_ms)
        txn.append_outbox(record, msg.timestamp_ms)
        return record

    def apply(self, txn: TaskTransaction, delivery: Delivery) -> list[OutRecord]:
        return self.engines[delivery.scope].apply(txn, delivery.inbound, delivery.key, delivery.event)

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
