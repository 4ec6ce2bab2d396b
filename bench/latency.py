"""What the event-time merge costs (issue 15): the order saga, 1 worker process,
embedded broker.

`caught_up`: a caught-up pipeline fed the fast-outcome order mix at a steady
event rate (OrderPlaced, then its payment and inventory events, one send per
1/rate s). For each OrderPlaced: ms from the producer's send to the arrival at
a consumer of the ChargePayment it caused (`arrive`), and to that record's own
timestamp, the sink's send time (`sink`). A warm-up gets past start-up first.

`backlog`: N completed orders (OrderPlaced, PaymentReceived, InventoryReserved,
ShipmentCreated, stamped in that order, 3 ms apart per order, ending ~1 s ago)
produced topic by topic in the reverse order (all of shipping first, then
inventory, payments, orders), then the worker is started. Events/s from the
first applied event to the last OrderCompleted (`events_per_s`, completed
orders' 4 events each) and to the last input event applied (`applied_per_s`,
metrics polled every 0.1 s); orders that never complete are counted (the run ends after `quiet` s without a new completion). With
`--live` the worker is started (and given 5 s) first, so it reads each topic's
backlog as it lands: shipping before the orders exist.

Imports only bench modules that every tree has, so the same file runs in an
older tree for an A/B: `python -m bench.latency caught_up|backlog [...]`.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import orjson
from kafka import KafkaConsumer, KafkaProducer

from bench.saga_env import SagaEnv
from bench.stats import percentile
from bench.workload import Workload, consumer_from_start, publish
from eventyard.demo.traffic import Outcome, plan_orders

__all__ = ["caught_up", "backlog", "run"]

WARM_ORDERS = 2_000
BACKLOG_TOPIC_ORDER = ("shipping", "inventory", "payments", "orders")


def _consumer(bootstrap: str, topic: str) -> KafkaConsumer:
    return consumer_from_start(bootstrap, topic, fetch_max_wait_ms=10)  # a short wait: latency is measured


class _Watch(threading.Thread):
    """Consumes `topic` in the background; first arrival (wall clock, s) and record
    timestamp (ms) of each (aggregate, type) wanted."""

    def __init__(self, bootstrap: str, topic: str, wanted: str) -> None:
        super().__init__(daemon=True)
        self.consumer = _consumer(bootstrap, topic)
        self.wanted = wanted
        self.seen: dict[str, tuple[float, int]] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for messages in self.consumer.poll(timeout_ms=50, max_records=5000).values():
                now = time.time()
                for m in messages:
                    out = orjson.loads(m.value)
                    if out["type"] == self.wanted and out["aggregate_id"] not in self.seen:
                        self.seen[out["aggregate_id"]] = (now, m.timestamp)
        self.consumer.close()


def _stats(prefix: str, values: list[float]) -> dict[str, float]:
    return {f"{prefix}.p50_ms": percentile(values, 50), f"{prefix}.p99_ms": percentile(values, 99),
            f"{prefix}.max_ms": max(values) if values else float("nan")}


def caught_up(rate: float = 300.0, seconds: float = 20.0) -> dict[str, float]:
    """Steady `rate` events/s for `seconds`; latency from OrderPlaced's send to ChargePayment."""
    with SagaEnv("lat15") as env:
        env.start_workers(1)
        warm = publish(env.bootstrap, Workload(orders=WARM_ORDERS, prefix="warm").records())
        env.wait_applied(warm, timeout=300)
        watch = _Watch(env.bootstrap, "order-commands", "ChargePayment")
        watch.start()
        producer = KafkaProducer(bootstrap_servers=env.bootstrap.split(","), acks="all", linger_ms=0)
        sent: dict[str, float] = {}
        records = list(Workload(orders=int(rate * seconds / 2.5) + 1, prefix="lat").records())
        records = records[: int(rate * seconds)]
        load = os.getloadavg()[0]
        started = time.monotonic()
        for i, r in enumerate(records):
            delay = started + i / rate - time.monotonic()  # pace by schedule
            if delay > 0:
                time.sleep(delay)
            now = time.time()
            if orjson.loads(r.value)["type"] == "OrderPlaced":
                sent[r.key.decode()] = now  # type: ignore[union-attr]
            producer.send(r.topic, key=r.key, value=r.value, timestamp_ms=int(now * 1000))
        producer.flush()
        offered = len(records) / (time.monotonic() - started)
        deadline = time.monotonic() + 60
        while len(watch.seen.keys() & sent.keys()) < len(sent) and time.monotonic() < deadline:
            time.sleep(0.1)
        watch.stop.set()
        watch.join()
        producer.close()
    arrive = [1000 * (watch.seen[k][0] - t) for k, t in sent.items() if k in watch.seen]
    sink = [watch.seen[k][1] - 1000 * t for k, t in sent.items() if k in watch.seen]
    return {"rate_offered": round(offered, 1), "events": len(records), "orders": len(sent),
            "samples": len(arrive), "load1": load, **_stats("arrive", arrive), **_stats("sink", sink)}


