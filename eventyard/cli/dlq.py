"""`eventyard dlq ...`: see what a pipeline dead-lettered, and put it back after a fix."""

from __future__ import annotations

import heapq
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.columns import Columns
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from eventyard.cli.common import ConfigOption, PipelineArg, console, err_console, load, user_errors
from eventyard.config import EventyardSettings
from eventyard.dlq import (DeadLetterFilter, DeadLetterView, RedriveCheckpoint, RedriveLedger, RedriveRequest,
                           summarize)
from eventyard.dlq.format import short_time, show_lines, stats_tables, tail_line, view_detail, view_summary
from eventyard.dlq.report import dry_run_json, dry_run_lines, result_json, result_lines
from eventyard.dlq.view import parse_position, parse_reason, parse_time
from eventyard.core.envelope import utc_now
from eventyard.core.errors import DeadLetterError

if TYPE_CHECKING:
    from eventyard.dlq.reader import DeadLetterReader

__all__ = ["dlq_app"]

dlq_app = typer.Typer(no_args_is_help=True, help="Inspect a pipeline's dead letters and redrive them.")

JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="only this reason, e.g. handler_error")]
TypeOption = Annotated[str | None, typer.Option(
    "--type", help="only this event type ('?' for values that are not an envelope)")]


def _filter(reason: str | None, event_type: str | None, since: str | None = None,
            until: str | None = None) -> DeadLetterFilter:
    return DeadLetterFilter(
        reason=parse_reason(reason) if reason is not None else None,
        event_type=event_type,
        since=parse_time(since, "--since") if since is not None else None,
        until=parse_time(until, "--until") if until is not None else None,
    )


def _reader(settings: EventyardSettings) -> DeadLetterReader:
    from eventyard.dlq.reader import DeadLetterReader  # kafka-python: loaded only when used
    from eventyard.kafka.reachability import require_reachable

    require_reachable(settings.kafka)
    return DeadLetterReader(settings.kafka, settings.pipeline.dead_letter)


def _plain(text: str) -> None:
    """Data, not markup: error messages may contain [brackets]. Never wrapped: one
    record is one line, also in a pipe (where rich assumes 80 columns)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _json(obj: object, lines: bool = False) -> None:
    if lines:  # one object per line: `tail --follow --json | jq` streams
        _plain(orjson.dumps(obj).decode())
    else:
        console.print_json(orjson.dumps(obj).decode())


@dlq_app.command("stats")
def stats(pipeline: PipelineArg, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Count dead letters by reason, event type and source topic; oldest, newest, last hour."""
    with user_errors():
        _, settings = load(pipeline, config)
        topic = settings.pipeline.dead_letter
        with _reader(settings) as reader:
            summary = summarize(topic, reader.scan(), utc_now())
    if as_json:
        _json(summary.to_json())
        return
    _plain(f"{topic}: {summary.total} dead letters, {summary.last_hour} in the last hour")
    if summary.total:
        _plain(f"oldest failure {short_time(summary.oldest)}, newest {short_time(summary.newest)}")
        console.print(Columns(stats_tables(summary)))


def _failed(view: DeadLetterView) -> tuple[datetime, int, int]:
    return view.failed_at, view.partition, view.offset


def _latest(views: Iterator[DeadLetterView], last: int) -> list[DeadLetterView]:
    """The last `last` records by failure time (all if 0), oldest first; nlargest keeps
    only `last` records in memory."""
    if last == 0:
        return sorted(views, key=_failed)
    return sorted(heapq.nlargest(last, views, key=_failed), key=_failed)


