"""Define a workflow the way the business describes it.

    class OrderSaga(Workflow):
        name = "order_saga"
        starts_with = {"OrderPlaced"}

        @on("OrderPlaced")
        def placed(self, order: Instance, event: Event) -> None:
            order.command("ChargePayment", amount=event.payload.amount)
            order.expect("payment_timeout", within=timedelta(minutes=30))
            order.goto("awaiting_payment")

        @on_timeout("payment_timeout")
        def unpaid(self, order: Instance) -> None:
            order.event("OrderCancelled", reason="payment_timeout")
            order.finish("cancelled")

Handlers only describe decisions. A workflow runs as an operator
(operators.workflow_operator) on the public operator API (eventyard.operators.api), so
persistence, dedup, timers and delivery are the engine's job (operators.engine).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from eventyard.core.errors import WorkflowDefinitionError
from eventyard.operators.api import Emit, Event, RetryableError

__all__ = ["Workflow", "Instance", "Event", "on", "on_timeout", "Emit", "RetryableError"]

F = TypeVar("F", bound=Callable[..., None])


class Instance:
    """One workflow instance as its handlers see it: state, data, and intents.

    Intents (emits, timers) go to the handler's context and are applied by the
    engine in the same WriteBatch as the state change.
    """

    def __init__(
        self,
        aggregate_id: str,
        state: str | None,
        data: dict[str, Any],
        timers: Callable[[], Mapping[str, Any]],  # armed timers by name; read only by finish()
        seen_types: set[str],
        finished: bool,
        now: Callable[[], datetime],  # the handler context's event time, read when asked
        emit: Callable[..., None],  # Context.emit of the handler call
    ) -> None:
        self.aggregate_id = aggregate_id
        self.state = state
        self.data = data
        self._now = now
        self.finished = finished
        self._timers = timers
        self._seen = seen_types
        self._emit = emit
        self.timer_changes: dict[str, timedelta | None] = {}

    @property
    def now(self) -> datetime:
        """Event time: the input's timestamp, or the timer's due time."""
        return self._now()

    # -- state ----------------------------------------------------------------
    def goto(self, state: str) -> None:
        self.state = state

    def finish(self, state: str) -> None:
        """Enter a terminal state; pending timers are cancelled."""
        self.state = state
        self.finished = True
        self.cancel(*self.pending_timers())

    def has_seen(self, event_type: str) -> bool:
        return event_type in self._seen

    # -- outputs ----------------------------------------------------------------
    def emit(self, output: str, type: str, **payload: Any) -> None:
        self._emit(output, type, **payload)

    def command(self, type: str, **payload: Any) -> None:
        self.emit("commands", type, **payload)

    def event(self, type: str, **payload: Any) -> None:
        self.emit("events", type, **payload)

    # -- timers -------------------------------------------------------------------
    def expect(self, timer: str, within: timedelta) -> None:
        """Fire `timer` after `within` unless cancelled (re-arming replaces it)."""
        self.timer_changes[timer] = within

    def cancel(self, *timers: str) -> None:
        for timer in timers:
            self.timer_changes[timer] = None

    def pending_timers(self) -> list[str]:
        pending = {t for t in self._timers() if not t.startswith("__")}
        for name, change in self.timer_changes.items():
            if change is None:
                pending.discard(name)
            else:
                pending.add(name)
        return sorted(pending)


def on(*event_types: str) -> Callable[[F], F]:
    """Mark a method as the handler for these event types."""

    def mark(fn: F) -> F:
        fn.__eventyard_on__ = event_types  # type: ignore[attr-defined]
        return fn

    return mark


def on_timeout(*timers: str) -> Callable[[F], F]:
    """Mark a method as the handler for these timers."""

    def mark(fn: F) -> F:
        fn.__eventyard_timeout__ = timers  # type: ignore[attr-defined]
        return fn

    return mark


class Workflow:
    """Base class of workflow definitions (one instance per aggregate)."""

    name: ClassVar[str] = ""
    starts_with: ClassVar[Iterable[str]] = ()
    # Finished instances are kept this long so late events can be compensated.
    retention: timedelta = timedelta(days=7)
    # Exceptions worth retrying (with backoff, up to pipeline.max_attempts).
    retryable: ClassVar[tuple[type[BaseException], ...]] = (RetryableError, TimeoutError, ConnectionError)

    event_handlers: ClassVar[dict[str, str]]
    timeout_handlers: ClassVar[dict[str, str]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.event_handlers, cls.timeout_handlers = {}, {}
        # Walk the MRO base-first: subclasses inherit handlers, and overriding a
        # handler method (even undecorated) keeps its registration.
        for klass in reversed(cls.__mro__):
            seen: dict[str, str] = {}
            for attr, fn in vars(klass).items():
                for event_type in getattr(fn, "__eventyard_on__", ()):
                    if seen.get(event_type, attr) != attr:
                        raise WorkflowDefinitionError(f"{cls.__name__}: two handlers for {event_type}")
                    seen[event_type] = cls.event_handlers[event_type] = attr
                for timer in getattr(fn, "__eventyard_timeout__", ()):
                    cls.timeout_handlers[timer] = attr
        missing = set(cls.starts_with) - set(cls.event_handlers)
        if missing:
            raise WorkflowDefinitionError(f"{cls.__name__}: no handler for start {missing}")

    def handle_event(self, instance: Instance, event: Event) -> None:
        getattr(self, self.event_handlers[event.type])(instance, event)

    def handle_timeout(self, instance: Instance, timer: str) -> None:
        getattr(self, self.timeout_handlers[timer])(instance)
