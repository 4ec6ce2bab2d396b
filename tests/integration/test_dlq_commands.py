"""`eventyard dlq ...` as an operator runs it, against dead letters a real pipeline wrote."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import timedelta

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from eventyard.config import EventyardSettings
from eventyard.core.deadletter import DeadLetterRecord, Reason
from eventyard.demo.bad_input import bad_messages
from eventyard.demo.driver import TrafficDriver
from eventyard.demo.traffic import envelope_record
from eventyard.core.envelope import utc_now
from eventyard.cli.inspect import read_instance
from eventyard.core.records import OutRecord, SourceMessage
from eventyard.state import TaskStore, StateDirectory
from tests.conftest import REPO

pytestmark = pytest.mark.integration

EXPLODING = "tests.integration.exploding:PIPELINE"
REDRIVEN = "eventyard.redrive.count"


def explode(order_id: str) -> OutRecord:
    """An OrderPlaced the exploding saga's handler raises on."""
    return envelope_record("orders", "OrderPlaced", order_id, {
        "customer_id": "explode", "amount": 5, "currency": "EUR", "items": [{"sku": "s", "quantity": 1}],
    }, f"{order_id}-placed")


def binary(key: str) -> OutRecord:
    return OutRecord("orders", key.encode(), b"\x80\x81binary\xff\x00")


def dlq(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "eventyard", "dlq", *args], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=180)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def dlq_json(*args: str) -> dict:
    return orjson.loads(dlq(*args, "--json").stdout)


def dlq_lines(*args: str) -> list[dict]:
    return [orjson.loads(line) for line in dlq(*args, "--json").stdout.splitlines()]


def read_topic(settings: EventyardSettings, topic: str,
               until: Callable[[list[SourceMessage]], bool] | None = None) -> list[SourceMessage]:
    """Every record of `topic`: until two polls in a row are empty, or until `until` holds."""
    consumer = KafkaConsumer(**settings.kafka.client_options(), enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        records: list[SourceMessage] = []
        deadline, empty = time.monotonic() + 120, 0
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=300)
            empty = 0 if batch else empty + 1
            records += [SourceMessage(m.topic, m.partition, m.offset, m.key, m.value,
                                      tuple((k, v or b"") for k, v in m.headers or ()), m.timestamp)
                        for messages in batch.values() for m in messages]
            if (until is None and empty >= 2) or (until is not None and until(records)):
                return records
        raise AssertionError(f"gave up reading {topic}: {len(records)} records")
    finally:
        consumer.close()


def redriven(records: Iterable[SourceMessage]) -> list[SourceMessage]:
    return [m for m in records if any(k == REDRIVEN for k, _ in m.headers)]


@pytest.fixture
def dead_lettered(live_settings, start_pipeline, make_driver) -> Callable[..., tuple[EventyardSettings, TrafficDriver]]:
    """Run the exploding saga on `records` until each of them is dead-lettered."""

    def run(records: list[OutRecord]) -> tuple[EventyardSettings, TrafficDriver]:
        settings = live_settings()
        start_pipeline(processes=2, pipeline=EXPLODING)
        driver = make_driver(settings, [])
        driver.send(records)
        start_pipeline.settle(driver, lambda: len(driver.collector.tally.dead_letters) >= len(records))
        return settings, driver

    return run


def every_bad_kind() -> list[OutRecord]:
    return [*bad_messages().values(), binary("bin-1"), explode("boom-1"), explode("boom-2")]


def test_stats_count_by_reason_type_and_source_and_the_last_hour(dead_lettered):
    settings, driver = dead_lettered(every_bad_kind())
    three_hours_ago = utc_now() - timedelta(hours=3)
    paid = envelope_record("payments", "PaymentReceived", "o-old", {"payment_id": "p", "amount": 1}, "o-old-paid")
    old = DeadLetterRecord(Reason.ORPHANED, "no OrderPlaced within 1h", "order_saga", "workflow",
                           SourceMessage("payments", 1, 3, paid.key, paid.value, (), 0), failed_at=three_hours_ago)
    driver.send([old.to_record(settings.pipeline.dead_letter)])

    stats = dlq_json("stats", "order_saga")
    assert stats["total"] == 10 and stats["last_hour"] == 9
    assert stats["by_reason"] == {"handler_error": 2, "invalid_json": 2, "loop_detected": 1, "missing_key": 1,
                                  "orphaned": 1, "oversized": 1, "schema_violation": 1, "unknown_type": 1}
    assert stats["by_type"] == {"OrderPlaced": 6, "?": 2, "OrderTeleported": 1, "PaymentReceived": 1}
    assert stats["by_source_topic"] == {"orders": 9, "payments": 1}
    assert stats["oldest"] == three_hours_ago.isoformat()

    text = dlq("stats", "order_saga").stdout
    assert "order_saga.dlq: 10 dead letters, 9 in the last hour" in text
    assert f"oldest failure {three_hours_ago:%Y-%m-%dT%H:%M:%SZ}" in text
    assert any(line.split()[1:4] == ["handler_error", "│", "2"] for line in text.splitlines())


