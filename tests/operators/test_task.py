"""Task: one input partition number's engine over its own store, in event-time order."""

import orjson
import pytest

from eventyard.core.errors import StoreBehindError
from eventyard.core.records import OutRecord, SourceMessage

MINUTE = 60_000
T0 = 1_700_000_000_000
PLACED = dict(customer_id="c", amount=10, currency="EUR", items=[{"sku": "s", "quantity": 1}])


class Feed:
    """Records as a task reads them: per-topic offsets, explicit timestamps."""

    def __init__(self, partition: int = 0) -> None:
        self.partition = partition
        self.offsets: dict[str, int] = {}

    def __call__(self, record: OutRecord, ts: int) -> SourceMessage:
        offset = self.offsets[record.topic] = self.offsets.get(record.topic, -1) + 1
        return SourceMessage(record.topic, self.partition, offset, record.key, record.value, record.headers, ts)


def types(records: list[OutRecord]) -> list[str]:
    return [orjson.loads(r.value)["type"] for r in records if not r.topic.endswith((".decisions", ".dlq"))]


def caught_up(task, now_ms: int) -> None:
    for topic, partition in task.merge._input_ms:
        task.merge.set_input_time(topic, partition, now_ms)


def test_shipment_read_before_payment_and_stock_still_completes_the_order(make_task, event):
    # The worker read the shipping topic first (a backlog elsewhere): the merge
    # applies by event time, so the order is confirmed before its shipment.
    task, feed = make_task(), Feed()
    task.offer([feed(event("ShipmentCreated", "o-1", shipment_id="sh"), T0 + 3)])
    task.offer([feed(event("PaymentReceived", "o-1", payment_id="p", amount=10), T0 + 1)])
    task.offer([feed(event("InventoryReserved", "o-1", reservation_id="r"), T0 + 2)])
    task.offer([feed(event("OrderPlaced", "o-1", **PLACED), T0)])
    caught_up(task, T0 + 10)
    out = task.run(now_ms=T0 + 10)
    assert types(out) == ["ChargePayment", "ReserveInventory", "OrderConfirmed", "CreateShipment", "OrderCompleted"]
    assert task.store.get_instance("o-1")["state"] == "completed"


def test_nothing_is_applied_before_every_partition_vouched_for_it(make_task, event):
    task, feed = make_task(), Feed()
    task.offer([feed(event("OrderPlaced", "o-1", **PLACED), T0)])
    task.merge.set_input_time("orders", 0, T0)
    assert task.run(now_ms=T0 + 10) == []  # payments, inventory, shipping not read yet
    caught_up(task, T0 + 10)
    assert types(task.run(now_ms=T0 + 10)) == ["ChargePayment", "ReserveInventory"]


def test_a_timer_due_between_two_events_fires_between_them(make_task, event):
    # Read in one batch, after an outage: the payment 20 minutes in comes after the
    # 15-minute reminder; one 35 minutes in comes after the 30-minute timeout.
    task, feed = make_task(), Feed()
    task.offer([feed(event("OrderPlaced", "o-1", **PLACED), T0), feed(event("OrderPlaced", "o-2", **PLACED), T0)])
    task.offer([feed(event("PaymentReceived", "o-1", payment_id="p1", amount=10), T0 + 20 * MINUTE),
                feed(event("PaymentReceived", "o-2", payment_id="p2", amount=10), T0 + 35 * MINUTE)])
    caught_up(task, T0 + 40 * MINUTE)
    out = task.run(now_ms=T0 + 40 * MINUTE)
    by_order = {}
    for record in out:
        body = orjson.loads(record.value)
        if not record.topic.endswith(".decisions"):
            by_order.setdefault(body["aggregate_id"], []).append(body["type"])
    assert by_order["o-1"] == ["ChargePayment", "ReserveInventory", "PaymentReminder"]
    assert by_order["o-2"] == ["ChargePayment", "ReserveInventory", "PaymentReminder", "OrderCancelled",
                               "RefundPayment"]  # the late payment is refunded
    assert task.store.get_instance("o-1")["state"] == "awaiting_stock"


def test_timers_wait_for_a_lagging_partition(make_task, event):
    task, feed = make_task(), Feed()
    task.offer([feed(event("OrderPlaced", "o-1", **PLACED), T0)])
    caught_up(task, T0)
    task.run(now_ms=T0)
    task.merge.set_input_time("orders", 0, T0 + 40 * MINUTE)
    # payments has been read only up to T0: its payment may still be unread
    assert task.run(now_ms=T0 + 40 * MINUTE) == []
    caught_up(task, T0 + 40 * MINUTE)
    assert "OrderCancelled" in types(task.run(now_ms=T0 + 40 * MINUTE))


