"""Property: the order saga's outcome does not depend on the order its topics are read in.

For generated orders (OrderPlaced; PaymentReceived, PaymentFailed or no payment yet;
InventoryReserved, InventoryUnavailable or no answer yet; ShipmentCreated once both
succeeded, produced before the saga confirmed, as in issue 15; re-sent duplicates),
every arrival order is run through the real engine on RocksDB, with a worker
restart half way, and compared with in-order arrival (event-time order):

- any arrival order: the same final state, the same outputs by type, and every
  input applied once or skipped as a duplicate (none dead-lettered, none left
  waiting);
- arrival orders that keep the two concurrent answers (payment, inventory) in
  their event-time order, which the engine's event-time merge provides: the same
  instance (state, data, version, timers) and the same outputs by event_id.
  Which of two concurrent answers came first is a business fact (a payment that
  failed before the stock was reserved is compensated differently), so only
  event time can decide it; everything else is this layer's job, holding an event
  until a state accepts it.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventyard.core.records import OutRecord, SourceMessage
from eventyard.demo.traffic import envelope_record
from eventyard.operators.decode import Decoder, Inbound
from eventyard.operators.engine import WorkflowEngine
from eventyard.pipelines import get_pipeline
from eventyard.runtime.flow import build_engine
from eventyard.state import TaskStore

T0 = 1_767_225_600_000  # 2026-01-01
TOPICS = {"OrderPlaced": "orders", "PaymentReceived": "payments", "PaymentFailed": "payments",
          "InventoryReserved": "inventory", "InventoryUnavailable": "inventory", "ShipmentCreated": "shipping"}
PAYLOADS: dict[str, dict[str, Any]] = {
    "OrderPlaced": {"customer_id": "c", "amount": 42.5, "currency": "EUR", "items": [{"sku": "s", "quantity": 2}]},
    "PaymentReceived": {"payment_id": "p", "amount": 42.5},
    "PaymentFailed": {"payment_id": "p", "reason": "declined"},
    "InventoryReserved": {"reservation_id": "r"},
    "InventoryUnavailable": {"sku": "s"},
    "ShipmentCreated": {"shipment_id": "s"},
}
_orders = itertools.count()


@dataclass(frozen=True)
class Order:
    order_id: str
    events: tuple[OutRecord, ...]  # in event-time order
    times: tuple[int, ...]
    concurrent: tuple[int, ...]  # indexes of the payment and inventory answers, in event-time order


@st.composite
def orders(draw: st.DrawFn) -> Order:
    order_id = f"o-{next(_orders)}"
    payment = draw(st.sampled_from(["PaymentReceived", "PaymentFailed", None]))
    stock = draw(st.sampled_from(["InventoryReserved", "InventoryUnavailable", None]))
    answers = [t for t in (payment, stock) if t is not None]
    if draw(st.booleans()):
        answers.reverse()  # which answer happened first
    types = ["OrderPlaced", *answers]
    if payment == "PaymentReceived" and stock == "InventoryReserved":
        types.append("ShipmentCreated")
    events = tuple(envelope_record(TOPICS[t], t, order_id, PAYLOADS[t], f"{order_id}-{t}") for t in types)
    return Order(order_id, events, tuple(T0 + 1000 * i for i in range(len(types))), tuple(range(1, 1 + len(answers))))


@dataclass
class Run:
    """One arrival order through the real engine and a real store."""

    store: TaskStore
    engine: WorkflowEngine
    offsets: dict[str, int]
    decoder: Decoder
    outputs: list[dict[str, Any]] = field(default_factory=list)
    applied: int = 0
    duplicates: int = 0
    dead: int = 0

    def deliver(self, msg: SourceMessage) -> None:
        item = self.decoder(msg)
        assert isinstance(item, Inbound)
        for record in self.engine.apply(self.store.transaction(), item):
            if record.topic != "order_saga.decisions":
                self.outputs.append(orjson.loads(record.value))

    def restart(self, make_engine: Any) -> None:
        """A worker restart: a new engine (nothing kept in memory) on the same store."""
        self._count()
        self.engine = make_engine()

    def _count(self) -> None:
        stats = self.engine.stats
        self.applied += stats.applied
        self.duplicates += stats.duplicates
        self.dead += sum(stats.dead_lettered.values())

    def finish(self, order_id: str) -> dict[str, Any]:
        self._count()
        return self.store.get_instance(order_id)


@pytest.fixture(scope="module")
def stores() -> Iterator[dict[str, TaskStore]]:
    root = Path(tempfile.mkdtemp(prefix="eventyard-arrival-"))
    opened = {name: TaskStore.open(root / name, 0, create=True) for name in ("in-order", "any", "merged")}
    yield opened
    for store in opened.values():
        store.close()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def offsets() -> dict[str, dict[str, int]]:
    """Per store, the next offset of each topic: a store's watermarks outlive an example."""
    return {}


