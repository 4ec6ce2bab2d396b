"""Define a workflow the way the business describes it.

    class OrderSaga(Workflow):
        name = "order_saga"
        starts_with = {"OrderPlaced"}

        @on("OrderPlaced")
        def placed(self, order: Instance, event: Event) -> None:
            order.command("ChargePayment", amount=event.payload.amount)
            order.expect("payment_timeout", within=timedelta(minutes=30))
            order.goto("awaiting_payment")

        @on("ShipmentCreated", when="confirmed")   # read earlier, it waits until then
        def shipped(self, order: Instance, event: Event) -> None:
            order.finish("completed")

        @on_timeout("payment_timeout")
        def unpaid(self, order: Instance) -> None:
            order.event("OrderCancelled", reason="payment_timeout")
            order.finish("cancelled")

`when=` names the states in which a handler accepts its event. An event no handler
accepts in the current state is held in the instance until one does (or, after
`pipeline.unexpected_timeout`, dead-lettered as `unexpected_in_state`); an event
of a type with no handler at all, or one a handler passes on with
`instance.ignore(reason)`, is recorded in the history as ignored and counted.

Handlers only describe decisions. A workflow runs as an operator
(operators.workflow_operator) on the public operator API (eventyard.operators.api), so
persistence, dedup, timers and delivery are the engine's job (operators.engine).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from eventyard.core.errors import WorkflowDefinitionError
from eventyard.operators.api import Emit, Event, RetryableError, apply_timer_changes

__all__ = ["Workflow", "Instance", "Event", "on", "on_timeout", "Emit", "RetryableError", "NO_HANDLER"]

F = TypeVar("F", bound=Callable[..., None])
NO_HANDLER = "no_handler"  # why an event of a type no handler is registered for was ignored
# The states a handler accepts its event in (None: every state), and the method.
Transition = tuple[frozenset[str] | None, str]


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
        timers: Callable[[], Iterable[str]],  # names of the armed timers; read only by finish()
        seen_types: Collection[str],  # event types applied so far (a short list)
        finished: bool,
        now: Callable[[], datetime],  # the handler context's event time, read when asked
        emits: list[Emit],  # the handler context's outputs (Context.emit appends to it too)
    ) -> None:
        self.aggregate_id = aggregate_id
        self.state = state
        self.data = data
        self._now = now
        self.finished = finished
        self._timers = timers
        self._seen = seen_types
        self._emits = emits
        self.timer_changes: dict[str, timedelta | None] = {}
        self.ignored: str | None = None  # set by ignore(): the event changed nothing, on purpose

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

    def ignore(self, reason: str) -> None:
        """Say that this event deliberately changes nothing (a late or repeated answer).
        It is recorded in the instance history and counted by `reason`, a short code
        (a metric label: keep the set of reasons small)."""
        self.ignored = reason

    # -- outputs ----------------------------------------------------------------
    # Each appends its Emit itself: passing **payload down through emit() and
    # Context.emit packed the same keywords into a new dict twice per output.
    def emit(self, output: str, type: str, **payload: Any) -> None:
        self._emits.append(Emit(output, type, payload))

    def command(self, type: str, **payload: Any) -> None:
        self._emits.append(Emit("commands", type, payload))

    def event(self, type: str, **payload: Any) -> None:
        self._emits.append(Emit("events", type, payload))

    # -- timers -------------------------------------------------------------------
    def expect(self, timer: str, within: timedelta) -> None:
        """Fire `timer` after `within` unless cancelled (re-arming replaces it)."""
        self.timer_changes[timer] = within

    def cancel(self, *timers: str) -> None:
        for timer in timers:
            self.timer_changes[timer] = None

    def pending_timers(self) -> list[str]:
        armed = dict.fromkeys(t for t in self._timers() if not t.startswith("__"))
        return sorted(apply_timer_changes(armed, self.timer_changes))


def on(*event_types: str, when: str | Collection[str] | None = None) -> Callable[[F], F]:
    """Mark a method as the handler for these event types, in the states `when`
    names (one state or several; default: any state). Several handlers may share an
    event type if their `when` states do not overlap; one without `when` then takes
    the states none of the others names."""
    states = None if when is None else frozenset([when] if isinstance(when, str) else when)
    if states is not None and (not states or not all(isinstance(s, str) and s for s in states)):
        raise WorkflowDefinitionError(f"@on{event_types}: when= needs state names, got {when!r}")

    def mark(fn: F) -> F:
        fn.__eventyard_on__ = event_types  # type: ignore[attr-defined]
        fn.__eventyard_when__ = states  # type: ignore[attr-defined]
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

    event_handlers: ClassVar[dict[str, tuple[Transition, ...]]]  # by event type; a `when` first
    timeout_handlers: ClassVar[dict[str, str]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.event_handlers, cls.timeout_handlers = {}, {}
        # Walk the MRO base-first: subclasses inherit handlers, a class that handles
        # an event type replaces what its bases registered for it, and overriding a
        # handler method (even undecorated) keeps its registration.
        for klass in reversed(cls.__mro__):
            declared: dict[str, list[Transition]] = {}
            for attr, fn in vars(klass).items():
                for event_type in getattr(fn, "__eventyard_on__", ()):
                    declared.setdefault(event_type, []).append((getattr(fn, "__eventyard_when__", None), attr))
                for timer in getattr(fn, "__eventyard_timeout__", ()):
                    cls.timeout_handlers[timer] = attr
            for event_type, transitions in declared.items():
                cls.event_handlers[event_type] = _checked(cls.__name__, event_type, transitions)
        for start in cls.starts_with:
            if not any(states is None for states, _ in cls.event_handlers.get(start, ())):
                raise WorkflowDefinitionError(
                    f"{cls.__name__}: no handler for start {start!r} that accepts any state (no when=)")

    def handles(self, event_type: str) -> bool:
        """Is there a handler for this event type at all (in some state)?"""
        return event_type in self.event_handlers

    def handler_for(self, event_type: str, state: str | None) -> str | None:
        """The method that handles `event_type` in `state` (None: no handler accepts it there)."""
        for states, attr in self.event_handlers.get(event_type, ()):
            if states is None or state in states:
                return attr
        return None

    def handle_event(self, instance: Instance, event: Event) -> None:
        attr = self.handler_for(event.type, instance.state)
        if attr is None:
            raise WorkflowDefinitionError(f"no handler accepts {event.type} in state {instance.state!r}")
        getattr(self, attr)(instance, event)

    def handle_timeout(self, instance: Instance, timer: str) -> None:
        getattr(self, self.timeout_handlers[timer])(instance)


def _checked(workflow: str, event_type: str, transitions: list[Transition]) -> tuple[Transition, ...]:
    """One event type's handlers: `when` states disjoint, at most one for any state;
    those with a `when` are tried first."""
    if sum(states is None for states, _ in transitions) > 1:
        raise WorkflowDefinitionError(f"{workflow}: two handlers for {event_type}")
    claimed: dict[str, str] = {}
    for states, attr in transitions:
        for state in states or ():
            if claimed.setdefault(state, attr) != attr:
                raise WorkflowDefinitionError(
                    f"{workflow}: {claimed[state]} and {attr} both handle {event_type} in state {state!r}")
    return tuple(sorted(transitions, key=lambda t: t[0] is None))
