"""`eventyard state show` next to a running pipeline."""

import subprocess
import sys

import orjson
import pytest

from eventyard.demo.traffic import FAST_OUTCOMES, Outcome, plan_orders
from tests.conftest import REPO

pytestmark = pytest.mark.integration


def _show(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "eventyard", "state", "show", "order_saga", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def test_state_show_reads_an_instance_while_the_pipeline_runs(live_settings, start_pipeline, make_driver):
    settings = live_settings()
    scenarios = plan_orders(20, FAST_OUTCOMES, seed=2, duplicate_rate=0)
    driver = make_driver(settings, scenarios)
    start_pipeline(processes=2)
    driver.send_initial()
    start_pipeline.settle(driver, driver.all_as_expected)
    completed = next(s for s in scenarios if s.outcome is Outcome.COMPLETED)

    shown = _show(completed.order_id)
    assert shown.returncode == 0, shown.stderr
    assert "state completed" in shown.stdout and "(finished)" in shown.stdout
    assert "OrderPlaced" in shown.stdout and "orders[" in shown.stdout
    assert "__expire__" in shown.stdout

    as_json = orjson.loads(_show(completed.order_id, "--json").stdout)
    assert as_json["instance"]["state"] == "completed"
    outbox_types = {dict((k, bytes.fromhex(v)) for k, v in e["headers"])["eventyard.type"] for e in as_json["outbox"]}
    assert b"OrderCompleted" in outbox_types

    missing = _show("no-such-order")
    assert missing.returncode != 0 and "no-such-order" in (missing.stdout + missing.stderr)
