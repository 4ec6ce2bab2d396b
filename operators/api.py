"""The public operator API: stateful logic per key, with the engine's guarantees.

    class FirstOrderBonus(Operator[CustomerSeen]):
        name = "first_order_bonus"
        consumes = {"OrderPlaced"}
        state = CustomerSeen                      # a pydantic model, one per key

        def key(self, event: Event) -> str | None:
            return event.payload.customer_id      # None: not for this operator

        def on_event(self, ctx: Context[CustomerSeen], event: Event) -> None:
            if ctx.state is None:
                ctx.state = CustomerSeen(first_order=event.aggregate_id)
                ctx.emit("events", "FirstOrder", customer_id=ctx.key)

An operator only decides. The engine (operators.engine) brings the guarantees:
state, timers and outputs of one event are committed in one RocksDB WriteBatch
(exactly-once state), output event IDs derive from the cause (stable across
restarts and replays), duplicates are dropped, timers are durable and fire by
event time, failures are retried or dead-lettered with the original bytes.
The built-in workflow operator (operators.workflow_operator) is written against
this same API.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from eventyard.core.values import quick_init
from eventyard.core.catalog import Payload
from eventyard.core.envelope import Envelope
from eventyard.core.errors import OperatorDefinitionError
from eventyard.core.records import SourceMessage

__all__ = ["Operator", "Context", "Event", "Timer", "Emit", "RetryableError", "RESERVED_FIELDS"]

S = TypeVar("S")

# Bookkeeping the engine keeps next to an operator's state fields in one record.
RESERVED_FIELDS = frozenset({
    "version", "timers", "retry", "queue", "last", "prev", "correlation_id",
    "created_ms", "updated_ms", "has_state", "origin",
})


def apply_timer_changes(armed: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`armed` (timer name -> due) after one call's changes, in place: None cancels,
    anything else arms. What a context and a workflow instance both answer from."""
    for name, change in changes.items():
        if change is None:
            armed.pop(name, None)
        else:
            armed[name] = change
    return armed


class RetryableError(Exception):
    """Raise from a handler for a failure that may succeed if tried again."""


@quick_init
@dataclass(frozen=True, slots=True)
class Event:
    """What a handler receives: the input record, its envelope and validated payload."""

    envelope: Envelope
    payload: Payload
    attempt: int = 1  # > 1 when the engine retries after a retryable error
    message: SourceMessage | None = None  # where it came from (topic, partition, offset)
    # Applied after an event of its key that sorts later (it was read late); the
    # workflow history marks it, and the engine records the order for replay.
    late: bool = False

    @property
    def type(self) -> str:
        return self.envelope.type

    @property
    def aggregate_id(self) -> str:
        return self.envelope.aggregate_id

    @property
    def event_id(self) -> str:
        return self.envelope.event_id


@quick_init
@dataclass(frozen=True, slots=True)
class Timer:
    """A fired timer: its name, when it was due, and its stable identity."""

    name: str
    due: datetime
    id: str  # names the firing; output IDs derive from it


@quick_init
@dataclass(frozen=True, slots=True)
class Emit:
    output: str
    type: str
    payload: dict[str, Any]


