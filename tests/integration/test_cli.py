"""CLI commands whose output the README shows."""

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO


def eventyard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "eventyard", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_events_lists_the_catalog_with_required_fields():
    result = eventyard("events", "order_saga")
    assert result.returncode == 0, result.stderr
    for expected in ("OrderPlaced", "PaymentReceived", "ChargePayment", "OrderCancelled", "customer_id"):
        assert expected in result.stdout


def test_unknown_pipeline_is_a_clear_error():
    result = eventyard("events", "no_such_pipeline")
    assert result.returncode == 2 and "no pipeline 'no_such_pipeline'" in result.stderr


@pytest.mark.integration
def test_topics_create_creates_then_keeps(broker, make_settings):
    make_settings(kafka__bootstrap_servers=broker.bootstrap_servers)
    first, again = eventyard("topics", "create", "order_saga"), eventyard("topics", "create", "order_saga")
    assert first.returncode == 0 and again.returncode == 0, first.stderr
    assert "created  orders" in first.stdout and "created  order_saga.decisions" in first.stdout
    assert "exists   orders" in again.stdout and "created" not in again.stdout


def test_run_refuses_a_half_given_or_impossible_cluster_before_starting_anything():
    half = eventyard("run", "order_saga", "--cluster", "10.0.0.1,10.0.0.2")
    assert half.returncode == 2 and "--cluster and --machine go together" in half.stderr
    outside = eventyard("run", "order_saga", "--cluster", "10.0.0.1,10.0.0.2", "--machine", "2")
    assert outside.returncode == 2 and "--machine must be between 0 and 1" in outside.stderr
    assert "started" not in half.stderr + outside.stderr
    # The same from the environment (a container's machine number, say).
    from_env = subprocess.run([sys.executable, "-m", "eventyard", "run", "order_saga"], cwd=REPO, timeout=120,
                              capture_output=True, text=True,
                              env={**os.environ, "EVENTYARD_CLUSTER": "a,b", "EVENTYARD_MACHINE": "7"})
    assert from_env.returncode == 2 and "--machine must be between 0 and 1" in from_env.stderr
