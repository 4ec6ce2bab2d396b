"""The order saga on Quix Streams (rocksdict + confluent-kafka), the closest
Python peer, on the same embedded broker and workload as the Eventyard run.

Same rules as pipelines/order_saga.py, state per order in Quix's RocksDB store,
commands and events to the same two topics. Differences, stated so the figure is
read right:
- Timers: Quix Streams has no durable per-key timers. Deadlines are kept in the
  order's state and checked when the next event for that order arrives (event
  time), so a reminder or timeout fires late, or never if no event comes. The
  throughput workload has no timer outcomes, so this does not change its work.
- No pydantic validation and no dead-letter routing (less work than Eventyard).
- No changelog topics (state local on disk, as Eventyard's), at-least-once.

Run as a process: `python -m bench.peers.quix_order_saga BROKER STATE_DIR TARGET REPORT`;
it stops after TARGET input messages and writes its timing to REPORT (JSON).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench.saga_env import BenchError, SagaEnv
from bench.scale import Scale
from bench.workload import Workload, publish

__all__ = ["run", "SagaStep"]

INPUTS = ("orders", "payments", "inventory", "shipping")
REMINDER_MS, TIMEOUT_MS = 15 * 60_000, 30 * 60_000


class SagaStep:
    """One event in, the outputs it causes out; order state in a Quix state store."""

    def __call__(self, value: dict[str, Any], key: str, timestamp: int, headers: Any,
                 state: Any) -> list[dict[str, Any]]:
        order: dict[str, Any] | None = state.get("order")
        seen: list[str] = state.get("seen", [])
        if value["event_id"] in seen:
            return []
        seen = [*seen[-19:], value["event_id"]]
        state.set("seen", seen)
        out: list[dict[str, Any]] = []
        if order is None and value["type"] != "OrderPlaced":
            state.set("parked", [*state.get("parked", []), value])  # wait for the start event
            return out
        if order is not None:
            self._lazy_timers(order, timestamp, value, out)
        events = [value]
        if order is None:
            events += state.get("parked", [])
            state.delete("parked")
            order = {}
        for event in events:
            self._apply(order, event, timestamp, out)
        state.set("order", order)
        return out

    @staticmethod
    def _emit(out: list[dict[str, Any]], order: dict[str, Any], cause: dict[str, Any], kind: str,
              category: str, **payload: Any) -> None:
        out.append({"event_id": f"{cause['event_id']}/{len(out)}", "type": kind, "category": category,
                    "aggregate_id": cause["aggregate_id"], "causation_id": cause["event_id"],
                    "correlation_id": cause.get("correlation_id"), "occurred_at": cause["occurred_at"],
                    "producer": "quix-order-saga", "payload": payload})

    def _lazy_timers(self, order: dict[str, Any], now: int, cause: dict[str, Any],
                     out: list[dict[str, Any]]) -> None:
        if order.get("finished") or order.get("payment_id"):
            return
        if order.get("remind_at") and now >= order["remind_at"]:
            order["remind_at"] = None
            self._emit(out, order, cause, "PaymentReminder", "command", customer_id=order["customer_id"])
        if order.get("timeout_at") and now >= order["timeout_at"]:
            self._cancel(order, cause, "payment_timeout", out, notify=False)

    def _apply(self, order: dict[str, Any], event: dict[str, Any], now: int, out: list[dict[str, Any]]) -> None:
        kind, p = event["type"], event["payload"]
        if kind == "OrderPlaced":
            order.update(customer_id=p["customer_id"], amount=p["amount"], items=p["items"],
                         payment_id=None, reservation_id=None, finished=False,
                         remind_at=now + REMINDER_MS, timeout_at=now + TIMEOUT_MS)
            self._emit(out, order, event, "ChargePayment", "command", customer_id=p["customer_id"],
                       amount=p["amount"], currency=p["currency"])
            self._emit(out, order, event, "ReserveInventory", "command", items=p["items"])
        elif kind == "PaymentReceived":
            if order["finished"] or order["payment_id"]:
                self._emit(out, order, event, "RefundPayment", "command", payment_id=p["payment_id"])
                return
            order.update(payment_id=p["payment_id"], paid_amount=p["amount"], remind_at=None, timeout_at=None)
            self._confirm_when_ready(order, event, out)
        elif kind == "InventoryReserved":
            if order["finished"] or order["reservation_id"]:
                self._emit(out, order, event, "ReleaseInventory", "command", reservation_id=p["reservation_id"])
                return
            order["reservation_id"] = p["reservation_id"]
            self._confirm_when_ready(order, event, out)
        elif kind in ("PaymentFailed", "InventoryUnavailable") and not order["finished"]:
            reason = "payment_failed" if kind == "PaymentFailed" else "out_of_stock"
            self._cancel(order, event, reason, out, notify=True)
        elif kind == "ShipmentCreated" and order.get("state") == "confirmed":
            self._emit(out, order, event, "OrderCompleted", "event", shipment_id=p["shipment_id"])
            order["finished"] = True

    def _confirm_when_ready(self, order: dict[str, Any], event: dict[str, Any], out: list[dict[str, Any]]) -> None:
        if order["payment_id"] and order["reservation_id"]:
            self._emit(out, order, event, "OrderConfirmed", "event", payment_id=order["payment_id"])
            self._emit(out, order, event, "CreateShipment", "command", items=order["items"])
            order["state"] = "confirmed"

    def _cancel(self, order: dict[str, Any], event: dict[str, Any], reason: str, out: list[dict[str, Any]],
                *, notify: bool) -> None:
        if order["reservation_id"]:
            self._emit(out, order, event, "ReleaseInventory", "command", reservation_id=order["reservation_id"])
        if order["payment_id"]:
            self._emit(out, order, event, "RefundPayment", "command", payment_id=order["payment_id"])
        if notify:
            self._emit(out, order, event, "NotifyCustomer", "command", customer_id=order["customer_id"])
        self._emit(out, order, event, "OrderCancelled", "event", reason=reason)
        order.update(finished=True, remind_at=None, timeout_at=None)


def worker(broker: str, state_dir: str, target: int, report: Path) -> None:
    from quixstreams import Application
    from quixstreams.models import TopicConfig

    timing: dict[str, float] = {"processed": 0}

    def processed(topic: str, partition: int, offset: int) -> None:
        timing["processed"] += 1
        if timing["processed"] == 1:
            timing["first"], timing["cpu_first"] = time.monotonic(), time.process_time()
        if timing["processed"] >= target and "last" not in timing:
            timing["last"], timing["cpu_last"] = time.monotonic(), time.process_time()
            app.stop()

    app = Application(broker_address=broker, consumer_group="quix-order-saga", auto_offset_reset="earliest",
                      state_dir=state_dir, use_changelog_topics=False, loglevel="WARNING",
                      consumer_extra_config={"fetch.queue.backoff.ms": 10},
                      on_message_processed=processed)
    topics = [app.topic(t, value_deserializer="json", key_deserializer="str") for t in INPUTS]
    for topic in topics:
        # The embedded broker reports no topic configs; Quix reads retention.ms to
        # size its state topics (unused here, no changelogs), so say "unlimited".
        config = topic.broker_config
        topic.broker_config = TopicConfig(num_partitions=config.num_partitions,
                                          replication_factor=config.replication_factor,
                                          extra_config={"retention.ms": "-1", "retention.bytes": "-1"})
    commands = app.topic("order-commands", value_serializer="json", key_serializer="str")
    events = app.topic("order-events", value_serializer="json", key_serializer="str")
    sdf = app.dataframe(topics[0])
    for topic in topics[1:]:
        sdf = sdf.concat(app.dataframe(topic))
    sdf = sdf.apply(SagaStep(), stateful=True, expand=True, metadata=True)
    sdf.to_topic(lambda value, key, ts, headers: commands if value["category"] == "command" else events)
    app.run()
    report.write_bytes(orjson.dumps(timing))


def run(scale: Scale) -> dict[str, float]:
    with SagaEnv("quix") as env:
        events = publish(env.bootstrap, Workload(orders=scale.saga_orders).records(), causal=True)
        report = env.work / "quix-report.json"
        state_dir = tempfile.mkdtemp(prefix="quix-state-", dir=env.work)
        log = (env.work / "quix.log").open("wb")
        child = subprocess.Popen([sys.executable, "-m", "bench.peers.quix_order_saga", env.bootstrap,
                                  state_dir, str(events), str(report)], stdout=log, stderr=subprocess.STDOUT)
        try:
            child.wait(timeout=900)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if not report.exists():
            tail = (env.work / "quix.log").read_text(errors="replace")[-2000:]
            raise BenchError(f"the Quix Streams peer exited with {child.returncode}:\n{tail}")
        timing = orjson.loads(report.read_bytes())
        return {"peer.quix.events": events,
                "peer.quix.1p": (timing["processed"] - 1) / (timing["last"] - timing["first"]),
                "peer.quix.1p.cpu_us_per_event":
                    1e6 * (timing["cpu_last"] - timing["cpu_first"]) / (timing["processed"] - 1)}


if __name__ == "__main__":
    worker(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