def backlog(orders: int = 10_000, live: bool = False, quiet: float = 15.0,
            timeout: float = 110.0) -> dict[str, float]:
    """`orders` completed orders produced topic by topic (shipping first); events/s to drain."""
    scenarios = plan_orders(orders, (Outcome.COMPLETED,), duplicate_rate=0, prefix="bl")
    base = int(time.time() * 1000) - 3 * orders - 1000
    by_topic: dict[str, list[tuple[object, int]]] = {t: [] for t in BACKLOG_TOPIC_ORDER}
    for i, s in enumerate(scenarios):
        ship = s.reaction("CreateShipment", {})
        for k, r in enumerate((s.placed(), s.paid(), s.reserved(), ship)):
            by_topic[r.topic].append((r, base + 3 * i + k))  # type: ignore[union-attr]
    with SagaEnv("backlog15") as env:
        watch = _Watch(env.bootstrap, "order-events", "OrderCompleted")
        watch.start()
        load = os.getloadavg()[0]
        start = time.monotonic()
        if live:
            env.start_workers(1)
            time.sleep(5)
        producer = KafkaProducer(bootstrap_servers=env.bootstrap.split(","), linger_ms=20, acks="all",
                                 batch_size=512 * 1024)
        events = 0
        for topic in BACKLOG_TOPIC_ORDER:
            for r, ts in by_topic[topic]:
                producer.send(r.topic, key=r.key, value=r.value, timestamp_ms=ts)  # type: ignore[attr-defined]
                events += 1
            producer.flush()
        producer.close()
        if not live:
            start = time.monotonic()
            env.start_workers(1)
        first = all_applied = None
        last_change, count = time.monotonic(), 0
        while time.monotonic() - start < timeout:
            env.check_alive()
            now = time.monotonic()
            if first is None or all_applied is None:
                n = env.applied()
                if first is None and n > 0:
                    first = (now, time.time())
                if all_applied is None and n >= events:
                    all_applied = time.time()
            if len(watch.seen) != count:
                count, last_change = len(watch.seen), now
            if count >= orders or (first and now - last_change > quiet):
                break
            time.sleep(0.1)
        applied = env.applied()
        watch.stop.set()
        watch.join()
    done = sorted(t for t, _ in watch.seen.values())
    result: dict[str, float] = {"live": live, "orders": orders, "events": events, "completed": len(done),
                                "applied": applied, "load1": load}
    if first and done:
        span = done[-1] - first[1]
        result.update(seconds=round(span, 2), events_per_s=round(4 * len(done) / span, 1),
                      startup_s=round(first[0] - start, 2))
    if first and all_applied:  # every input event applied (completed or not)
        result.update(applied_s=round(all_applied - first[1], 2),
                      applied_per_s=round(events / (all_applied - first[1]), 1))
    return result


def run(scale: object = None) -> dict[str, float]:
    """For `python -m bench --only latency`: one caught-up run, one backlog run of each kind."""
    quick = getattr(scale, "name", "full") == "quick"
    orders = 2_000 if quick else 10_000
    figures = {f"merge.caught_up.{k}": float(v) for k, v in caught_up(300.0, 10.0 if quick else 20.0).items()}
    for live in (False, True):
        kind = "live" if live else "stopped"
        figures.update({f"merge.backlog_{kind}.{k}": float(v) for k, v in backlog(orders, live).items()})
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("caught_up", "backlog"))
    parser.add_argument("--rate", type=float, default=300.0, help="caught_up: events/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="caught_up: how long")
    parser.add_argument("--orders", type=int, default=10_000, help="backlog: completed orders")
    parser.add_argument("--live", action="store_true", help="backlog: start the worker before producing")
    parser.add_argument("--label", default="", help="tag the JSON line (e.g. old/new)")
    args = parser.parse_args()
    result = caught_up(args.rate, args.seconds) if args.mode == "caught_up" else backlog(args.orders, args.live)
    print(orjson.dumps({"label": args.label, "mode": args.mode, **result}).decode(), flush=True)


if __name__ == "__main__":
    main()
