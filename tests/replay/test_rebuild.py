"""Rebuilder without Kafka: grouped writes, and what an interrupted rebuild leaves behind."""

from __future__ import annotations

import dataclasses

import pytest

from eventyard.replay import DecisionLog, Rebuilder, compare_states, rebuild
from eventyard.pipelines import get_pipeline
from eventyard.state import TaskStore, StateDirectory


@pytest.fixture
def orders(event, make_message):
    """Three orders placed, two paid: messages in the order a replay merges them."""
    def placed(order_id):
        return event("OrderPlaced", order_id, customer_id="c", amount=10, currency="EUR",
                     items=[{"sku": "s", "quantity": 1}])

    records = [placed("o-1"), placed("o-2"), event("PaymentReceived", "o-1", payment_id="p1", amount=10),
               placed("o-3"), event("PaymentReceived", "o-2", payment_id="p2", amount=10)]
    # Event time, as from Kafka: state then depends on the inputs alone, not the clock.
    return [dataclasses.replace(make_message(r), timestamp_ms=1_700_000_000_000 + i * 1000)
            for i, r in enumerate(records)]


@pytest.fixture
def rebuild_into(make_settings, tmp_path):
    settings = make_settings()

    def make(name: str, **kw) -> tuple[Rebuilder, StateDirectory]:
        target = tmp_path / name
        return (Rebuilder(get_pipeline("order_saga"), settings, target, DecisionLog(), **kw),
                StateDirectory(target, settings.name))

    return make


def _instances(directory: StateDirectory) -> dict[str, dict]:
    return dict(directory.read_instances())


@pytest.mark.parametrize("group", [1, 2, 1_000])
def test_grouped_writes_rebuild_the_same_state_as_one_write_per_delivery(orders, rebuild_into, monkeypatch, group):
    one_by_one, reference = rebuild_into("one")
    monkeypatch.setattr(rebuild, "GROUP_DELIVERIES", 1)
    for msg in orders:
        one_by_one.feed(msg)
    one_by_one.finish()
    monkeypatch.setattr(rebuild, "GROUP_DELIVERIES", group)
    grouped, directory = rebuild_into("grouped")
    for msg in orders:
        grouped.feed(msg)
    grouped.finish()
    # A payment in the same group as its order must see the order's pending state.
    assert _instances(directory)["o-1"]["state"] != _instances(directory)["o-3"]["state"]
    assert compare_states(reference, directory).identical


def test_interrupted_between_deliveries_keeps_every_whole_delivery(orders, rebuild_into):
    def emit(records):
        if records[0].key == b"o-3":  # o-3's delivery is whole: its outputs are out
            raise KeyboardInterrupt

    rebuilder, directory = rebuild_into("target", emit=emit)
    with pytest.raises(KeyboardInterrupt):
        for msg in orders:
            rebuilder.feed(msg)
    rebuilder.close()
    instances = _instances(directory)
    assert set(instances) == {"o-1", "o-2", "o-3"}  # as with one transaction per delivery
    assert instances["o-2"]["state"] == instances["o-3"]["state"] != instances["o-1"]["state"]  # o-1 paid


def test_interrupted_within_a_delivery_leaves_none_of_it_written(orders, rebuild_into, monkeypatch):
    monkeypatch.setattr(rebuild, "GROUP_DELIVERIES", 2)
    rebuilder, directory = rebuild_into("target")
    engine = rebuilder.operators.engines[""]
    handle = engine.operator.on_event

    def on_event(ctx, event):
        if event.type == "PaymentReceived":
            raise KeyboardInterrupt  # not an Exception: the engine lets it through
        handle(ctx, event)

    monkeypatch.setattr(engine.operator, "on_event", on_event)
    with pytest.raises(KeyboardInterrupt):
        for msg in orders:
            rebuilder.feed(msg)
    rebuilder.close()
    # The two orders placed were a whole group; the payment had set its watermark
    # before the handler ran, and that write is dropped with its group.
    instances = _instances(directory)
    assert set(instances) == {"o-1", "o-2"} and instances["o-1"]["state"] == instances["o-2"]["state"]
    store = TaskStore.open(directory.task_path(0), 0, read_only=True)  # partition 0: the messages' task
    try:
        assert store.watermark("payments", 0) == -1
    finally:
        store.close()


def test_one_aggregate_replay_applies_only_the_records_keyed_by_it(orders, rebuild_into):
    # docs/replay.md: `--aggregate` filters input records by their Kafka key, so only
    # that aggregate's state is rebuilt (operators keyed otherwise see just its events).
    rebuilder, directory = rebuild_into("one", aggregate="o-1")
    for msg in orders:
        rebuilder.feed(msg)
    stats = rebuilder.finish()
    assert set(_instances(directory)) == {"o-1"}
    assert stats.events == len(orders) and stats.applied == 2  # o-1's order and payment