class Context(ABC, Generic[S]):
    """One key's view for one handler call. Nothing is written until the handler
    returns; if it raises, none of its state, timers or outputs take effect."""

    key: str
    now: datetime  # event time: the input's timestamp, or the timer's due time
    now_ms: int  # the same instant in epoch milliseconds (how timers and records store time)
    emits: list[Emit]  # what this call emitted so far, in order (emit() appends to it)

    @property
    @abstractmethod
    def state(self) -> S | None:
        """This key's state (None until set). Mutations are saved on return."""

    @state.setter
    @abstractmethod
    def state(self, value: S | None) -> None: ...

    @abstractmethod
    def clear(self) -> None:
        """Forget this key's state (timers stay armed until cancelled)."""

    # -- timers --------------------------------------------------------------------
    @abstractmethod
    def set_timer(self, name: str, *, after: timedelta | None = None, at: datetime | None = None) -> None:
        """Fire `on_timer` for this key at `now + after` (or `at`); re-arming replaces."""

    @abstractmethod
    def cancel_timer(self, *names: str) -> None: ...

    @abstractmethod
    def timers(self) -> dict[str, datetime]:
        """Armed timers by name, including changes made in this call."""

    def timer_names(self) -> list[str]:
        """The names of the armed timers, sorted (as `timers()` lists them), without their due times."""
        return list(self.timers())

    def due_ms(self, name: str) -> int | None:
        """When timer `name` is due, in epoch milliseconds as stored (None: not armed),
        including changes made in this call; `timers()` without making datetimes."""
        at = self.timers().get(name)
        return None if at is None else round(at.timestamp() * 1000)

    # -- outputs -------------------------------------------------------------------
    @abstractmethod
    def emit(self, output: str, type: str, **payload: Any) -> None:
        """Publish an event of `type` to the output named `output` (a topic in config)."""

    @abstractmethod
    def dead_letter(self, reason: str, message: str, event: Event | None = None) -> None:
        """Send `event` (default: the one being handled) to the dead-letter topic,
        original bytes intact, with `reason` and `message` in its headers."""

    @abstractmethod
    def redeliver(self, *events: Event) -> None:
        """Handle these held events again, in order, right after this one."""

    @abstractmethod
    def defer(self) -> list[Any]:
        """Hold the event being handled for later instead of applying it: returns its
        JSON form to keep in state (`restore_event` + `redeliver` bring it back).
        A deferred event does not advance the key's version."""

    @abstractmethod
    def skip_duplicate(self) -> None:
        """The event being handled repeats one applied before (e.g. by its producer
        sequence): it is not applied, and counted as a duplicate."""

    @abstractmethod
    def restore_event(self, held: Any) -> Event:
        """An Event back from `hold(event)`'s JSON form (e.g. kept in state)."""

    @staticmethod
    def hold(event: Event) -> list[Any]:
        """A JSON-safe form of `event` to keep in state; `restore_event` reverses it."""
        msg = event.message
        if msg is None:
            raise OperatorDefinitionError("only events read from an input can be held")
        return [msg.topic, msg.partition, msg.offset, (msg.key or b"").hex(),
                (msg.value or b"").hex(), [[k, v.hex()] for k, v in msg.headers], msg.timestamp_ms]


class Operator(Generic[S]):
    """Base class of stateful operators: one state and timer set per key.

    Class attributes:
      name      -- unique within a pipeline; names metrics, dead letters, state scope.
      consumes  -- input event types delivered to `on_event` (empty: all inputs).
      state     -- pydantic model of the per-key state, or `dict` for raw JSON.
      retryable -- exceptions retried with backoff before dead-lettering.
    """

    name: ClassVar[str] = ""
    consumes: ClassVar[Iterable[str]] = ()
    state: ClassVar[type[Any] | None] = None
    retryable: ClassVar[tuple[type[BaseException], ...]] = (RetryableError, TimeoutError, ConnectionError)
    # State scope in the task store; "" is the pipeline's main workflow.
    scope: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        model = cls.__dict__.get("state")
        if isinstance(model, type) and issubclass(model, BaseModel):
            clash = RESERVED_FIELDS & set(model.model_fields)
            if clash:
                raise OperatorDefinitionError(
                    f"{cls.__name__}: state field(s) {sorted(clash)} are reserved for the engine; rename them")

    @property
    def state_scope(self) -> str:
        return self.name if self.scope is None else self.scope

    def key(self, event: Event) -> str | None:
        """The key this event belongs to (default: its aggregate ID); None skips it."""
        return event.aggregate_id

    def wants(self, event_type: str) -> bool:
        consumes = self.consumes
        return not consumes or event_type in consumes

    def on_event(self, ctx: Context[S], event: Event) -> None:
        """Handle one input event for `ctx.key`."""

    def on_timer(self, ctx: Context[S], timer: Timer) -> None:
        """Handle a timer set with `ctx.set_timer` that came due."""

    def describe(self) -> str:
        return f"{type(self).__name__}({self.name})"
