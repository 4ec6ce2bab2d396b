"""Render dead letters for people (lines, tables) and for scripts (JSON-ready dicts)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import orjson
from rich.table import Table

from eventyard.dlq.stats import DeadLetterStats
from eventyard.dlq.view import DeadLetterView

__all__ = [
    "short_time",
    "bytes_text",
    "one_line",
    "payload_text",
    "hexdump",
    "tail_line",
    "view_summary",
    "view_detail",
    "show_lines",
    "stats_tables",
]

_SPACES = re.compile(r"\s+")


def short_time(at: datetime | None) -> str:
    if at is None:
        return "-"
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def bytes_text(data: bytes | None) -> str:
    """UTF-8 as is, anything else as 0x-prefixed hex; None as '-'."""
    if data is None:
        return "-"
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + data.hex()


def one_line(text: str, width: int = 80) -> str:
    flat = _SPACES.sub(" ", text).strip()
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def hexdump(data: bytes, width: int = 16) -> str:
    rows = []
    for start in range(0, len(data), width):
        chunk = data[start:start + width]
        shown = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        rows.append(f"{start:08x}  {chunk.hex(' '):<{width * 3 - 1}}  |{shown}|")
    return "\n".join(rows)


def payload_text(value: bytes | None) -> tuple[str, str]:
    """(encoding, text): JSON pretty-printed if it parses, else UTF-8 text, else hex."""
    if not value:
        return "empty", ""
    try:
        return "json", orjson.dumps(orjson.loads(value), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        pass
    try:
        return "text", value.decode("utf-8")
    except UnicodeDecodeError:
        return "hex", hexdump(value)


def tail_line(view: DeadLetterView) -> str:
    """One line per record: position, time, reason, type, source, key, error."""
    return (f"{view.position:>7}  {short_time(view.failed_at)}  {view.reason:<16}  "
            f"{view.event_type:<20}  {view.source:<18}  {one_line(bytes_text(view.key), 24):<12}  "
            f"{one_line(view.message)}")


def view_summary(view: DeadLetterView) -> dict[str, object]:
    return {
        "partition": view.partition,
        "offset": view.offset,
        "failed_at": view.failed_at.isoformat(),
        "reason": view.reason,
        "type": view.event_type,
        "event_id": view.event_id,
        "source": {"topic": view.source_topic, "partition": view.source_partition,
                   "offset": view.source_offset},
        "key": bytes_text(view.key),
        "message": view.message,
        "error_class": view.error_class,
        "step": view.step,
        "attempts": view.attempts,
        "redrive_count": view.redrive_count,
    }


def view_detail(view: DeadLetterView) -> dict[str, object]:
    encoding, _ = payload_text(view.value)
    value = view.value or b""
    shown: object = None
    if encoding == "json":
        shown = orjson.loads(value)  # nested, not a string: scripts can query it
    elif encoding == "text":
        shown = value.decode("utf-8")
    elif encoding == "hex":
        shown = value.hex()
    return {
        **view_summary(view),
        "pipeline": view.pipeline,
        "first_failed_at": view.first_failed_at.isoformat(),
        "timestamp_ms": view.timestamp_ms,
        "headers": [{"name": k, "value": bytes_text(v)} for k, v in view.headers],
        "payload": {"encoding": encoding, "bytes": len(value), "value": shown},
    }


def show_lines(view: DeadLetterView, topic: str) -> list[str]:
    encoding, text = payload_text(view.value)
    error = f"{view.error_class}: {view.message}" if view.error_class else view.message
    width = max((len(k) for k, _ in view.headers), default=0)
    return [
        f"{topic} {view.position}",
        f"  reason     {view.reason} (step {view.step or '?'}, attempt {view.attempts}, "
        f"redriven {view.redrive_count} times)",
        f"  error      {error}",
        f"  source     {view.source}",
        f"  failed at  {view.failed_at.isoformat()} (first {view.first_failed_at.isoformat()})",
        f"  pipeline   {view.pipeline or '?'}",
        f"  key        {bytes_text(view.key)}",
        f"  event      {view.event_type} {view.event_id or ''}".rstrip(),
        f"headers ({len(view.headers)})",
        *(f"  {k:<{width}}  {bytes_text(v)}" for k, v in view.headers),
        f"payload ({encoding}, {len(view.value or b'')} bytes)",
        *([text] if text else []),
    ]


def stats_tables(stats: DeadLetterStats) -> list[Table]:
    tables = []
    for title, counts in (("by reason", stats.by_reason), ("by event type", stats.by_type),
                          ("by source topic", stats.by_source_topic)):
        table = Table(title=title, title_justify="left")
        table.add_column(title.removeprefix("by "))
        table.add_column("count", justify="right")
        for name, count in counts:
            table.add_row(name, str(count))
        tables.append(table)
    return tables
