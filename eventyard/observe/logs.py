"""Logging setup shared by the CLI and workers: text or JSON lines, with trace context.

`log_context(trace_id=..., aggregate_id=...)` binds fields for the code inside it
(a contextvar, so nested and concurrent contexts do not leak into each other);
every record logged there carries them, in both formats.
"""

from __future__ import annotations

import logging
import os
import sys
from contextvars import ContextVar, Token
from datetime import datetime, timezone
from enum import Enum
from typing import Any

import orjson

from eventyard.core.errors import ConfigError

__all__ = ["LogFormatChoice", "configure_logging", "log_context", "JsonFormatter", "TextFormatter"]


class LogFormatChoice(str, Enum):
    text = "text"
    json = "json"


_CONTEXT_FIELDS = ("trace_id", "aggregate_id")
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"

_bound: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("eventyard_log_context", default=())
_worker: int | None = None


class log_context:  # noqa: N801 - used like a function: `with log_context(...):`
    """Bind trace_id/aggregate_id to every record logged inside; None leaves a field as it was.

    A class, not @contextmanager: the engine enters one around every handler call,
    and a generator-based one costs several times more.
    """

    __slots__ = ("_trace_id", "_aggregate_id", "_token")

    def __init__(self, trace_id: str | None = None, aggregate_id: str | None = None) -> None:
        self._trace_id = trace_id
        self._aggregate_id = aggregate_id
        self._token: Token[tuple[tuple[str, str], ...]] | None = None

    def __enter__(self) -> None:
        trace_id, aggregate_id = self._trace_id, self._aggregate_id
        if trace_id is not None and aggregate_id is not None:  # the common case, kept cheap
            bound: tuple[tuple[str, str], ...] = (("trace_id", trace_id), ("aggregate_id", aggregate_id))
        else:
            fields = dict(_bound.get())
            if trace_id is not None:
                fields["trace_id"] = trace_id
            if aggregate_id is not None:
                fields["aggregate_id"] = aggregate_id
            bound = tuple((k, fields[k]) for k in _CONTEXT_FIELDS if k in fields)
        self._token = _bound.set(bound)

    def __exit__(self, *exc: object) -> None:
        assert self._token is not None
        _bound.reset(self._token)
        self._token = None


def _install_record_factory() -> None:
    """Stamp the bound fields on every record when it is created, in the caller's context.

    A record factory rather than a handler filter: every handler sees them, also
    ones that are not ours (pytest's caplog, an application's own handler).
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "eventyard", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.eventyard_context = _bound.get()
        record.eventyard_worker = _worker
        return record

    factory.eventyard = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


_install_record_factory()


def _context_of(record: logging.LogRecord) -> tuple[tuple[str, str], ...]:
    return getattr(record, "eventyard_context", ())


class TextFormatter(logging.Formatter):
    """The classic line, plus ` key=value` for each bound field (nothing when none are)."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        bound = _context_of(record)
        if not bound:
            return line
        suffix = " ".join(f"{k}={v}" for k, v in bound)
        first, newline, rest = line.partition("\n")  # keep a traceback below the fields
        return f"{first} {suffix}{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers (Loki, Elasticsearch, ...)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        worker = getattr(record, "eventyard_worker", None)
        if worker is not None:
            entry["worker"] = worker
        entry.update(_context_of(record))
        if record.exc_info:
            entry["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        # default=str: a message argument orjson cannot encode must not lose the line.
        return orjson.dumps(entry, default=str).decode()


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _format_from_env(fmt: str | None) -> LogFormatChoice:
    chosen = (fmt or os.environ.get("EVENTYARD_LOG_FORMAT") or "text").strip().lower()
    try:
        return LogFormatChoice(chosen)
    except ValueError:
        raise ConfigError(f"EVENTYARD_LOG_FORMAT must be text or json, not {chosen!r}") from None


def configure_logging(level: str | None = None, fmt: str | None = None, worker: int | None = None) -> None:
    """Log to stderr at `level` (EVENTYARD_LOG_LEVEL, INFO) in `fmt` (EVENTYARD_LOG_FORMAT, text).

    `worker` is the process id of a pipeline worker; JSON lines then carry it.
    Calling it again replaces the handler it added before.
    """
    global _worker
    _worker = worker
    handler = _StderrHandler()
    json_lines = _format_from_env(fmt) is LogFormatChoice.json
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    handler.eventyard = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    # Replace only our own handler: others (pytest's, an embedding application's) stay.
    for old in [h for h in root.handlers if getattr(h, "eventyard", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel((level or os.environ.get("EVENTYARD_LOG_LEVEL", "INFO")).upper())
    logging.getLogger("kafka").setLevel(logging.ERROR)  # no-group consumers warn by design
