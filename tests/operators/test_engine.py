"""The engine's guarantees, on a real RocksDB shard store."""

from datetime import timedelta

import orjson



DECISIONS = "order_saga.decisions"


def _business(records):
    """Outputs for downstream services, without the engine's decision records."""
    return [r for r in records if r.topic != DECISIONS]


def _types(records):
    return [orjson.loads(r.value)["type"] for r in _business(records)]


def _placed(event, order_id="o-1", **kw):
    return event("OrderPlaced", order_id, customer_id="c", amount=10, currency="EUR",
                 items=[{"sku": "s", "quantity": 1}], **kw)


def test_an_event_at_or_below_the_watermark_is_not_applied_again(make_engine, make_store, make_inbound, event):
    engine, store = make_engine(), make_store()
    placed = make_inbound(_placed(event), offset=10)
    assert _types(engine.apply(store.transaction(), placed)) == ["ChargePayment", "ReserveInventory"]
    # bytewax rewinds input to the last snapshot after a crash: same offset again
    assert engine.apply(store.transaction(), placed) == []
    assert store.get_instance("o-1")["version"] == 1
    assert engine.stats.replayed == 1


def test_duplicate_event_id_at_a_new_offset_is_ignored(make_engine, make_store, make_inbound, event):
    engine, store = make_engine(), make_store()
    engine.apply(store.transaction(), make_inbound(_placed(event)))
    assert engine.apply(store.transaction(), make_inbound(_placed(event))) == []
    assert engine.stats.duplicates == 1
    assert store.get_instance("o-1")["version"] == 1


def test_output_ids_are_deterministic_and_caused_by_the_input(make_engine, make_store, make_inbound, event, tmp_path):
    first = make_engine().apply(make_store(name="a").transaction(), make_inbound(_placed(event)))
    second = make_engine().apply(make_store(name="b").transaction(), make_inbound(_placed(event)))
    ids = [orjson.loads(r.value)["event_id"] for r in first]
    assert ids == [orjson.loads(r.value)["event_id"] for r in second]
    assert len(set(ids)) == 2
    envelope = orjson.loads(first[0].value)
    assert envelope["causation_id"] == "o-1-OrderPlaced" and envelope["hops"] == 1
    assert dict(first[0].headers)["eventyard.event_id"] == ids[0].encode()


def test_events_before_the_start_event_wait_for_it(make_engine, make_store, make_inbound, event):
    engine, store = make_engine(), make_store()
    early = make_inbound(event("PaymentReceived", payment_id="p", amount=10))
    assert engine.apply(store.transaction(), early) == []
    assert store.get_instance("o-1")["state"] is None
    out = engine.apply(store.transaction(), make_inbound(_placed(event)))
    assert _types(out) == ["ChargePayment", "ReserveInventory"]
    assert store.get_instance("o-1")["state"] == "awaiting_stock"
    assert store.get_instance("o-1")["data"]["payment_id"] == "p"


def test_parked_events_without_start_are_dead_lettered_after_orphan_timeout(make_engine, make_store, make_inbound, event, clock):
    engine, store = make_engine(pipeline__orphan_timeout="1m"), make_store()
    engine.apply(store.transaction(), make_inbound(event("PaymentReceived", payment_id="p", amount=1)))
    clock.advance(timedelta(minutes=2))
    out = _business(r for t in store.due_timers(clock.ms) for r in engine.fire(store.transaction(), t))
    assert [dict(r.headers)["eventyard.error.reason"] for r in out] == [b"orphaned"]
    assert store.get_instance("o-1") is None


def test_handler_exception_dead_letters_and_leaves_state_untouched(make_engine, make_store, make_inbound, event):
    engine, store = make_engine(), make_store()
    engine.apply(store.transaction(), make_inbound(_placed(event)))
    before = store.get_instance("o-1")

    def explode(order, evt):
        order.data["paid"] = "half"
        raise RuntimeError("payment service returned garbage")

    engine.workflow.payment_received = explode
    bad = make_inbound(event("PaymentReceived", payment_id="p", amount=10))
    out = engine.apply(store.transaction(), bad)
    headers = dict(out[0].headers)
    assert headers["eventyard.error.reason"] == b"handler_error"
    assert headers["eventyard.error.class"] == b"RuntimeError"
    assert out[0].value == bad.message.value
    assert store.get_instance("o-1") == before
    # not marked processed: a redrive after the fix can still apply it
    assert not store.transaction().seen(bad.envelope.event_id)


def test_timer_fires_once_and_its_removal_is_atomic_with_its_effects(make_engine, make_store, make_inbound, event, clock):
    engine, store = make_engine(), make_store()
    engine.apply(store.transaction(), make_inbound(_placed(event)))
    clock.advance(timedelta(minutes=16))
    due = store.due_timers(clock.ms)
    assert [t.name for t in due] == ["payment_reminder"]
    assert _types(engine.fire(store.transaction(), due[0])) == ["PaymentReminder"]
    assert engine.fire(store.transaction(), due[0]) == []  # stale entry: nothing happens
    assert [t.name for t in store.due_timers(clock.ms)] == []


def test_finished_instances_are_deleted_after_retention(make_engine, make_store, make_inbound, event, clock):
    engine, store = make_engine(pipeline__finished_retention="1h"), make_store()
    engine.apply(store.transaction(), make_inbound(_placed(event)))
    engine.apply(store.transaction(), make_inbound(event("PaymentFailed", payment_id="p", reason="no")))
    assert store.get_instance("o-1")["finished"]
    assert [t.name for t in store.timers()] == ["__expire__"]
    clock.advance(timedelta(hours=2))
    for timer in store.due_timers(clock.ms):
        engine.fire(store.transaction(), timer)
    assert store.get_instance("o-1") is None


def test_history_records_applied_events_with_their_source_offsets(make_engine, make_store, make_inbound, event):
    engine, store = make_engine(), make_store()
    engine.apply(store.transaction(), make_inbound(_placed(event), offset=41))
    history = store.get_instance("o-1")["history"]
    assert history[0][:5] == ["OrderPlaced", "o-1-OrderPlaced", "orders", 0, 41]




def test_timer_output_ids_do_not_depend_on_wall_clock(make_engine, make_store, make_inbound, event, clock):
    ids = []
    for name, start_offset in (("a", timedelta(0)), ("b", timedelta(hours=5))):
        engine, store = make_engine(), make_store(name=name)
        clock.advance(start_offset)
        engine.apply(store.transaction(), make_inbound(_placed(event)))
        clock.advance(timedelta(minutes=31))
        fired = _business(r for t in store.due_timers(clock.ms) for r in engine.fire(store.transaction(), t))
        ids.append([orjson.loads(r.value)["event_id"] for r in fired])
    assert ids[0] == ids[1] and len(ids[0]) == 2  # reminder, then cancellation