def test_a_resumed_task_re_emits_unconfirmed_outputs_before_new_work(make_task, event):
    task, feed = make_task(), Feed()
    task.offer([feed(event("OrderPlaced", "o-1", **PLACED), T0)])
    caught_up(task, T0)
    unconfirmed = task.run(now_ms=T0)  # emitted, but no snapshot after it: a crash now
    assert unconfirmed
    task.close()
    resumed = make_task(resume={"outbox_seq": 0})
    resumed.offer([feed(event("PaymentReceived", "o-1", payment_id="p", amount=10), T0 + 1)])
    caught_up(resumed, T0 + 1)
    out = resumed.run(now_ms=T0 + 1)
    assert out[:len(unconfirmed)] == unconfirmed
    assert resumed.snapshot() == resumed.store.next_outbox_seq - 1


def test_a_store_older_than_its_snapshot_is_refused(make_task, event):
    task, feed = make_task(), Feed()
    task.offer([feed(event("OrderPlaced", "o-1", **PLACED), T0)])
    caught_up(task, T0)
    task.run(now_ms=T0)
    seq = task.snapshot()
    task.close()
    with pytest.raises(StoreBehindError, match="task 0: store .* older than the pipeline's last recovery snapshot"):
        make_task(resume={"outbox_seq": seq + 5})


def test_a_record_older_than_stream_time_is_late_applied_and_counted(make_task, event):
    task, feed = make_task(), Feed()
    task.offer([feed(event("OrderPlaced", "o-1", **PLACED), T0 + 5 * MINUTE)])
    caught_up(task, T0 + 5 * MINUTE)
    task.run(now_ms=T0 + 5 * MINUTE)
    task.offer([feed(event("PaymentReceived", "o-1", payment_id="p", amount=10), T0)])  # stamped earlier
    task.run(now_ms=T0 + 5 * MINUTE)
    assert task.counts.late == 1
    instance = task.store.get_instance("o-1")
    assert instance["data"]["payment_id"] == "p"  # applied, never dropped
    assert instance["history"][-1][0] == "PaymentReceived" and instance["history"][-1][-1] == "late"  # state show


def test_a_task_bytewax_never_snapshotted_re_emits_its_whole_outbox(make_task, event):
    # A run killed before its first epoch committed: bytewax restarts the task from
    # scratch, its inputs are skipped by the watermarks, so only the outbox has them.
    task, feed = make_task(), Feed()
    placed = feed(event("OrderPlaced", "o-1", **PLACED), T0)
    task.offer([placed])
    caught_up(task, T0)
    lost = task.run(now_ms=T0)
    task.close()
    again = make_task(resume=None)
    again.offer([placed])  # read again from the earliest offset
    caught_up(again, T0)
    assert again.run(now_ms=T0) == lost


VELOCITY = orjson.dumps([{"use": "eventyard.operators.examples.velocity:VelocityDetector",
                          "options": {"event_type": "OrderPlaced", "key_field": "customer_id", "limit": 1,
                                      "window": "1h", "output": "events"}}]).decode()


def test_an_operator_keyed_across_partitions_meets_all_its_events_in_one_task(make_task, event):
    # Two orders of one customer land in two tasks (their aggregates' partitions).
    # The velocity operator keys by customer: each task sends its event through the
    # operator's repartition topic, keyed by customer, with the original event time;
    # the task of the customer's partition counts both and alerts once.
    env = {"pipeline__operators": VELOCITY}
    first, second = make_task(0, **env), make_task(1, **env)
    feeds = [Feed(0), Feed(1)]
    sent, read = [], []
    for task, feed, order, ts in ((first, feeds[0], "o-1", T0), (second, feeds[1], "o-2", T0 + 1)):
        read.append(feed(event("OrderPlaced", order, **PLACED), ts))
        task.offer([read[-1]])
        caught_up(task, ts)
        out = task.run(now_ms=ts)
        rekeyed = [r for r in out if r.topic == "order_saga.velocity.repartition"]
        assert [(r.key, r.timestamp_ms) for r in rekeyed] == [(b"c", ts)]
        assert types([r for r in out if r is not rekeyed[0]]) == ["ChargePayment", "ReserveInventory"]
        sent += rekeyed
    home = make_task(2, **env)  # the task reading the customer's partition of the repartition topic
    home.offer([SourceMessage(r.topic, 2, n, r.key, r.value, r.headers, r.timestamp_ms) for n, r in enumerate(sent)])
    caught_up(home, T0 + 10)
    assert types(home.run(now_ms=T0 + 10)) == ["FraudSuspected"]  # 2 orders > limit 1
    # A restart that reads the order again sends nothing twice: the operator's watermark.
    first.offer([read[0]])
    assert first.run(now_ms=T0 + 10) == []
