"""Producer sequence numbers: put each producer's events of one aggregate in order.

A producer that sets the envelope's `sequence` numbers the events it publishes
for one aggregate 1, 2, 3, ... The workflow keeps, per aggregate, the last
sequence that passed for each producer (`record["seq"]`):

- the next one passes at once;
- one further ahead waits in the instance (`record["reorder"]`) for the missing
  ones, up to `pipeline.reorder_timeout` after its own timestamp; then the wait
  is given up: the gap is recorded (history, metric, log) and it passes;
- one at or below the last passed is a duplicate (skipped, counted as one),
  unless it is one of a gap given up (`record["gaps"]`, the last few per
  producer): then it arrived too late to be applied in order and is dead-lettered
  as `late_in_sequence`, so that nothing is dropped silently.

Events that passed and then wait for something else (their start event, a state
that accepts them) are marked in `record["passed"]` while they are redelivered,
so they do not meet this gate twice.
"""

from __future__ import annotations

from typing import Any, Literal

from eventyard.operators.api import Event

__all__ = ["Verdict", "admit", "successor", "give_up", "KEPT_GAPS"]

KEPT_GAPS = 8  # gaps remembered per producer, to tell a late gap-filler from a duplicate
Verdict = Literal["pass", "wait", "duplicate", "late"]


def admit(record: dict[str, Any], event: Event) -> Verdict:
    """Decide what to do with `event` (and note it as passed if it passes)."""
    env = event.envelope
    if env.sequence is None:
        return "pass"
    passed = record.get("passed")
    if passed and env.event_id in passed:
        passed.remove(env.event_id)
        if not passed:
            del record["passed"]
        return "pass"
    seqs = record.setdefault("seq", {})
    last = seqs.get(env.producer)
    expected = 1 if last is None else last + 1
    if env.sequence > expected:
        return "wait"
    if last is not None and env.sequence <= last:
        gaps = record.get("gaps", {}).get(env.producer, ())
        return "late" if any(lo <= env.sequence <= hi for lo, hi in gaps) else "duplicate"
    seqs[env.producer] = env.sequence
    return "pass"


def successor(record: dict[str, Any], event: Event) -> list[Any] | None:
    """The waiting event that comes right after `event` (which passed), taken out."""
    env = event.envelope
    if env.sequence is None:
        return None
    waiting = record.get("reorder", [])
    for i, (producer, sequence, _, held) in enumerate(waiting):
        if producer == env.producer and sequence == record["seq"][producer] + 1:
            del waiting[i]
            return held  # type: ignore[no-any-return]
    return None


def give_up(record: dict[str, Any], now_ms: int) -> tuple[list[list[Any]], list[tuple[str, int, int]]]:
    """Stop waiting for what is missing before events that waited until `now_ms`:
    returns the events to redeliver (each producer's lowest waiting, which now
    passes, plus any at or below what passed) and the gaps given up (producer,
    first, last missing)."""
    waiting = record.get("reorder", [])
    due = sorted({producer for producer, _, until, _ in waiting if until <= now_ms})
    seqs, release, gaps = record.setdefault("seq", {}), [], []
    for producer in due:
        lowest = min(sequence for p, sequence, _, _ in waiting if p == producer)
        last = seqs.get(producer, 0)
        if lowest > last + 1:
            gaps.append((producer, last + 1, lowest - 1))
            seqs[producer] = lowest - 1
            kept = record.setdefault("gaps", {}).setdefault(producer, [])
            kept[:] = [*kept, [last + 1, lowest - 1]][-KEPT_GAPS:]
        for entry in [e for e in waiting if e[0] == producer and e[1] <= lowest]:
            waiting.remove(entry)
            release.append(entry[3])
    return release, gaps