def test_tail_prints_one_line_per_record_and_filters_by_reason_and_type(dead_lettered):
    dead_lettered(every_bad_kind())
    handler = dlq_lines("tail", "order_saga", "--reason", "handler_error")
    assert sorted(r["key"] for r in handler) == ["boom-1", "boom-2"]
    assert {(r["type"], r["source"]["topic"], r["error_class"]) for r in handler} == {("OrderPlaced", "orders", "ValueError")}
    untyped = dlq_lines("tail", "order_saga", "--type", "?")
    assert sorted((r["reason"], r["key"]) for r in untyped) == [("invalid_json", "bad-1"), ("invalid_json", "bin-1")]
    assert len(dlq_lines("tail", "order_saga")) == 9
    newest = dlq_lines("tail", "order_saga", "--last", "1")
    assert newest == [max(dlq_lines("tail", "order_saga"), key=lambda r: r["failed_at"])]

    lines = dlq("tail", "order_saga", "--reason", "handler_error", "--type", "OrderPlaced").stdout.splitlines()
    assert lines[0].split()[:3] == ["POS", "FAILED", "AT"]
    rows = sorted(line.split() for line in lines[1:])
    assert sorted(row[2:4] + row[5:6] for row in rows) == [["handler_error", "OrderPlaced", "boom-1"],
                                                           ["handler_error", "OrderPlaced", "boom-2"]]
    assert all(row[4].startswith("orders[") and "ValueError(\"customer" in " ".join(row) for row in rows)
    assert dlq("tail", "order_saga", "--reason", "handler_eror", check=False).returncode == 2


def test_tail_follow_prints_new_dead_letters_until_ctrl_c(dead_lettered, start_pipeline, spawn):
    settings, driver = dead_lettered([explode("boom-1")])
    tail = spawn([sys.executable, "-m", "eventyard", "dlq", "tail", "order_saga", "--follow",
                  "--reason", "handler_error", "--json"], cwd=REPO, stdout=subprocess.PIPE,
                 env={**os.environ, "PYTHONPATH": str(REPO)})
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in tail.stdout], daemon=True)
    reader.start()
    try:
        assert orjson.loads(lines.get(timeout=60))["key"] == "boom-1"
        driver.send([binary("bin-1")])  # dead-lettered, but not a handler error: not shown
        start_pipeline.settle(driver, lambda: len(driver.collector.tally.dead_letters) >= 2)
        driver.send([explode("boom-2")])
        assert orjson.loads(lines.get(timeout=60))["key"] == "boom-2"
    finally:
        tail.send_signal(signal.SIGINT)
        assert tail.wait(timeout=30) == 0
    reader.join(timeout=30)
    assert lines.empty()


def test_show_prints_the_payload_as_pretty_json_or_as_hex(dead_lettered):
    sent = every_bad_kind()
    dead_lettered(sent)
    rows = {r["key"]: r for r in dlq_lines("tail", "order_saga", "--last", "0")}
    junk, boom = rows["bin-1"], rows["boom-1"]

    text = dlq("show", "order_saga", f"{junk['partition']}:{junk['offset']}").stdout.splitlines()
    assert "payload (hex, 10 bytes)" in text
    assert text[-1] == "00000000  " + "80 81 62 69 6e 61 72 79 ff 00".ljust(47) + "  |..binary..|"
    assert any(line.split() == ["eventyard.error.reason", "invalid_json"] for line in text)
    detail = dlq_json("show", "order_saga", str(junk["offset"]), "--partition", str(junk["partition"]))
    assert detail["payload"] == {"encoding": "hex", "bytes": 10, "value": "808162696e617279ff00"}

    text = dlq("show", "order_saga", str(boom["offset"]), "--partition", str(boom["partition"])).stdout
    assert '  "aggregate_id": "boom-1",' in text and '    "customer_id": "explode",' in text
    assert "ValueError: ValueError(\"customer 'explode' breaks the handler\")" in text
    detail = dlq_json("show", "order_saga", f"{boom['partition']}:{boom['offset']}")
    assert detail["payload"]["value"] == orjson.loads(next(r.value for r in sent if r.key == b"boom-1"))
    assert {"name": "eventyard.source.topic", "value": "orders"} in detail["headers"]

    missing = dlq("show", "order_saga", f"{boom['partition']}:999", check=False)
    assert missing.returncode == 2 and "has no record at partition" in missing.stderr


