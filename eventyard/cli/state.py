"""`eventyard state ...`: look at workflow state."""

from __future__ import annotations

import orjson
import typer
from rich.table import Table

from eventyard.cli.common import ConfigOption, PipelineArg, console, load, user_errors
from eventyard.cli.inspect import InstanceView, read_instance

state_app = typer.Typer(no_args_is_help=True, help="Inspect workflow state (read-only).")


@state_app.command("show")
def show(pipeline: PipelineArg, aggregate_id: str, config: ConfigOption = None,
         as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Print one workflow instance: state, timers, last events, pending outbox."""
    with user_errors():
        _, settings = load(pipeline, config)
        view = read_instance(settings, aggregate_id)
    if as_json:
        console.print_json(orjson.dumps({
            "aggregate_id": view.aggregate_id, "task": view.task, "instance": view.instance,
            "outbox": [{"seq": e.seq, "created_ms": e.created_ms, **e.record.to_json()} for e in view.outbox],
        }).decode())
        return
    if view.instance is None or not view.instance.get("has_state", True):
        # (a record without state keeps only the engine's order bookkeeping: operators/forget.py)
        console.print(f"no workflow instance {aggregate_id!r} in task {view.task} "
                      "(never started, or expired after finishing)")
        raise typer.Exit(1)
    print_instance(view)


def print_instance(view: InstanceView) -> None:
    inst = view.instance or {}
    state = inst["state"] or "(waiting for its start event)"
    console.print(f"[bold]{view.aggregate_id}[/]  task {view.task}  state [bold]{state}[/]"
                  f"{'  (finished)' if inst['finished'] else ''}  version {inst['version']}")
    console.print(f"updated {view.time(inst['updated_ms'])}  data {orjson.dumps(inst['data']).decode()}")
    timers = Table(title="pending timers")
    timers.add_column("timer")
    timers.add_column("due (UTC)")
    for name, (due, _) in sorted(inst["timers"].items(), key=lambda t: t[1][0]):
        timers.add_row(name, view.time(due))
    console.print(timers)
    history = Table(title="last applied events")
    for column in ("type", "event_id", "source", "applied (UTC)", "note"):
        history.add_column(column)
    for kind, event_id, topic, partition, offset, at, *note in inst["history"]:
        source = f"{topic}[{partition}]@{offset}" if topic else ("timer" if kind.startswith("timeout:") else "")
        history.add_row(kind, event_id, source, view.time(at), note[0] if note else "")
    console.print(history)
    outbox = Table(title="outbox (not yet expired)")
    for column in ("seq", "topic", "type", "event_id", "created (UTC)"):
        outbox.add_column(column)
    for entry in view.outbox:
        headers = dict(entry.record.headers)
        outbox.add_row(str(entry.seq), entry.record.topic, headers.get("eventyard.type", b"").decode(),
                       headers.get("eventyard.event_id", b"").decode(), view.time(entry.created_ms))
    console.print(outbox)
    if inst["parked"]:
        console.print(f"{len(inst['parked'])} event(s) parked until the start event arrives")
    if inst.get("held"):
        console.print(f"{len(inst['held'])} event(s) held until a transition accepts them "
                      f"({', '.join(held[2] for held in inst['held'])})")
    if inst.get("reorder"):
        console.print(f"{len(inst['reorder'])} event(s) wait for earlier ones of their producer's sequence")
