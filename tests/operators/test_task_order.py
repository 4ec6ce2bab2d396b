"""Property: a task's outcome depends on what happened, not on how its partitions
were read. Any interleaving of per-topic reads (backlogs on any topic), with a
crash and resume anywhere, gives the state and the outputs of in-order delivery."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from eventyard.core.records import OutRecord, SourceMessage
from eventyard.demo.traffic import envelope_record

MINUTE = 60_000
T0 = 1_700_000_000_000
END = T0 + 3 * 60 * MINUTE  # the wall clock once everything was read: every due timer fires
TOPIC = {"OrderPlaced": "orders", "PaymentReceived": "payments", "PaymentFailed": "payments",
         "InventoryReserved": "inventory", "InventoryUnavailable": "inventory", "ShipmentCreated": "shipping"}
PLACED = dict(customer_id="c", amount=10, currency="EUR", items=[{"sku": "s", "quantity": 1}])


@dataclass(frozen=True)
class Produced:
    record: OutRecord
    ts: int


@st.composite
def order_histories(draw: st.DrawFn, order: int) -> list[Produced]:
    """One order's events as the services would publish them, in time order per service."""
    oid = f"o-{order}"
    start = T0 + draw(st.integers(0, 20)) * MINUTE
    out = [Produced(envelope_record("orders", "OrderPlaced", oid, PLACED, f"{oid}-placed"), start)]
    paid = draw(st.sampled_from(["paid", "failed", "never"]))
    pay_at = start + draw(st.integers(0, 45)) * MINUTE + draw(st.integers(0, 999))
    if paid == "paid":
        out.append(Produced(envelope_record("payments", "PaymentReceived", oid, {"payment_id": f"p-{order}",
                                                                                  "amount": 10}, f"{oid}-pay"), pay_at))
    elif paid == "failed":
        out.append(Produced(envelope_record("payments", "PaymentFailed", oid, {"reason": "declined"},
                                            f"{oid}-fail"), pay_at))
    stock = draw(st.booleans())
    stock_at = start + draw(st.integers(0, 10)) * MINUTE + draw(st.integers(0, 999))
    kind = "InventoryReserved" if stock else "InventoryUnavailable"
    payload = {"reservation_id": f"r-{order}"} if stock else {"sku": "s"}
    out.append(Produced(envelope_record("inventory", kind, oid, payload, f"{oid}-stock"), stock_at))
    if paid == "paid" and stock and pay_at < start + 30 * MINUTE:
        out.append(Produced(envelope_record("shipping", "ShipmentCreated", oid, {"shipment_id": f"s-{order}"},
                                            f"{oid}-ship"), max(pay_at, stock_at) + 1000))
    if draw(st.booleans()):  # a producer retry: the same event again, later
        again = draw(st.sampled_from(out))
        out.append(Produced(again.record, again.ts + draw(st.integers(0, 5000))))
    return out


@st.composite
def workloads(draw: st.DrawFn) -> dict[str, list[SourceMessage]]:
    orders = draw(st.integers(1, 5))
    produced = [p for n in range(orders) for p in draw(order_histories(n))]
    topics: dict[str, list[SourceMessage]] = {}
    for p in sorted(produced, key=lambda p: p.ts):  # each topic is appended in time order
        queue = topics.setdefault(p.record.topic, [])
        r = p.record
        queue.append(SourceMessage(r.topic, 0, len(queue), r.key, r.value, r.headers, p.ts))
    return topics


def _outputs(records: list[OutRecord]) -> set[str]:
    return {orjson.loads(r.value)["event_id"] for r in records}


def _state(task) -> dict[str, dict]:
    return dict(task.store.instances())


def _in_order(make_task, topics) -> tuple[dict, set[str]]:
    task = make_task(number=0)
    for records in topics.values():
        task.offer(records)
    for topic, partition in task.merge._input_ms:
        task.merge.set_input_time(topic, partition, END)
    out = task.run(now_ms=END)
    state = _state(task)
    task.close()
    return state, _outputs(out)


# No shrinking: a failure prints the generated case as is (shrinking took minutes).
@settings(max_examples=40, derandomize=True, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(topics=workloads(), data=st.data())
def test_any_read_interleaving_with_a_crash_gives_the_in_order_outcome(make_task, tmp_path_factory, topics, data):
    # Each example gets fresh stores: hypothesis runs many examples in one test call.
    expected_state, expected_out = _in_order(_fresh(make_task, tmp_path_factory), topics)

    make = _fresh(make_task, tmp_path_factory)
    task = make(number=0)
    positions = {topic: 0 for topic in topics}
    newest = {topic: 0 for topic in topics}
    out: list[OutRecord] = []
    crash_at = data.draw(st.integers(0, 12), label="crash after step")
    step, now = 0, T0
    while any(positions[t] < len(q) for t, q in topics.items()) or step <= crash_at:
        pending = [t for t, q in topics.items() if positions[t] < len(q)]
        if pending:
            topic = data.draw(st.sampled_from(sorted(pending)), label="read topic")
            take = data.draw(st.integers(1, 4), label="records")
            chunk = topics[topic][positions[topic]:positions[topic] + take]
            positions[topic] += len(chunk)
            newest[topic] = chunk[-1].timestamp_ms
            task.offer(chunk)
        # the wall clock only moves forward
        now = END if not pending else max(now, T0 + data.draw(st.integers(0, 180), label="wall minute") * MINUTE)
        for tp in task.merge._input_ms:
            t = tp[0]
            drained = positions.get(t, 0) >= len(topics.get(t, []))
            task.merge.set_input_time(*tp, now if drained else newest.get(t, 0))
        out += task.run(now_ms=now)
        if step == crash_at:  # SIGKILL after a snapshot: resume where bytewax would
            read_next = {tp: positions.get(tp[0], 0) for tp in task.merge._input_ms}
            resume = task.merge.resume_offsets(read_next)
            seq = task.snapshot()
            task.close()
            task = make(number=0, resume={"outbox_seq": seq})
            positions = {t: resume[(t, 0)] for t in topics}
            newest = {t: 0 for t in topics}
        step += 1
    for tp in task.merge._input_ms:
        task.merge.set_input_time(*tp, END)
    out += task.run(now_ms=END)
    assert _state(task) == expected_state
    assert _outputs(out) == expected_out  # every output at least once, under the same event_id
    task.close()


def _fresh(make_task, tmp_path_factory):
    root = tmp_path_factory.mktemp("order")
    return lambda **kw: make_task(root=root, **kw)
