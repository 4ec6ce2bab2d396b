"""`eventyard demo`: everything on the embedded broker, then a summary table."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from eventyard.broker import EmbeddedBroker
from eventyard.demo.bad_input import bad_messages
from eventyard.demo.driver import TrafficDriver
from eventyard.demo.traffic import plan_orders
from eventyard.kafka import create_topics
from eventyard.runtime import PipelineSupervisor
from eventyard.pipelines import get_pipeline

__all__ = ["run_demo", "summary_table"]

PIPELINE = "order_saga"


def run_demo(orders: int, processes: int, console: Console, timeout: float = 300.0) -> bool:
    work = Path(tempfile.mkdtemp(prefix="eventyard-demo-"))
    broker = EmbeddedBroker(log_file=work / "broker.log")
    supervisor = driver = None
    try:
        console.print("starting the embedded broker ...")
        broker.start()
        os.environ.update({
            "EVENTYARD_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "EVENTYARD_STATE__DIR": str(work / "state"),
            "EVENTYARD_RECOVERY__DIR": str(work / "recovery"),
            "EVENTYARD_ORDER_SAGA__PAYMENT_REMINDER_AFTER": "3s",
            "EVENTYARD_ORDER_SAGA__PAYMENT_TIMEOUT": "6s",
            "EVENTYARD_LOG_LEVEL": "WARNING",
        })
        definition = get_pipeline(PIPELINE)
        settings = definition.settings()
        create_topics(settings.kafka, definition.topics(settings))
        console.print(f"broker {broker.bootstrap_servers}; topics created; "
                      f"starting {PIPELINE} in {processes} processes (payment reminder 3s, timeout 6s)")
        supervisor = PipelineSupervisor(PIPELINE, settings, processes, env=dict(os.environ),
                                        log_file=work / "workers.log")
        supervisor.start()
        scenarios = plan_orders(orders)
        driver = TrafficDriver(settings, scenarios)
        bad = bad_messages()
        driver.send_initial()
        driver.send(bad.values())
        columns = (TextColumn("orders settled"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("orders", total=len(scenarios))
            ok = driver.run_until(
                lambda: driver.all_as_expected() and len(driver.collector.tally.dead_letters) >= len(bad),
                timeout, lambda done: progress.update(task, completed=done))
        console.print(summary_table(driver, scenarios_count=len(scenarios)))
        if ok:
            console.print("[green]every order received exactly the expected commands and events[/]")
        else:
            for order_id, (want, got) in list(driver.mismatches().items())[:10]:
                console.print(f"[red]{order_id}[/]: expected {dict(want)}, got {dict(got)}")
        return ok
    finally:
        if driver:
            driver.close()
        if supervisor:
            supervisor.stop()
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)


def summary_table(driver: TrafficDriver, scenarios_count: int) -> Table:
    tally = driver.collector.tally
    types: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for aggregate, counts in tally.by_aggregate.items():
        types.update(counts)
        reasons.update(p["reason"] for p in tally.payloads[aggregate] if p["type"] == "OrderCancelled")
    dead = Counter(
        dict(m.headers).get("eventyard.error.reason", b"?").decode() for m in tally.dead_letters
    )
    duplicates = sum(1 for s in driver.scenarios.values() if s.duplicate)
    table = Table(title="Eventyard demo: order_saga")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    rows = [
        ("orders placed", scenarios_count),
        ("orders completed", types["OrderCompleted"]),
        ("cancelled: payment timeout", reasons["payment_timeout"]),
        ("cancelled: payment failed", reasons["payment_failed"]),
        ("cancelled: out of stock", reasons["out_of_stock"]),
        ("payment reminders sent", types["PaymentReminder"]),
        ("compensations sent (refund + release)", types["RefundPayment"] + types["ReleaseInventory"]),
        ("duplicate events ignored", duplicates if driver.all_as_expected() else "?"),
        ("outputs re-published (at-least-once)", tally.repeats),
    ]
    rows += [(f"dead-lettered: {reason}", n) for reason, n in sorted(dead.items())]
    for label, value in rows:
        table.add_row(label, str(value))
    return table