@pytest.fixture(scope="module")
def make_engine() -> Any:
    definition = get_pipeline("order_saga")
    saga_settings = definition.settings()

    def make() -> WorkflowEngine:
        return build_engine(definition, saga_settings)

    return make


_DECODER = Decoder("order_saga", get_pipeline("order_saga").catalog, 1 << 20, 16)


def _run(store: TaskStore, make_engine: Any, order: Order, arrival: list[int],
         offsets: dict[str, int]) -> tuple[Run, dict[str, Any]]:
    run = Run(store, make_engine(), offsets, _DECODER)
    for n, index in enumerate(arrival):
        if n == len(arrival) // 2:
            run.restart(make_engine)
        record = order.events[index]
        offsets[record.topic] = offset = offsets.get(record.topic, -1) + 1  # a partition's order is its offsets
        run.deliver(SourceMessage(record.topic, 0, offset, record.key, record.value, record.headers,
                                  order.times[index]))
    return run, run.finish(order.order_id)


def _in_event_time_order(order: Order, arrival: list[int]) -> list[int]:
    """`arrival` with the first copies of the concurrent answers swapped back into event-time order."""
    if len(order.concurrent) < 2:
        return arrival
    first, second = order.concurrent
    i, j = arrival.index(first), arrival.index(second)
    merged = list(arrival)
    if i > j:
        merged[i], merged[j] = second, first
    return merged


INSTANCE = ("state", "data", "finished", "seen", "version", "timers")


@settings(max_examples=60, derandomize=True)
@given(data=st.data(), order=orders())
def test_every_arrival_order_gives_the_in_order_outcome(stores, offsets, make_engine, data, order):
    duplicated = data.draw(st.lists(st.integers(0, len(order.events) - 1), max_size=2), label="re-sent")
    inputs = list(range(len(order.events))) + duplicated
    arrival = data.draw(st.permutations(inputs), label="arrival")

    reference, expected = _run(stores["in-order"], make_engine, order, inputs, offsets.setdefault("in-order", {}))
    assert reference.applied == len(order.events) and reference.duplicates == len(duplicated)
    assert not (expected.get("held") or expected["parked"])

    # Any arrival order: same outcome, same outputs by type, every input accounted for.
    run, got = _run(stores["any"], make_engine, order, arrival, offsets.setdefault("any", {}))
    assert (got["state"], got["finished"]) == (expected["state"], expected["finished"])
    assert Counter(o["type"] for o in run.outputs) == Counter(o["type"] for o in reference.outputs)
    assert (run.applied, run.duplicates, run.dead) == (len(order.events), len(duplicated), 0)
    assert not (got.get("held") or got["parked"])

    # Concurrent answers in event-time order (the merge's job): identical, by event_id.
    run, got = _run(stores["merged"], make_engine, order, _in_event_time_order(order, arrival),
                    offsets.setdefault("merged", {}))
    assert {k: got[k] for k in INSTANCE} == {k: expected[k] for k in INSTANCE}
    assert {o["event_id"]: o for o in run.outputs} == {o["event_id"]: o for o in reference.outputs}
    assert len(run.outputs) == len(reference.outputs)
