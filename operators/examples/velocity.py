"""VelocityDetector: too many events of one kind for one key in a sliding window.

    more than `limit` PaymentReceived for one customer within `window` -> FraudSuspected

State per key: the event times still inside the window. A timer at the moment
the oldest one leaves the window prunes the state, so a quiet customer costs
nothing after `window`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from eventyard.config import Duration
from eventyard.operators.api import Context, Event, Operator, Timer

__all__ = ["VelocityDetector", "VelocityOptions", "VelocityState"]

PRUNE = "window_end"


class VelocityOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "velocity"
    event_type: str = "PaymentReceived"
    key_field: str = "customer_id"  # payload field to count by
    limit: int = Field(default=3, ge=1)  # more than this many within `window` is suspicious
    window: Duration = timedelta(minutes=10)
    output: str = "events"
    alert_type: str = "FraudSuspected"


class VelocityState(BaseModel):
    times_ms: list[int] = []  # event times inside the window, oldest first
    event_ids: list[str] = []
    alerted: bool = False  # one alert per burst, not one per event


class VelocityDetector(Operator[VelocityState]):
    state = VelocityState

    def __init__(self, **options: object) -> None:
        self.options = VelocityOptions.model_validate(options)
        self.name = self.options.name  # type: ignore[misc]
        self.consumes = {self.options.event_type}  # type: ignore[misc]

    def key(self, event: Event) -> str | None:
        value = getattr(event.payload, self.options.key_field, None)
        return str(value) if value else None  # events without the field are not counted

    def on_event(self, ctx: Context[VelocityState], event: Event) -> None:
        state = ctx.state or VelocityState()
        self._prune(state, ctx.now)
        state.times_ms.append(_ms(ctx.now))
        state.event_ids.append(event.event_id)
        if len(state.times_ms) > self.options.limit and not state.alerted:
            state.alerted = True
            ctx.emit(self.options.output, self.options.alert_type, **{
                self.options.key_field: ctx.key, "count": len(state.times_ms),
                "window_seconds": self.options.window.total_seconds(), "event_ids": state.event_ids,
            })
        ctx.state = state
        self._schedule(ctx, state)

    def on_timer(self, ctx: Context[VelocityState], timer: Timer) -> None:
        state = ctx.state
        if state is None:
            return
        self._prune(state, ctx.now)
        if state.times_ms:
            self._schedule(ctx, state)
        else:
            ctx.clear()

    def _prune(self, state: VelocityState, now: datetime) -> None:
        horizon = _ms(now) - int(self.options.window.total_seconds() * 1000)
        keep = [i for i, t in enumerate(state.times_ms) if t > horizon]
        state.times_ms = [state.times_ms[i] for i in keep]
        state.event_ids = [state.event_ids[i] for i in keep]
        if len(state.times_ms) <= self.options.limit:
            state.alerted = False  # the burst is over: a new one alerts again

    def _schedule(self, ctx: Context[VelocityState], state: VelocityState) -> None:
        oldest = datetime.fromtimestamp(state.times_ms[0] / 1000, tz=ctx.now.tzinfo)
        ctx.set_timer(PRUNE, at=oldest + self.options.window)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)
