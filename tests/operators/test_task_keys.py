"""Property: any aggregate ID the decoder accepts keeps its state, timers, dedup and
outbox entries apart from every other (issue 16: U+0000 used to lose timers)."""

from __future__ import annotations

import orjson
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from eventyard.core.records import SourceMessage
from eventyard.demo.traffic import envelope_record

T0 = 1_700_000_000_000
PLACED = dict(customer_id="c", amount=10, currency="EUR", items=[{"sku": "s", "quantity": 1}])
# Any code point but surrogates (not UTF-8): control characters, separators, astral planes.
AGGREGATE_IDS = st.text(st.characters(codec="utf-8"), min_size=1, max_size=60)


def _message(aggregate: str, offset: int, event_id: str) -> SourceMessage:
    record = envelope_record("orders", "OrderPlaced", aggregate, PLACED, event_id)
    return SourceMessage("orders", 0, offset, record.key, record.value, (), T0 + offset)


@settings(max_examples=60, derandomize=True, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(ids=st.lists(AGGREGATE_IDS, min_size=1, max_size=4, unique=True))
def test_any_aggregate_id_keeps_its_own_state_timers_dedup_and_outbox(make_task, tmp_path_factory, ids):
    task = make_task(root=tmp_path_factory.mktemp("keys"), order_saga__payment_reminder_after="1s",
                     order_saga__payment_timeout="2s")
    offset = 0
    messages = []
    for aggregate in ids:
        messages.append(_message(aggregate, offset, f"placed-{offset}"))
        messages.append(_message(aggregate, offset + 1, f"placed-{offset}"))  # the same event again
        offset += 2
    task.offer(messages)
    for tp in task.merge._input_ms:
        task.merge.set_input_time(*tp, T0 + 60_000)
    out = task.run(now_ms=T0 + 60_000)
    accepted = [a for a in ids if "\x1f" not in a]
    refused = [a for a in ids if "\x1f" in a]
    dead = [r for r in out if r.topic == "order_saga.dlq"]
    assert sorted(r.key for r in dead) == sorted(a.encode() for a in refused for _ in (0, 1))
    assert all(dict(r.headers)["eventyard.error.reason"] == b"invalid_key" for r in dead)
    outputs: dict[str, list[str]] = {}
    for r in out:
        if r.topic in ("order-commands", "order-events"):
            body = orjson.loads(r.value)
            assert r.key == body["aggregate_id"].encode()
            outputs.setdefault(body["aggregate_id"], []).append(body["type"])
    for aggregate in accepted:
        # applied once (the copy is a duplicate), reminded, then cancelled by its own timers
        assert outputs[aggregate] == ["ChargePayment", "ReserveInventory", "PaymentReminder", "OrderCancelled"]
        instance = task.store.get_instance(aggregate)
        assert instance["state"] == "cancelled" and instance["version"] == 3
    assert set(outputs) == set(accepted)
    assert sorted(e.record.key for e in task.store.outbox_after(0) if e.record.topic != "order_saga.decisions"
                  and e.record.topic != "order_saga.dlq") == sorted(
        a.encode() for a in accepted for _ in range(4))
    task.close()
