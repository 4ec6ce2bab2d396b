"""`eventyard replay`: rebuild a pipeline's state from its input topics."""

from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from eventyard.operators.engine import split_scope
from eventyard.cli.common import ConfigOption, PipelineArg, console, err_console, load, user_errors
from eventyard.cli.state import print_instance
from eventyard.core.errors import ConfigError
from eventyard.cli.inspect import InstanceView
from eventyard.replay.compare import compare_states
from eventyard.replay.runner import ReplayProgress, ReplayResult, run_replay
from eventyard.kafka.reachability import require_reachable
from eventyard.runtime.lock import PipelineLock
from eventyard.runtime.settings_record import check_replay_settings, write_record
from eventyard.replay.swap import discard, ensure_not_running, swap_in
from eventyard.state import TaskStore, StateDirectory


def _since(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--from {value!r}: expected an ISO 8601 time, e.g. 2026-11-23T08:00:00+00:00") from None
    return int(moment.timestamp() * 1000)


def replay(
    pipeline: PipelineArg,
    since: Annotated[str | None, typer.Option("--from", help="start at this time (ISO 8601)")] = None,
    emit: Annotated[bool, typer.Option("--emit", help="also publish outputs downstream")] = False,
    verify: Annotated[bool, typer.Option("--verify", help="rebuild aside and compare with live state")] = False,
    aggregate: Annotated[str | None, typer.Option("--aggregate", help="rebuild and show one instance")] = None,
    processes: Annotated[int, typer.Option(
        "--processes", "-p", min=1, help="rebuild the tasks in this many processes (at most one per task)")] = 1,
    accept_settings: Annotated[bool, typer.Option(
        "--accept-settings", help="rebuild even if settings differ from the live run's")] = False,
    config: ConfigOption = None,
) -> None:
    """Rebuild every task store from the input topics, then swap it in atomically.

    Also converts a state directory of the old 256-shard layout to task stores."""
    with user_errors(), ExitStack() as held:
        definition, settings = load(pipeline, config)
        require_reachable(settings.kafka)
        live = StateDirectory(settings.state.dir, settings.name)
        swapping = not verify and aggregate is None
        if swapping:
            # Held until the swap is done: no run may start on the state being
            # replaced, and none may be running now (issue 16).
            held.enter_context(PipelineLock.acquire(settings.state.dir, settings.name, "eventyard replay",
                                                    ", or use --verify, which does not swap"))
            ensure_not_running(live)
        # A swap under other settings would silently change state: refused unless accepted.
        # --verify/--aggregate only say so, since a difference explains what they show.
        for difference in check_replay_settings(settings.state.dir, settings, accept_settings or not swapping):
            err_console.print(f"settings differ from the live run's: {difference.describe()}", markup=False,
                              highlight=False)
        mode = "verify" if verify else "one" if aggregate else "replay"
        target = settings.state.dir.with_name(f"{settings.state.dir.name}.{mode}-{time.strftime('%Y%m%dT%H%M%S')}")
        try:
            result = _run_with_progress(definition, settings, target, _since(since), emit, aggregate, processes)
        except KeyboardInterrupt:
            discard(target)
            console.print("interrupted: the live state is untouched")
            raise typer.Exit(130) from None
        rebuilt = StateDirectory(target, settings.name)
        try:
            _report(result)
            if verify:
                _verify(live, rebuilt)
            elif aggregate is not None:
                _show_one(rebuilt, aggregate)
            else:
                ensure_not_running(live)  # belt and braces: a worker of an older version holds no lock
                write_record(target, settings)  # the rebuilt state was built under these
                backup = swap_in(target, settings.state.dir, settings.recovery.dir)
                console.print(f"swapped in: {settings.state.dir} (previous state kept at {backup}); "
                              f"bytewax recovery reset, the next run resumes from the rebuilt watermarks")
        finally:
            if not swapping:
                discard(target)


def _run_with_progress(definition, settings, target: Path, since_ms, emit, aggregate, processes) -> ReplayResult:
    """One bar for all offsets (events/s, ETA) and one row of offsets per partition."""
    columns = (TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        total = progress.add_task("all partitions", total=None, rate="")
        rows: dict[str, TaskID] = {}

        def update(p: ReplayProgress) -> None:
            progress.update(total, completed=p.done, total=p.total, rate=f"{p.events_per_s:>9,.0f} events/s")
            for name, (position, end) in p.partitions.items():
                if name not in rows:
                    rows[name] = progress.add_task(name, total=end, rate="")
                progress.update(rows[name], completed=position, total=end)

        return run_replay(definition, settings, target, since_ms=since_ms, emit=emit,
                          aggregate=aggregate, on_progress=update, processes=processes)


def _report(result: ReplayResult) -> None:
    s = result.stats
    console.print(f"replayed {s.events:,} events in {result.seconds:.1f}s ({result.events_per_s:,.0f} events/s): "
                  f"{s.applied:,} applied, {s.dead_letters:,} dead-lettered, {s.timers_fired:,} timers "
                  f"fired as decided live ({result.decisions:,} decisions), {s.held:,} reordered as applied live")


def shown_key(stored_id: str) -> str:
    """An operator's key as `operator:key` (stored with an invisible separator); the
    workflow's keys as they are."""
    scope, key = split_scope(stored_id)
    return f"{scope}:{key}" if scope else key


def _verify(live: StateDirectory, rebuilt: StateDirectory) -> None:
    diff = compare_states(live, rebuilt)
    if diff.identical:
        console.print(f"identical: {diff.compared} aggregates")
        return
    table = Table(title="differences (live vs rebuilt)")
    table.add_column("aggregate")
    table.add_column("difference")
    for aggregate, fields in diff.different.items():
        table.add_row(shown_key(aggregate), "fields differ: " + ", ".join(fields))
    for aggregate in diff.only_live:
        table.add_row(shown_key(aggregate), "only in live state")
    for aggregate in diff.only_rebuilt:
        table.add_row(shown_key(aggregate), "only in rebuilt state")
    console.print(table)
    console.print(f"{len(diff.different) + len(diff.only_live) + len(diff.only_rebuilt)} of "
                  f"{diff.compared} aggregates differ")
    raise typer.Exit(1)


def _show_one(rebuilt: StateDirectory, aggregate: str) -> None:
    instance, task = None, -1
    for task in rebuilt.existing_tasks():
        store = TaskStore.open(rebuilt.task_path(task), task, read_only=True)
        try:
            instance = store.get_instance(aggregate)
        finally:
            store.close()
        if instance is not None:
            break
    if not rebuilt.existing_tasks():
        console.print(f"no events for {aggregate!r} in the input topics")
        raise typer.Exit(1)
    if instance is None:
        console.print(f"{aggregate!r}: no instance after replay (never started, or expired)")
        raise typer.Exit(1)
    print_instance(InstanceView(aggregate, task, instance, []))
