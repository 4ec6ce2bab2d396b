"""Plays the outside world for the order saga: sends orders, reacts to commands,
and checks every order received exactly the outputs its scenario expects."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable

from kafka import KafkaProducer

from eventyard.config import EventyardSettings
from eventyard.demo.collector import OutputCollector
from eventyard.demo.traffic import OrderScenario
from eventyard.core.records import OutRecord

__all__ = ["TrafficDriver"]


class TrafficDriver:
    def __init__(self, settings: EventyardSettings, scenarios: list[OrderScenario]) -> None:
        p = settings.pipeline
        self.scenarios = {s.order_id: s for s in scenarios}
        self.producer = KafkaProducer(**settings.kafka.client_options(), linger_ms=5,
                                      max_request_size=4 * 1024 * 1024)
        # The order saga's own outputs; other operators' outputs (e.g. alerts) are not its business.
        saga_outputs = [p.outputs[name] for name in ("commands", "events") if name in p.outputs]
        self.collector = OutputCollector(settings.kafka, saga_outputs, p.dead_letter)
        self.pending = set(self.scenarios)
        self.sent = 0

    def send(self, records: Iterable[OutRecord]) -> None:
        for r in records:
            self.producer.send(r.topic, key=r.key, value=r.value, headers=list(r.headers))
            self.sent += 1
        self.producer.flush()

    def send_initial(self) -> None:
        self.send(r for s in self.scenarios.values() for r in s.initial_events())

    def step(self) -> int:
        """Consume outputs, send the reactions they cause; return outputs seen."""
        fresh = self.collector.poll()
        reactions = []
        for aggregate, kind, payload in fresh:
            scenario = self.scenarios.get(aggregate)
            if scenario is None:
                continue
            if (reaction := scenario.reaction(kind, payload)) is not None:
                reactions.append(reaction)
            if self.collector.tally.distinct(aggregate) == scenario.expected():
                self.pending.discard(aggregate)
            else:
                self.pending.add(aggregate)
        if reactions:
            self.send(reactions)
        return len(fresh)

    def run_until(self, done: Callable[[], bool], timeout: float,
                  on_progress: Callable[[int], None] | None = None) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.step()
            if on_progress:
                on_progress(len(self.scenarios) - len(self.pending))
            if done():
                return True
        return False

    def all_as_expected(self) -> bool:
        return not self.pending

    def mismatches(self) -> dict[str, tuple[Counter[str], Counter[str]]]:
        return {
            order_id: (self.scenarios[order_id].expected(), self.collector.tally.distinct(order_id))
            for order_id in sorted(self.pending)
        }

    def close(self) -> None:
        self.producer.close()
        self.collector.close()