@dlq_app.command("tail")
def tail(
    pipeline: PipelineArg,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing new records until Ctrl-C")] = False,
    reason: ReasonOption = None,
    event_type: TypeOption = None,
    last: Annotated[int, typer.Option("--last", "-n", min=0, help="the last N matching records (0: all)")] = 20,
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """One line per dead letter: position, time, reason, type, source, key, error."""

    def emit(view: DeadLetterView) -> None:
        if as_json:
            _json(view_summary(view), lines=True)
        else:
            _plain(tail_line(view))

    with user_errors():
        selection = _filter(reason, event_type)
        _, settings = load(pipeline, config)
        with _reader(settings) as reader:
            backlog = _latest((v for v in reader.scan() if selection.matches(v)), last)
            if not as_json:
                console.print(f"[dim]{'POS':>7}  {'FAILED AT (UTC)':<20}  {'REASON':<16}  {'TYPE':<20}  "
                              f"{'SOURCE':<18}  {'KEY':<12}  ERROR[/]", highlight=False, soft_wrap=True)
            for view in backlog:
                emit(view)
            if not follow:
                return
            try:
                for view in reader.follow():
                    if selection.matches(view):
                        emit(view)
            except KeyboardInterrupt:
                pass


@dlq_app.command("show")
def show(
    pipeline: PipelineArg,
    offset: Annotated[str, typer.Argument(help="OFFSET, or PARTITION:OFFSET as `dlq tail` prints it")],
    partition: Annotated[int | None, typer.Option("--partition", "-p", help="dead-letter partition")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """The whole record: error, every header and the original payload."""
    with user_errors():
        wanted_partition, wanted_offset = parse_position(offset, partition)
        _, settings = load(pipeline, config)
        topic = settings.pipeline.dead_letter
        with _reader(settings) as reader:
            found = reader.find(wanted_offset, wanted_partition)
        where = f"partition {wanted_partition}, " if wanted_partition is not None else ""
        if not found:
            raise DeadLetterError(f"{topic} has no record at {where}offset {wanted_offset}")
        if len(found) > 1:
            raise DeadLetterError(
                f"offset {wanted_offset} exists in partitions {', '.join(str(v.partition) for v in found)} "
                f"of {topic}: give PARTITION:OFFSET or --partition")
    if as_json:
        _json(view_detail(found[0]))
        return
    for line in show_lines(found[0], topic):
        _plain(line)


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:.1f} records/s" if task.speed else "- records/s")


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda done: None
        return
    columns = (TextColumn("redriving"), BarColumn(), MofNCompleteColumn(), _RateColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("redrive", total=total)
        yield lambda done: progress.update(task, completed=done)


class _Stop:
    """Set by a signal handler. A plain attribute, no lock: a handler runs on the main
    thread, possibly while that thread holds the very lock it would need."""

    def __init__(self) -> None:
        self.requested = False

    def is_set(self) -> bool:
        return self.requested

    def sleep(self, seconds: float) -> None:
        """Sleep, but wake up within 0.1 s of a stop request."""
        end = time.monotonic() + seconds
        while not self.requested and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))


@contextmanager
def _stop_requested() -> Iterator[_Stop]:
    """Ctrl-C or SIGTERM asks the redrive to stop cleanly (flush, save the checkpoint);
    a second Ctrl-C aborts at once."""
    stop = _Stop()

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.requested = True
        err_console.print("stopping after the current record (Ctrl-C again to abort)")

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@dlq_app.command("redrive")
def redrive(
    pipeline: PipelineArg,
    reason: ReasonOption = None,
    event_type: TypeOption = None,
    since: Annotated[str | None, typer.Option(help="failed at or after this ISO 8601 time (UTC if no offset)")] = None,
    until: Annotated[str | None, typer.Option(help="failed before this ISO 8601 time")] = None,
    to: Annotated[str | None, typer.Option("--to", help="publish here instead of each record's source topic")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would be redriven; publish nothing")] = False,
    rate: Annotated[float | None, typer.Option(min=0.001, help="at most N records per second")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="stop after N records (resume later)")] = None,
    restart: Annotated[bool, typer.Option("--restart", help="ignore the checkpoint: redrive from the beginning")] = False,
    checkpoint_dir: Annotated[Path | None, typer.Option(help="default: <state.dir>/../redrive")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Publish selected dead letters again, to their source topic or --to; resumable.

    Each record keeps its key, value and headers; the error headers are removed and
    `eventyard.redrive.count` is incremented. A checkpoint records how far it got."""
    from eventyard.dlq.publisher import RecordPublisher
    from eventyard.dlq.runner import Pacer, RedriveRunner, plan_redrive
    from eventyard.kafka.admin import ensure_topics_exist

    with user_errors():
        selection = _filter(reason, event_type, since, until)
        _, settings = load(pipeline, config)
        request = RedriveRequest(settings.name, settings.pipeline.dead_letter, selection, to)
        request.refuse_never_applicable()
        directory = checkpoint_dir or settings.state.dir.absolute().parent / "redrive"
        path, ledger_path = request.checkpoint_path(directory), request.ledger_path(directory)
        if restart and not dry_run:
            path.unlink(missing_ok=True)
            ledger_path.unlink(missing_ok=True)
        checkpoint = RedriveCheckpoint.fresh(request) if restart else RedriveCheckpoint.load(path, request)
        ledger = RedriveLedger(None) if restart and dry_run else RedriveLedger.load(ledger_path)
        with _reader(settings) as reader:
            plan = plan_redrive(reader, request, checkpoint.positions, ledger)
            if plan.targets:
                ensure_topics_exist(settings.kafka, [topic for topic, _ in plan.targets])
            if dry_run:
                _report(dry_run_json(plan, checkpoint, path), dry_run_lines(plan, checkpoint, path), as_json)
                return
            with RecordPublisher(settings.kafka) as publisher, _stop_requested() as stop, \
                    _progress(plan.selected, plan.selected > 0 and not as_json) as progress:
                runner = RedriveRunner(reader, publisher, path, checkpoint, ledger, limit=limit,
                                       pacer=Pacer(rate, sleep=stop.sleep), should_stop=stop.is_set,
                                       on_progress=progress)
                result = runner.run(plan)
    _report(result_json(result), result_lines(result, limit), as_json)
    raise typer.Exit(130 if result.interrupted else 0)


def _report(obj: dict[str, object], lines: list[str], as_json: bool) -> None:
    if as_json:
        _json(obj)
        return
    for line in lines:
        _plain(line)
