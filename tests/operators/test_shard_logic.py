"""ShardLogic on restart: resumed shards open their stores lazily, in turn, with real RocksDB."""

import time
from datetime import datetime, timezone

import pytest
from prometheus_client import REGISTRY

from eventyard.core.errors import StoreBehindError, StoreMissingError
from eventyard.operators.shard_logic import ShardLogic, ShardRuntime
from eventyard.pipelines import get_pipeline
from eventyard.runtime.flow import build_runtime
from eventyard.state import ShardStore


def _runtime(make_settings, **env: str) -> ShardRuntime:
    return build_runtime(get_pipeline("order_saga"), make_settings(**env))


def _await(moment: datetime) -> None:
    while datetime.now(timezone.utc) < moment:
        time.sleep(0.005)


def test_a_resumed_shard_opens_with_its_first_event_and_resends_unconfirmed_outputs_first(
        make_settings, make_inbound, event):
    runtime = _runtime(make_settings)
    placed = event("OrderPlaced", "o-1", customer_id="c", amount=10, currency="EUR",
                   items=[{"sku": "s", "quantity": 1}])
    paid = event("PaymentReceived", "o-1", payment_id="p", amount=10)
    (_, placed), = runtime.operators.route(("", make_inbound(placed)))
    (_, paid), = runtime.operators.route(("", make_inbound(paid)))
    live = runtime.builder(None)
    unconfirmed, _ = live.on_batch([placed])  # emitted, but no snapshot after it: a crash now
    assert unconfirmed
    resume = {"shard": live.store.shard, "outbox_seq": 0}  # the epoch before
    live.store.close()

    restarted = _runtime(make_settings)
    logic = restarted.builder(resume)
    assert logic.store is None  # bytewax resumes every shard at start: none opens yet
    assert logic.snapshot() == resume  # a snapshot before the open keeps the resumed one
    out, _ = logic.on_batch([paid])
    assert logic.store is not None
    assert out[:len(unconfirmed)] == unconfirmed  # re-sent before the new event's outputs
    logic.store.close()


def test_resumed_shards_open_in_turn_and_a_missing_store_fails_naming_the_shard(make_settings):
    runtime = _runtime(make_settings)
    runtime.directory.ensure()
    first, second = runtime.builder({"shard": 3, "outbox_seq": 0}), runtime.builder({"shard": 4, "outbox_seq": 0})
    first_due, second_due = first.notify_at(), second.notify_at()
    assert first_due is not None and second_due is not None and first_due < second_due
    _await(first_due)
    with pytest.raises(StoreMissingError, match="shard 3"):
        first.on_notify()
    assert second.store is None  # its slot has not come, so it did not try yet


def _placed(runtime: ShardRuntime, make_inbound, event) -> ShardLogic:
    """A fresh shard logic that applied one OrderPlaced (emitting outputs), store open."""
    placed = event("OrderPlaced", "o-1", customer_id="c", amount=10, currency="EUR",
                   items=[{"sku": "s", "quantity": 1}])
    (_, delivery), = runtime.operators.route(("", make_inbound(placed)))
    live = runtime.builder(None)
    live.on_batch([delivery])
    return live


def _placed_and_emitted(runtime: ShardRuntime, make_inbound, event) -> int:
    """A shard that applied one OrderPlaced, store closed; its number."""
    live = _placed(runtime, make_inbound, event)
    live.store.close()
    return live.store.shard


def test_a_store_older_than_its_snapshot_is_refused_not_resumed(make_settings, make_inbound, event):
    shard = _placed_and_emitted(_runtime(make_settings), make_inbound, event)
    # The snapshot saw outputs the store on disk does not have: an old backup or a stale copy.
    logic = _runtime(make_settings).builder({"shard": shard, "outbox_seq": 1_000})
    _await(logic.notify_at())  # its turn to open
    with pytest.raises(StoreBehindError, match=f"shard {shard}: store .* older than .* snapshot"):
        logic.on_notify()


@pytest.mark.parametrize("sync", [True, False])
def test_a_snapshot_syncs_the_written_store_unless_turned_off(make_settings, make_inbound, event, sync):
    logic = _placed(_runtime(make_settings, state__sync_at_snapshot=str(sync).lower()), make_inbound, event)
    assert logic.store.needs_sync
    logic.snapshot()
    assert logic.store.needs_sync is not sync
    logic.store.close()


def test_a_store_whose_outbox_expired_under_an_older_release_continues_after_the_snapshot(make_settings):
    runtime = _runtime(make_settings)
    runtime.directory.ensure()
    ShardStore.open(runtime.directory.shard_path(5), 5, create=True).close()  # no outbox entry left
    logic = _runtime(make_settings).builder({"shard": 5, "outbox_seq": 40})
    _await(logic.notify_at())
    logic.on_notify()
    assert logic.store is not None and logic.store.next_outbox_seq == 41
    logic.store.close()


def test_applied_events_are_counted_by_type_once_their_batch_is_written(make_settings, make_inbound, event):
    def applied(event_type: str) -> float:
        return REGISTRY.get_sample_value(
            "eventyard_events_applied_total", {"pipeline": "order_saga", "type": event_type}) or 0.0

    runtime = _runtime(make_settings)
    placed = event("OrderPlaced", "o-m", customer_id="c", amount=10, currency="EUR",
                   items=[{"sku": "s", "quantity": 1}])
    paid = event("PaymentReceived", "o-m", payment_id="p", amount=10)
    early = event("InventoryReserved", "o-n", reservation_id="r")  # parked: no OrderPlaced for o-n yet
    deliveries = [d for record in (placed, paid, early) for _, d in runtime.operators.route(("", make_inbound(record)))]
    before = {t: applied(t) for t in ("OrderPlaced", "PaymentReceived", "InventoryReserved")}
    logic = runtime.builder(None)
    logic.on_batch(deliveries)
    assert {t: applied(t) - n for t, n in before.items()} == {
        "OrderPlaced": 1, "PaymentReceived": 1, "InventoryReserved": 0}
    logic.store.close()