def test_redrive_dry_run_lists_the_selection_and_publishes_nothing(dead_lettered, start_pipeline, tmp_path):
    settings, _ = dead_lettered(every_bad_kind())
    assert start_pipeline.stop_all() == [0]
    before = {(m.partition, m.offset) for m in read_topic(settings, "orders")}
    plan = dlq_json("redrive", "order_saga", "--reason", "handler_error", "--dry-run")
    assert plan["dry_run"] and plan["selected"] == 2 and plan["targets"] == {"orders": 2}
    assert sorted(r["key"] for r in plan["records"]) == ["boom-1", "boom-2"]
    text = dlq("redrive", "order_saga", "--dry-run").stdout
    # invalid_json (twice) and missing_key can never pass as they are: skipped, and said so
    assert "would redrive 6 record(s) of order_saga.dlq (every record); nothing published" in text
    assert "3 matching record(s) skipped: failed timers (nothing to put back) or reasons the same bytes" in text
    assert {(m.partition, m.offset) for m in read_topic(settings, "orders")} == before
    assert not (tmp_path / "redrive").exists()


def wait_until_applied(settings: EventyardSettings, aggregate_id: str, record: SourceMessage, launcher) -> None:
    """Until the pipeline has read past `record`: its task's watermark covers the offset."""
    task = record.partition  # task p reads partition p of every input
    path = StateDirectory(settings.state.dir, settings.name).task_path(task)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        launcher.running[-1].check_alive()
        if not path.exists():
            time.sleep(0.1)
            continue
        store = TaskStore.open(path, task, read_only=True)
        try:
            if store.watermark(record.topic, record.partition) >= record.offset:
                return
        finally:
            store.close()
        time.sleep(0.1)
    raise AssertionError(f"{record.topic}[{record.partition}]@{record.offset} was never applied")


def test_redrive_after_the_fix_completes_the_order_and_twice_has_no_double_effect(dead_lettered, start_pipeline):
    settings, driver = dead_lettered([explode("boom-1")])
    assert start_pipeline.stop_all() == [0]
    start_pipeline(processes=2)  # the fix: the real order saga, same state

    done = dlq_json("redrive", "order_saga", "--reason", "handler_error")
    assert (done["redriven"], done["redriven_to"], done["complete"]) == (1, {"orders": 1}, True)
    start_pipeline.settle(driver, lambda: {"ChargePayment", "ReserveInventory"}
                          <= set(driver.collector.tally.distinct("boom-1")))

    again = dlq_json("redrive", "order_saga", "--reason", "handler_error")
    assert (again["redriven"], again["total_redriven"]) == (0, 1)
    assert "complete. Running the same command again publishes only records dead-lettered since" in \
        dlq("redrive", "order_saga", "--reason", "handler_error").stdout

    restarted = dlq_json("redrive", "order_saga", "--reason", "handler_error", "--restart")
    assert restarted["redriven"] == 1
    copies = redriven(m for m in read_topic(settings, "orders") if m.key == b"boom-1")
    assert len(copies) == 2 and all(dict(m.headers)[REDRIVEN] == b"1" for m in copies)
    wait_until_applied(settings, "boom-1", max(copies, key=lambda m: m.offset), start_pipeline)
    assert start_pipeline.stop_all() == [0, 0]
    view = read_instance(settings, "boom-1")
    assert [h[1] for h in view.instance["history"]] == ["boom-1-placed"]  # applied once
    outputs = Counter(dict(e.record.headers).get("eventyard.type", b"").decode() for e in view.outbox)
    assert outputs["ChargePayment"] == outputs["ReserveInventory"] == 1


