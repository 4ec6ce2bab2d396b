"""A test kit for operators and workflows: real engine, real RocksDB, a clock you move by hand.

    kit = OperatorTestKit(VelocityDetector(limit=2, window=timedelta(minutes=10)), CATALOG)
    kit.send("PaymentReceived", "o-1", payment_id="p1", amount=5, customer_id="c-1")
    kit.advance(timedelta(minutes=11))          # fires timers that came due
    assert kit.emitted_types() == [...]
    assert kit.state("c-1") is None

A `Workflow` is tested the same way: `OperatorTestKit(MyWorkflow(options), CATALOG)`
runs it as the pipeline does (held early events, expiry after finishing), and
`kit.state(aggregate_id)` is its instance record (`state`, `data`, `finished`, ...).

Events go through the same decoding as in production (a bad payload becomes a
dead letter), then through the same engine: dedup, retries, timers and dead
letters behave exactly as they would in a worker. No broker is needed.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
from pydantic import BaseModel

from eventyard.core.catalog import EventCatalog
from eventyard.core.deadletter import DeadLetterRecord
from eventyard.core.envelope import utc_from_ms
from eventyard.core.records import OutRecord, SourceMessage
from eventyard.operators.api import Operator
from eventyard.operators.context import state_fields
from eventyard.operators.decode import Decoder, Inbound
from eventyard.operators.engine import EngineConfig, OperatorEngine
from eventyard.operators.retry import RetryPolicy
from eventyard.operators.workflow import Workflow
from eventyard.operators.forget import ENGINE_TIMERS
from eventyard.operators.workflow_operator import OPERATOR_TIMERS, WorkflowOperator
from eventyard.state import TaskStore

__all__ = ["OperatorTestKit", "Emitted", "DeadLettered"]

DEAD_LETTER_TOPIC = "test.dlq"
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Emitted:
    output: str
    type: str
    key: str
    payload: dict[str, Any]
    event_id: str
    causation_id: str


@dataclass(frozen=True)
class DeadLettered:
    reason: str
    message: str
    step: str
    key: str | None
    value: bytes | None


class _AnyOutput(dict[str, str]):
    """Every output name is its own topic: operators under test may emit anywhere."""

    def get(self, key: str, default: Any = None) -> str:  # type: ignore[override]
        return key


class OperatorTestKit:
    def __init__(self, operator: Operator[Any] | Workflow, catalog: EventCatalog, *, outputs: dict[str, str] | None = None,
                 start: datetime = START, max_attempts: int = 3,
                 retry_backoff: timedelta = timedelta(seconds=1), path: Path | None = None) -> None:
        # kit.timers() shows what the operator's own ctx.timers() shows: all but the
        # engine's; a workflow's, not those its operator keeps for it.
        self._hidden_timers = ENGINE_TIMERS
        if isinstance(operator, Workflow):
            operator = WorkflowOperator(operator)  # as a pipeline runs its workflow
            self._hidden_timers = ENGINE_TIMERS | OPERATOR_TIMERS
        self.operator: Operator[Any] = operator
        self.catalog = catalog
        self.now = start
        self._tmp = None if path is not None else tempfile.mkdtemp(prefix="eventyard-kit-")
        store_path = path if path is not None else Path(self._tmp or ".") / "task"
        self.store = TaskStore.open(store_path, 0, create=True)
        self._outputs = outputs if outputs is not None else _AnyOutput()
        self._topic_output = {topic: name for name, topic in self._outputs.items()}
        config = EngineConfig(pipeline="test", outputs=self._outputs, dead_letter_topic=DEAD_LETTER_TOPIC)
        retry = RetryPolicy(max_attempts, retry_backoff, retry_backoff * 64, operator.retryable)
        self.engine = OperatorEngine(operator, catalog, config, clock=lambda: self.now, retry=retry)
        self.decoder = Decoder("test", catalog, 1 << 20, 16)
        self._offsets: dict[str, int] = {}
        self._sent = 0
        self.emitted: list[Emitted] = []
        self.dead_letters: list[DeadLettered] = []

    # -- driving -----------------------------------------------------------------
    def send(self, event_type: str, aggregate_id: str, *, event_id: str | None = None,
             envelope: dict[str, Any] | None = None, **payload: Any) -> list[Emitted]:
        """Deliver one event at the current time; returns what it emitted. `envelope`
        sets further envelope fields (e.g. {"producer": "shop", "sequence": 3})."""
        spec = self.catalog.get(event_type)
        topic = spec.topic if spec is not None else "unknown"
        self._sent += 1
        envelope = {
            "event_id": event_id or f"{aggregate_id}-{event_type}-{self._sent}", "type": event_type,
            "aggregate_id": aggregate_id, "occurred_at": self.now.isoformat(), "producer": "test",
            "schema_version": 1, "hops": 0, **(envelope or {}), "payload": payload,
        }
        return self.send_raw(topic, aggregate_id.encode(), orjson.dumps(envelope))

    def send_raw(self, topic: str, key: bytes | None, value: bytes | None) -> list[Emitted]:
        """Deliver arbitrary bytes, as a producer might (bad input included)."""
        offset = self._offsets[topic] = self._offsets.get(topic, -1) + 1
        msg = SourceMessage(topic, 0, offset, key, value, (), int(self.now.timestamp() * 1000))
        item = self.decoder(msg)
        if isinstance(item, DeadLetterRecord):
            return self._collect([item.to_record(DEAD_LETTER_TOPIC)])
        assert isinstance(item, Inbound)
        return self._collect(self.engine.apply(self.store.transaction(), item))

    def advance(self, delta: timedelta) -> list[Emitted]:
        """Move the clock; fire every timer that comes due, in due order."""
        return self.advance_to(self.now + delta)

    def advance_to(self, at: datetime) -> list[Emitted]:
        self.now = at
        out: list[Emitted] = []
        now_ms = int(at.timestamp() * 1000)
        # A timer handler may arm another timer that is already due: loop until none.
        while due := self.store.due_timers(now_ms, limit=1000):
            for timer in due:
                out += self._collect(self.engine.fire(self.store.transaction(), timer))
        return out

    # -- looking -----------------------------------------------------------------
    def state(self, key: str) -> Any:
        """The key's committed state (a model instance if the operator declares one)."""
        fields = state_fields(self.store.get_instance(self.engine.stored_id(key)) or {})
        model = self.operator.state
        if fields is None or not (isinstance(model, type) and issubclass(model, BaseModel)):
            return fields
        return model.model_validate(fields)

    def timers(self, key: str) -> dict[str, datetime]:
        record = self.store.get_instance(self.engine.stored_id(key)) or {"timers": {}}
        return {name: utc_from_ms(t[0])
                for name, t in sorted(record["timers"].items()) if name not in self._hidden_timers}

    def emitted_types(self) -> list[str]:
        return [e.type for e in self.emitted]

    def _collect(self, records: list[OutRecord]) -> list[Emitted]:
        new: list[Emitted] = []
        for record in records:
            headers = dict(record.headers)
            if record.topic == DEAD_LETTER_TOPIC:
                self.dead_letters.append(DeadLettered(
                    headers["eventyard.error.reason"].decode(), headers["eventyard.error.message"].decode(),
                    headers["eventyard.error.step"].decode(),
                    record.key.decode() if record.key else None, record.value))
                continue
            env = orjson.loads(record.value or b"{}")
            new.append(Emitted(self._topic_output.get(record.topic, record.topic), env["type"],
                               env["aggregate_id"], env["payload"], env["event_id"], env["causation_id"]))
        self.emitted += new
        return new

    # -- lifetime ----------------------------------------------------------------
    def close(self) -> None:
        self.store.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> "OperatorTestKit":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
