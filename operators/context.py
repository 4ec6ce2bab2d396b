"""KeyContext: the engine's implementation of `Context` for one handler call.

It only collects intents (state, timer changes, outputs, dead letters, events to
redeliver); the engine applies them after the handler returns, in the same
WriteBatch as everything else the event causes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import orjson
from pydantic import BaseModel

from eventyard.core.envelope import utc_from_ms
from eventyard.core.native import compiled
from eventyard.core.errors import OperatorDefinitionError
from eventyard.operators.api import RESERVED_FIELDS, Context, Emit, Event, apply_timer_changes
from eventyard.operators.forget import ENGINE_TIMERS

__all__ = ["KeyContext", "DeadLetterIntent", "state_fields", "private_state"]


_MS = timedelta(milliseconds=1)


def _round_trip(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


def state_fields(record: dict[str, Any]) -> dict[str, Any] | None:
    """The operator's state stored in an engine record (None: no state)."""
    if not record.get("has_state"):
        return None
    return {k: v for k, v in record.items() if k not in RESERVED_FIELDS}


def private_state(record: dict[str, Any]) -> dict[str, Any] | None:
    """A copy of the record's JSON state as it would come back from the store
    (tuples as lists, non-finite floats as None, ...): a handler that changes it in
    place and then fails changes nothing, and it sees the same values whether or
    not the record was cached since it was written. None: no state."""
    if not record.get("has_state"):
        return None
    if compiled is not None:
        return compiled.json_state(record, RESERVED_FIELDS, _round_trip)  # type: ignore[no-any-return]
    return _round_trip(state_fields(record))  # type: ignore[no-any-return]


class DeadLetterIntent:
    __slots__ = ("reason", "message", "event")

    def __init__(self, reason: str, message: str, event: Event | None) -> None:
        self.reason, self.message, self.event = reason, message, event


class KeyContext(Context[Any]):
    def __init__(
        self,
        key: str,
        record: dict[str, Any],
        now_ms: int,
        model: type[Any] | None,
        restore: Callable[[Any], Event],
        event: Event | None = None,
        hold: Callable[[Event], list[Any]] | None = None,
    ) -> None:
        self.key = key
        self.now_ms = now_ms
        self._now: datetime | None = None
        self.event = event
        self._record = record
        self._model = model
        self._restore = restore
        self._hold = hold or Context.hold
        self._loaded = False
        self._value: Any = None
        self.state_touched = False
        self.timer_changes: dict[str, int | None] = {}
        self.emits: list[Emit] = []
        self.dead_letters: list[DeadLetterIntent] = []
        self.redeliveries: list[Event] = []
        self.deferred = False
        self.duplicate = False

    @property
    def now(self) -> datetime:  # type: ignore[override]
        # Made on first use: most handlers never read it, and it cost ~1.5 us per event.
        if self._now is None:
            self._now = utc_from_ms(self.now_ms)
        return self._now

    # -- state -------------------------------------------------------------------
    @property
    def state(self) -> Any:
        if not self._loaded:
            if isinstance(self._model, type) and issubclass(self._model, BaseModel):
                raw = state_fields(self._record)
                self._value = None if raw is None else self._model.model_validate(raw)
            else:  # raw JSON state: a private copy, so a failing handler changes nothing
                self._value = private_state(self._record)
            self._loaded = True
        self.state_touched = True  # it may be mutated in place: save on return
        return self._value

    @state.setter
    def state(self, value: Any) -> None:
        self._loaded, self._value, self.state_touched = True, value, True

    def clear(self) -> None:
        self.state = None

    def dumped_state(self) -> dict[str, Any] | None:
        value = self._value
        if value is None:
            return None
        if isinstance(value, BaseModel):
            dumped = value.model_dump(mode="json")
        elif isinstance(value, dict):
            dumped = value
        else:
            raise OperatorDefinitionError(
                f"state of {self.key!r} must be a pydantic model or a dict, not {type(value).__name__}")
        if not RESERVED_FIELDS.isdisjoint(dumped):  # no set made on the way, as `&` did
            clash = RESERVED_FIELDS & dumped.keys()
            raise OperatorDefinitionError(f"state fields {sorted(clash)} are reserved for the engine")
        return dumped

    # -- timers ------------------------------------------------------------------
    def set_timer(self, name: str, *, after: timedelta | None = None, at: datetime | None = None) -> None:
        if name in ENGINE_TIMERS:
            raise OperatorDefinitionError(f"timer name {name!r} is the engine's own")
        if "\x00" in name:
            raise OperatorDefinitionError(f"timer name {name!r} contains U+0000, which the timer index reserves")
        if (after is None) == (at is None):
            raise OperatorDefinitionError("set_timer needs exactly one of after= or at=")
        if at is not None:
            self.timer_changes[name] = int(at.timestamp() * 1000)
        else:  # whole milliseconds, as the due time is stored
            self.timer_changes[name] = self.now_ms + after // _MS  # type: ignore[operator]

    def cancel_timer(self, *names: str) -> None:
        for name in names:
            self.timer_changes[name] = None

    def _armed_ms(self) -> dict[str, int]:
        """Armed timers (the engine's own left out) -> due ms, this call's changes applied."""
        armed = {name: t[0] for name, t in self._record["timers"].items() if name not in ENGINE_TIMERS}
        return apply_timer_changes(armed, self.timer_changes)

    def timers(self) -> dict[str, datetime]:
        return {name: utc_from_ms(due) for name, due in sorted(self._armed_ms().items())}

    def timer_names(self) -> list[str]:
        return sorted(self._armed_ms())

    def due_ms(self, name: str) -> int | None:
        if name in self.timer_changes:
            return self.timer_changes[name]
        armed = self._record["timers"].get(name) if name not in ENGINE_TIMERS else None
        return None if armed is None else armed[0]

    # -- outputs -----------------------------------------------------------------
    def emit(self, output: str, type: str, **payload: Any) -> None:
        self.emits.append(Emit(output, type, payload))

    def dead_letter(self, reason: str, message: str, event: Event | None = None) -> None:
        self.dead_letters.append(DeadLetterIntent(reason, message, event or self.event))

    def redeliver(self, *events: Event) -> None:
        self.redeliveries.extend(events)

    def defer(self) -> list[Any]:
        if self.event is None:
            raise OperatorDefinitionError("defer() is for event handlers; a timer has no event")
        self.deferred = True
        return self._hold(self.event)

    def skip_duplicate(self) -> None:
        if self.event is None:
            raise OperatorDefinitionError("skip_duplicate() is for event handlers; a timer has no event")
        self.deferred = self.duplicate = True  # like a deferred event, it does not advance the version

    def restore_event(self, held: Any) -> Event:
        return self._restore(held)
