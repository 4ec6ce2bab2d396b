"""`eventyard run` with JSON logs: every worker writes parseable lines naming itself."""

import re
import subprocess
import sys

import orjson
import pytest

from eventyard.demo.traffic import FAST_OUTCOMES, plan_orders
from eventyard.core.native import hot_path
from tests.conftest import REPO

pytestmark = pytest.mark.integration

TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


def test_every_worker_logs_json_lines(live_settings, start_pipeline, make_driver, monkeypatch):
    monkeypatch.setenv("EVENTYARD_LOG_FORMAT", "json")
    settings = live_settings()
    driver = make_driver(settings, plan_orders(6, FAST_OUTCOMES, prefix="json"))
    run = start_pipeline(processes=2)
    driver.send_initial()
    start_pipeline.settle(driver, driver.all_as_expected)

    lines = run.log.read_text().splitlines()
    # bytewax's Rust runtime prints a few lines of its own (cluster connection
    # retries); everything logged through Python logging must be JSON.
    assert not [line for line in lines if TEXT_LINE.match(line)]
    entries = [orjson.loads(line) for line in lines if line.startswith("{")]
    starting = {e["worker"] for e in entries if e["message"].startswith("worker ") and "starting" in e["message"]}
    assert starting == {0, 1}
    # docs/operations.md: each worker's first line says which hot path runs
    assert all(e["message"].endswith(f"(hot path: {hot_path()})") for e in entries
               if e["message"].startswith("worker ") and "starting" in e["message"])
    assert all({"ts", "level", "logger", "message", "pid"} <= set(e) for e in entries)


def test_run_rejects_an_unknown_log_format():
    result = subprocess.run([sys.executable, "-m", "eventyard", "run", "order_saga", "--log-format", "xml"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "xml" in result.stderr
