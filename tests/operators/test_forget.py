"""An operator record that became empty keeps its order bookkeeping for a while."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel

from eventyard import Context, Event, Operator, Timer
from eventyard.pipelines.loan_application_events import CATALOG
from eventyard.testing import OperatorTestKit


class Seen(BaseModel):
    at: str


class ForgetfulWatch(Operator[Seen]):
    """Clears a key's state on its done event: the record the engine is left with is empty."""

    name = "watch"
    state = Seen
    consumes = frozenset({"LoanApplicationSubmitted", "DocumentsVerified"})

    def on_event(self, ctx: Context[Seen], event: Event) -> None:
        if event.type == "DocumentsVerified":
            ctx.clear()
            ctx.cancel_timer("stalled")
            return
        ctx.state = Seen(at=ctx.now.isoformat())
        ctx.set_timer("stalled", after=timedelta(hours=1))

    def on_timer(self, ctx: Context[Seen], timer: Timer) -> None:
        ctx.emit("events", "AggregateStalled")
        ctx.clear()


def _watch() -> ForgetfulWatch:
    return ForgetfulWatch()


def test_an_emptied_record_is_kept_for_its_order_then_forgotten_after_order_retention():
    with OperatorTestKit(_watch(), CATALOG) as kit:
        kit.send("LoanApplicationSubmitted", "l-1", applicant_id="a", amount=5000, term_months=24)
        kit.send("DocumentsVerified", "l-1", verification_id="v")
        assert kit.state("l-1") is None and kit.timers("l-1") == {}  # the operator forgot it
        kept = kit.store.get_instance(kit.engine.stored_id("l-1"))
        assert kept["version"] == 2 and kept["last"] is not None  # the engine did not, yet
        kit.advance(timedelta(days=7) - timedelta(milliseconds=1))
        assert kit.store.get_instance(kit.engine.stored_id("l-1")) is not None
        kit.advance(timedelta(milliseconds=1))
        assert kit.store.get_instance(kit.engine.stored_id("l-1")) is None


def test_an_event_for_a_kept_record_continues_its_versions_and_cancels_forgetting():
    with OperatorTestKit(_watch(), CATALOG) as kit:
        kit.send("DocumentsVerified", "l-1", verification_id="v")
        kit.send("LoanApplicationSubmitted", "l-1", applicant_id="a", amount=5000, term_months=24)
        record = kit.store.get_instance(kit.engine.stored_id("l-1"))
        assert record["version"] == 2 and set(record["timers"]) == {"stalled"}
        assert [e.type for e in kit.advance(timedelta(days=8))] == ["AggregateStalled"]
