"""Log formats (text, JSON lines) and the trace context bound with log_context."""

import io
import logging
import threading

import orjson
import pytest

from eventyard.core.errors import ConfigError
from eventyard.observe.logs import JsonFormatter, TextFormatter, configure_logging, log_context


@pytest.fixture
def capture():
    """A logger writing through the given formatter into a string."""
    made = []

    def make(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
        out = io.StringIO()
        handler = logging.StreamHandler(out)
        handler.setFormatter(formatter)
        logger = logging.getLogger(f"eventyard.test.{len(made)}")
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
        made.append((logger, handler))
        return logger, out

    yield make
    for logger, handler in made:
        logger.removeHandler(handler)


@pytest.fixture
def root_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_text_outside_a_context_is_the_classic_line(capture):
    logger, out = capture(TextFormatter())
    classic = logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s")
    logger.info("shard %d opened", 7)
    record = logging.LogRecord(logger.name, logging.INFO, __file__, 1, "shard %d opened", (7,), None)
    line = out.getvalue().rstrip("\n")
    # same shape as the format every earlier version printed, timestamps aside
    assert line.split(" ", 2)[2] == classic.format(record).split(" ", 2)[2]
    assert "trace_id" not in line


def test_text_inside_a_context_appends_the_fields(capture):
    logger, out = capture(TextFormatter())
    with log_context(trace_id="4bf92f3577b34da6a3ce929d0e0e4736", aggregate_id="o-17"):
        logger.warning("handler failed")
    logger.warning("after")
    inside, after = out.getvalue().splitlines()
    assert inside.endswith("handler failed trace_id=4bf92f3577b34da6a3ce929d0e0e4736 aggregate_id=o-17")
    assert after.endswith("after")


def test_text_keeps_the_fields_on_the_first_line_of_a_traceback(capture):
    logger, out = capture(TextFormatter())
    with log_context(aggregate_id="o-1"):
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("handler raised")
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("handler raised aggregate_id=o-1")
    assert lines[-1] == "ValueError: boom"


def test_json_lines_parse_and_carry_the_context(capture):
    logger, out = capture(JsonFormatter())
    logger.info("plain %s", "line")
    with log_context(trace_id="t-1", aggregate_id="o-1"):
        logger.info("inside", extra={})
        try:
            {}["missing"]
        except KeyError:
            logger.exception("failed with %r", {"not": "json"})
    plain, inside, failed = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert set(plain) == {"ts", "level", "logger", "message", "pid"}
    assert plain["message"] == "plain line" and plain["level"] == "INFO" and plain["ts"].endswith("+00:00")
    assert inside["trace_id"] == "t-1" and inside["aggregate_id"] == "o-1"
    assert failed["message"] == "failed with {'not': 'json'}"
    assert failed["exc_type"] == "KeyError" and "Traceback" in failed["exc_info"]


def test_contexts_nest_and_restore(capture):
    logger, out = capture(JsonFormatter())
    with log_context(trace_id="t-outer"):
        with log_context(aggregate_id="o-1"):
            logger.info("both")
        with log_context(trace_id="t-inner"):
            logger.info("inner")
        logger.info("outer")
    logger.info("none")
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert [(e.get("trace_id"), e.get("aggregate_id")) for e in lines] == [
        ("t-outer", "o-1"), ("t-inner", None), ("t-outer", None), (None, None)]


def test_a_context_does_not_leak_into_another_thread(capture):
    logger, out = capture(JsonFormatter())
    inside, done = threading.Event(), threading.Event()

    def other() -> None:
        inside.wait()
        logger.info("other thread")
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    with log_context(trace_id="t-1", aggregate_id="o-1"):
        inside.set()
        done.wait()
    thread.join()
    assert "trace_id" not in orjson.loads(out.getvalue())


def test_configure_logging_picks_the_format_from_the_environment(root_logging, monkeypatch):
    monkeypatch.setenv("EVENTYARD_LOG_FORMAT", "json")
    configure_logging(worker=3)
    ours = [h for h in root_logging.handlers if getattr(h, "eventyard", False)]
    assert len(ours) == 1 and isinstance(ours[0].formatter, JsonFormatter)
    record = logging.getLogger("eventyard.test").makeRecord("x", logging.INFO, __file__, 1, "m", (), None)
    assert orjson.loads(ours[0].format(record))["worker"] == 3
    configure_logging(fmt="text")  # again: replaces its handler, does not add a second one
    ours = [h for h in root_logging.handlers if getattr(h, "eventyard", False)]
    assert len(ours) == 1 and isinstance(ours[0].formatter, TextFormatter)


def test_an_unknown_format_is_a_config_error(root_logging, monkeypatch):
    monkeypatch.setenv("EVENTYARD_LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="text or json"):
        configure_logging()