def test_a_redrive_stopped_by_limit_resumes_and_publishes_each_record_once(dead_lettered, start_pipeline):
    orders = [f"boom-{i}" for i in range(5)]
    settings, _ = dead_lettered([explode(o) for o in orders])
    assert start_pipeline.stop_all() == [0]

    first = dlq_json("redrive", "order_saga", "--reason", "handler_error", "--limit", "2", "--rate", "50")
    assert (first["redriven"], first["remaining"], first["complete"]) == (2, 3, False)
    assert len(redriven(read_topic(settings, "orders"))) == 2
    rest = dlq_json("redrive", "order_saga", "--reason", "handler_error")
    assert (rest["redriven"], rest["total_redriven"], rest["complete"]) == (3, 5, True)
    assert dlq_json("redrive", "order_saga", "--reason", "handler_error")["redriven"] == 0

    published = Counter(m.key.decode() for m in redriven(read_topic(settings, "orders")))
    assert published == {o: 1 for o in orders}


def test_a_redrive_stopped_by_ctrl_c_saves_its_checkpoint_and_resumes(dead_lettered, start_pipeline, spawn):
    orders = [f"boom-{i}" for i in range(3)]
    settings, _ = dead_lettered([explode(o) for o in orders])
    assert start_pipeline.stop_all() == [0]
    # One record every 100 s: Ctrl-C lands while it waits to publish the second.
    run = spawn([sys.executable, "-m", "eventyard", "dlq", "redrive", "order_saga", "--rate", "0.01"],
                cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    read_topic(settings, "orders", until=lambda records: len(redriven(records)) >= 1)
    run.send_signal(signal.SIGINT)
    output = run.communicate(timeout=60)[0]
    assert run.returncode == 130, output
    assert "interrupted" in output and "Run the same command again to resume." in output

    rest = dlq_json("redrive", "order_saga")
    assert (rest["redriven"], rest["total_redriven"], rest["complete"]) == (2, 3, True)
    published = Counter(m.key.decode() for m in redriven(read_topic(settings, "orders")))
    assert published == {o: 1 for o in orders}


def test_an_orphaned_payment_redriven_after_its_order_came_confirms_the_order_once(
        live_settings, start_pipeline, make_driver, tmp_path):
    # Issue 16: the payment came before its order and was dead-lettered `orphaned`;
    # redriven after OrderPlaced and InventoryReserved came, it must be applied.
    settings = live_settings(pipeline__orphan_timeout="2s")
    run = start_pipeline(processes=1)
    driver = make_driver(settings, [])
    payment = envelope_record("payments", "PaymentReceived", "o-x", {"payment_id": "p-x", "amount": 5}, "o-x-paid")
    driver.send([payment])
    start_pipeline.settle(driver, lambda: len(driver.collector.tally.dead_letters) == 1)
    assert dict(driver.collector.tally.dead_letters[0].headers)["eventyard.error.reason"] == b"orphaned"
    driver.send([envelope_record("orders", "OrderPlaced", "o-x", {
        "customer_id": "c", "amount": 5, "currency": "EUR", "items": [{"sku": "s", "quantity": 1}]}, "o-x-placed"),
        envelope_record("inventory", "InventoryReserved", "o-x", {"reservation_id": "r-x"}, "o-x-rsv")])
    start_pipeline.settle(driver, lambda: "ReserveInventory" in driver.collector.tally.distinct("o-x"))

    done = dlq("redrive", "order_saga", "--reason", "orphaned")
    assert "redrove 1 of 1" in done.stdout and "the pipeline decides" in done.stdout
    start_pipeline.settle(driver, lambda: "OrderConfirmed" in driver.collector.tally.distinct("o-x"))

    again = dlq_json("redrive", "order_saga", "--reason", "orphaned", "--restart")
    assert again["redriven"] == 1
    copies = redriven(m for m in read_topic(settings, "payments") if m.key == b"o-x")
    wait_until_applied(settings, "o-x", max(copies, key=lambda m: m.offset), start_pipeline)
    assert run.stop() == 0
    log = run.log.read_text()
    assert "redriven PaymentReceived o-x-paid applied by workflow" in log
    assert "redriven PaymentReceived o-x-paid skipped by workflow: already processed" in log
    history = [h[1] for h in read_instance(settings, "o-x").instance["history"]]
    assert history == ["o-x-placed", "o-x-rsv", "o-x-paid"]  # the payment applied once


def test_redriving_only_records_that_can_never_pass_is_refused_up_front(live_settings):
    live_settings()
    refused = dlq("redrive", "order_saga", "--reason", "invalid_json", check=False)
    assert refused.returncode == 2
    assert "invalid_json dead letters cannot be applied by a redrive" in refused.stderr
    assert "--to TOPIC" in refused.stderr
