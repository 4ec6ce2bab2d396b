"""What `dlq redrive` tells the operator (lines) and scripts (JSON-ready dicts)."""

from __future__ import annotations

from pathlib import Path

from eventyard.dlq.format import tail_line, view_summary
from eventyard.dlq.redrive import RedriveCheckpoint, RedrivePlan, RedriveRequest, RedriveResult

__all__ = ["describe", "dry_run_json", "dry_run_lines", "result_json", "result_lines"]


def describe(request: RedriveRequest) -> str:
    parts = [f"{k}={v}" for k, v in request.filter.describe().items() if v is not None]
    return ", ".join(parts) or "every record"


def _plan_json(plan: RedrivePlan, path: Path) -> dict[str, object]:
    return {"pipeline": plan.request.pipeline, "topic": plan.request.topic,
            "filter": plan.request.filter.describe(), "to": plan.request.to,
            "selected": plan.selected, "not_redrivable": plan.not_redrivable,
            "targets": dict(plan.targets), "checkpoint": str(path)}


def _skipped(duplicates: int, not_redrivable: int) -> list[str]:
    lines = []
    if duplicates:
        lines.append(f"{duplicates} copy(ies) of dead letters already redriven: skipped")
    if not_redrivable:
        lines.append(f"{not_redrivable} matching record(s) skipped: failed timers (nothing to put back) or "
                     "reasons the same bytes never pass (invalid_json, missing_key, invalid_key, key_mismatch; "
                     "--to TOPIC sends those to a repair service)")
    return lines


PIPELINE_DECIDES = ("the pipeline decides what happens to each redriven record: it applies it once, or skips "
                    "it as a duplicate if it was processed already; its log says which, per record "
                    "(`redriven <type> <event_id> applied` / `... skipped ...: already processed`)")


def dry_run_json(plan: RedrivePlan, checkpoint: RedriveCheckpoint, path: Path) -> dict[str, object]:
    return {**_plan_json(plan, path), "dry_run": True, "duplicates": plan.duplicates,
            "redriven_before": checkpoint.redriven, "records": [view_summary(v) for v in plan.sample]}


def dry_run_lines(plan: RedrivePlan, checkpoint: RedriveCheckpoint, path: Path) -> list[str]:
    lines = [f"dry run: would redrive {plan.selected} record(s) of {plan.request.topic} "
             f"({describe(plan.request)}); nothing published"]
    lines += [f"  to {topic}: {count}" for topic, count in plan.targets]
    lines += [tail_line(view) for view in plan.sample]
    if plan.selected > len(plan.sample):
        lines.append(f"  ... and {plan.selected - len(plan.sample)} more")
    lines += _skipped(plan.duplicates, plan.not_redrivable)
    if checkpoint.positions:
        lines.append(f"resuming checkpoint {path}: {checkpoint.redriven} redriven before")
    return lines


def result_json(result: RedriveResult) -> dict[str, object]:
    return {**_plan_json(result.plan, result.checkpoint), "dry_run": False,
            "redriven": result.redriven, "redriven_to": dict(result.by_target),
            "duplicates": result.duplicates, "total_redriven": result.total_redriven,
            "remaining": result.plan.selected - result.redriven, "complete": result.complete,
            "interrupted": result.interrupted, "seconds": round(result.seconds, 3)}


def result_lines(result: RedriveResult, limit: int | None) -> list[str]:
    plan = result.plan
    rate = result.redriven / result.seconds if result.seconds else 0.0
    if plan.selected:
        lines = [f"redrove {result.redriven} of {plan.selected} selected record(s) of {plan.request.topic} "
                 f"({describe(plan.request)}) in {result.seconds:.1f}s ({rate:.1f}/s)"]
    else:
        lines = [f"nothing to redrive in {plan.request.topic} ({describe(plan.request)})"]
    lines += [f"  to {topic}: {count}" for topic, count in result.by_target]
    lines += _skipped(result.duplicates, plan.not_redrivable)
    if result.redriven:
        lines.append(PIPELINE_DECIDES)
    if result.complete:
        lines.append(f"checkpoint {result.checkpoint}: complete. Running the same command again publishes "
                     "only records dead-lettered since; --restart redrives everything again.")
    else:
        why = "interrupted" if result.interrupted else f"stopped at --limit {limit}"
        lines.append(f"checkpoint {result.checkpoint}: {why}, {plan.selected - result.redriven} record(s) "
                     "left. Run the same command again to resume.")
    return lines
