"""How long an emptied operator record is kept for its order bookkeeping.

A record whose operator cleared its state and timers used to be deleted at once,
taking `last`/`prev` and `version` with it. An event stamped before the last one
applied, read afterwards (a race between topics), then looked like the first event
of a new record: no `AppliedOutOfOrder` decision was published, so a replay, which
applies events in timestamp order, built other versions, and its `TimerFired`
decisions no longer matched (issue 15: the documents watch alerted twice).

So an emptied record stays, reduced to the engine's bookkeeping, until
`order_retention` after the newest event it applied (event time, so a replay
decides the same), and an internal `__forget__` timer deletes it then. A record
whose newest event is already that old (a workflow expiring `retention` after it
finished) is deleted at once, as before. A later event cancels the timer.
"""

from __future__ import annotations

from typing import Any

from eventyard.operators.retry import RETRY_TIMER

__all__ = ["FORGET_TIMER", "ENGINE_TIMERS", "forget_due"]

FORGET_TIMER = "__forget__"
ENGINE_TIMERS = frozenset({RETRY_TIMER, FORGET_TIMER})  # armed by the engine, never by operators


def forget_due(rec: dict[str, Any], retention_ms: int) -> int | None:
    """When to delete this emptied record (None: delete it now)."""
    last = rec.get("last")
    if not last:
        return None  # no order to remember (no event read from an input was applied)
    due = int(last[0]) + retention_ms
    return due if due > rec["updated_ms"] else None
