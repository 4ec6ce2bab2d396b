"""InactivityDetector: no event for an aggregate within `timeout` -> AggregateStalled.

The seed's case: document verification of a loan application may take days; an
application with no event for three days needs a human. Every watched event
re-arms the timer; an event in `done_on` stops watching the aggregate for good:
the two services answer independently, so a watched event read after it (a credit
check after the documents) must not start the watch again. With `repeat: false`
an aggregate is reported once. What is remembered for that is forgotten
`forget_after` later, so finished aggregates cost no disk forever.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict

from eventyard.config import Duration
from eventyard.operators.api import Context, Event, Operator, Timer

__all__ = ["InactivityDetector", "InactivityOptions", "LastActivity"]

STALLED = "stalled"
FORGET = "forget"


class InactivityOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "inactivity"
    watch: frozenset[str] = frozenset()  # event types that count as activity (empty: all)
    done_on: frozenset[str] = frozenset()  # event types after which the aggregate is not watched
    timeout: Duration = timedelta(days=3)
    repeat: bool = True  # report a still-stalled aggregate again after each further timeout
    forget_after: Duration = timedelta(days=7)  # how long a finished or reported aggregate stays quiet
    output: str = "events"
    alert_type: str = "AggregateStalled"


class LastActivity(BaseModel):
    event_type: str
    event_id: str
    at: str  # ISO time of the last activity
    alerts: int = 0
    done: bool = False  # a `done_on` event came: never watched again (until forgotten)


class InactivityDetector(Operator[LastActivity]):
    state = LastActivity

    def __init__(self, **options: object) -> None:
        self.options = InactivityOptions.model_validate(options)
        self.name = self.options.name  # type: ignore[misc]
        watch = self.options.watch
        self.consumes = watch | self.options.done_on if watch else frozenset()  # type: ignore[misc]

    def on_event(self, ctx: Context[LastActivity], event: Event) -> None:
        last = ctx.state
        if last is not None and (last.done or (last.alerts and not self.options.repeat)):
            return  # finished, or reported once already: quiet until forgotten
        if event.type in self.options.done_on:
            ctx.state = LastActivity(event_type=event.type, event_id=event.event_id, at=ctx.now.isoformat(),
                                     alerts=last.alerts if last else 0, done=True)
            ctx.cancel_timer(STALLED)
            ctx.set_timer(FORGET, after=self.options.forget_after)
            return
        ctx.state = LastActivity(event_type=event.type, event_id=event.event_id, at=ctx.now.isoformat(),
                                 alerts=last.alerts if last else 0)
        ctx.set_timer(STALLED, after=self.options.timeout)  # re-arming replaces the previous one

    def on_timer(self, ctx: Context[LastActivity], timer: Timer) -> None:
        last = ctx.state
        if timer.name == FORGET or last is None:
            ctx.clear()
            ctx.cancel_timer(STALLED)
            return
        ctx.emit(self.options.output, self.options.alert_type, aggregate_id=ctx.key,
                 last_event_type=last.event_type, last_event_id=last.event_id, last_activity_at=last.at,
                 idle_seconds=self.options.timeout.total_seconds(), alerts=last.alerts + 1)
        if not self.options.repeat:
            last.alerts += 1  # remembered, so a later watched event does not report it again
            ctx.set_timer(FORGET, after=self.options.forget_after)
            return
        # Keep watching: a still-stalled aggregate is reported again after another timeout.
        last.alerts += 1
        ctx.set_timer(STALLED, after=self.options.timeout)
