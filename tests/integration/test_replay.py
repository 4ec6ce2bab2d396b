"""`eventyard replay`: rebuild state from the input topics, side-effect free."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import orjson
import pytest

from eventyard.demo.traffic import ALL_OUTCOMES, FAST_OUTCOMES, Outcome, plan_orders
from eventyard.core.routing import task_of
from eventyard.state import TaskStore, StateDirectory
from tests.conftest import REPO

pytestmark = pytest.mark.integration


def eventyard(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "eventyard", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def live_run(live_settings, start_pipeline, make_driver):
    """Factory: a live order saga run over every outcome, timeouts included, then stopped."""

    def run(orders: int = 500):
        settings = live_settings(order_saga__payment_reminder_after="2s", order_saga__payment_timeout="4s")
        scenarios = plan_orders(orders, ALL_OUTCOMES, seed=21)
        driver = make_driver(settings, scenarios)
        start_pipeline(processes=2)
        driver.send_initial()
        start_pipeline.settle(driver, driver.all_as_expected)
        _await_repartitioned(settings)
        assert start_pipeline.stop_all() == [0]
        return settings, scenarios, driver

    return run


def _await_repartitioned(settings, timeout: float = 120) -> None:
    """Until the running pipeline applied every record of its repartition topics (the
    driver waits for the saga's outputs only, not for what operators re-keyed)."""
    from eventyard.kafka.reader import read_topic
    from eventyard.pipelines import get_pipeline

    ends: dict[tuple[str, str, int], int] = {}
    for scope, topic in get_pipeline("order_saga").repartition_topics(settings).items():
        for msg in read_topic(settings.kafka, topic):
            ends[(scope, topic, msg.partition)] = max(ends.get((scope, topic, msg.partition), -1), msg.offset)
    directory = StateDirectory(settings.state.dir, settings.name)
    deadline = time.monotonic() + timeout
    for (scope, topic, partition), last in ends.items():
        while True:
            store = TaskStore.open(directory.task_path(partition), partition, read_only=True)
            try:
                done = store.watermark(f"{scope}\x1f{topic}", partition) >= last
            finally:
                store.close()
            if done:
                break
            assert time.monotonic() < deadline, f"{topic}[{partition}] not applied up to {last}"
            time.sleep(0.2)


def _output_count(driver) -> int:
    driver.collector.poll(timeout_ms=1000)
    return sum(driver.collector.tally.event_ids.values())


def test_verify_reports_identical_after_a_live_run_with_timeouts(live_run):
    settings, scenarios, _ = live_run(orders=1500)
    result = eventyard("replay", "order_saga", "--verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"identical: {len(scenarios)} aggregates" in result.stdout
    assert "timers fired as decided live" in result.stdout


def test_replay_in_two_processes_rebuilds_the_same_state(live_run):
    # Each process rebuilds the tasks p mod 2 from their own partitions only.
    settings, scenarios, _ = live_run(orders=300)
    result = eventyard("replay", "order_saga", "--verify", "--processes", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"identical: {len(scenarios)} aggregates" in result.stdout


def test_verify_names_a_corrupted_aggregate(live_run):
    settings, scenarios, _ = live_run()
    victim = scenarios[7].order_id
    directory = StateDirectory(settings.state.dir, settings.name)
    task = task_of(victim, settings.kafka.topic_partitions)
    store = TaskStore.open(directory.task_path(task), task)
    txn = store.transaction()
    instance = txn.get_instance(victim)
    txn.put_instance(victim, {**instance, "state": "tampered"})
    txn.commit()
    store.close()
    result = eventyard("replay", "order_saga", "--verify")
    assert result.returncode == 1
    assert victim in result.stdout and "fields differ: state" in result.stdout
    assert f"1 of {len(scenarios)} aggregates differ" in result.stdout


def test_replay_swaps_in_equal_state_and_sends_nothing_downstream(live_run):
    settings, scenarios, driver = live_run()
    outputs_before = _output_count(driver)
    result = eventyard("replay", "order_saga")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "swapped in" in result.stdout
    assert _output_count(driver) == outputs_before  # side-effect free
    backups = list(settings.state.dir.parent.glob(f"{settings.state.dir.name}.replaced-*"))
    assert len(backups) == 1
    live = StateDirectory(settings.state.dir, settings.name)
    old = StateDirectory(backups[0], settings.name)
    from eventyard.replay import compare_states
    assert compare_states(old, live).identical


def test_replay_with_a_changed_transition_produces_the_new_state(live_run):
    settings, scenarios, _ = live_run()
    declined = next(s for s in scenarios if s.outcome is Outcome.PAYMENT_FAILED)
    result = eventyard("replay", "tests.integration.variant:PIPELINE")
    assert result.returncode == 0, result.stdout + result.stderr
    shown = eventyard("state", "show", "order_saga", declined.order_id, "--json")
    assert orjson.loads(shown.stdout)["instance"]["state"] == "payment_declined"


def test_replay_one_aggregate_shows_its_rebuilt_state(live_run):
    _, scenarios, _ = live_run()
    completed = next(s for s in scenarios if s.outcome is Outcome.COMPLETED)
    result = eventyard("replay", "order_saga", "--aggregate", completed.order_id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert completed.order_id in result.stdout and "state completed" in result.stdout


def test_replay_refuses_to_swap_while_the_pipeline_runs(live_settings, start_pipeline, make_driver):
    settings = live_settings()
    driver = make_driver(settings, plan_orders(20, FAST_OUTCOMES, seed=4))
    start_pipeline(processes=1)
    driver.send_initial()
    start_pipeline.settle(driver, driver.all_as_expected)
    result = eventyard("replay", "order_saga")
    assert result.returncode == 2
    assert "pipeline order_saga is in use by eventyard run" in result.stderr and "--verify" in result.stderr
    assert not list(settings.state.dir.parent.glob("*.replay-*"))  # nothing left behind


def test_replay_refuses_a_pipeline_that_started_but_has_not_opened_a_store_yet(live_settings, start_pipeline):
    # Issue 16: no store was open yet, so no RocksDB lock told replay the pipeline ran,
    # and it renamed the state and recovery directories from under the workers.
    settings = live_settings()
    run = start_pipeline(processes=2)
    while "started order_saga with 2 process(es)" not in run.log.read_text(errors="replace"):
        run.check_alive()
        time.sleep(0.05)
    before = sorted(p.name for p in settings.state.dir.parent.iterdir())
    result = eventyard("replay", "order_saga")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "pipeline order_saga is in use by eventyard run" in result.stderr
    assert sorted(p.name for p in settings.state.dir.parent.iterdir()) == before
    run.check_alive()
    assert run.stop() == 0
    # Stopped, the lock is free again: the same replay now runs and swaps.
    assert eventyard("replay", "order_saga").returncode == 0


def test_ctrl_c_during_replay_leaves_the_live_state_untouched(live_run, spawn):
    settings, _, _ = live_run()
    live = StateDirectory(settings.state.dir, settings.name)
    before = dict(live.read_instances())
    replay = spawn([sys.executable, "-m", "eventyard", "replay", "order_saga"], cwd=REPO,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    scratch = settings.state.dir.parent.glob(f"{settings.state.dir.name}.replay-*")
    while not list(scratch) and replay.poll() is None:  # await: rebuilding has started
        time.sleep(0.01)
        scratch = settings.state.dir.parent.glob(f"{settings.state.dir.name}.replay-*")
    replay.send_signal(signal.SIGINT)
    output, _ = replay.communicate(timeout=120)
    assert replay.returncode == 130, output
    assert "interrupted: the live state is untouched" in output
    assert not list(settings.state.dir.parent.glob(f"{settings.state.dir.name}.replay-*"))
    assert dict(live.read_instances()) == before


def test_replay_emit_republishes_outputs_under_the_same_event_ids(live_run):
    settings, scenarios, driver = live_run(orders=100)
    tally = driver.collector.tally
    distinct_before, total_before = len(tally.event_ids), _output_count(driver)
    result = eventyard("replay", "order_saga", "--verify", "--emit")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _output_count(driver) > total_before  # published again ...
    assert len(tally.event_ids) == distinct_before  # ... as repeats a consumer drops


def test_replay_from_a_time_skips_earlier_events(live_run):
    settings, scenarios, _ = live_run(orders=50)
    result = eventyard("replay", "order_saga", "--verify", "--from", "2999-01-01T00:00:00+00:00")
    assert result.returncode == 1
    assert "replayed 0 events" in result.stdout
    assert f"{len(scenarios)} of {len(scenarios)} aggregates differ" in result.stdout


def test_verify_covers_operators_added_by_config(live_run, monkeypatch):
    """Custom operators' state and timers are rebuilt like the workflow's."""
    monkeypatch.setenv("EVENTYARD_PIPELINE__OUTPUTS", orjson.dumps(
        {"commands": "order-commands", "events": "order-events", "alerts": "order-alerts"}).decode())
    monkeypatch.setenv("EVENTYARD_PIPELINE__OPERATORS", orjson.dumps([
        {"use": "eventyard.operators.examples.inactivity:InactivityDetector",
         "options": {"timeout": "1s", "repeat": False, "output": "alerts"}},
        {"use": "eventyard.operators.examples.velocity:VelocityDetector",
         "options": {"event_type": "OrderPlaced", "key_field": "customer_id", "limit": 1, "window": "1h",
                     "output": "alerts"}},
    ]).decode())
    settings, scenarios, _ = live_run(orders=300)
    directory = StateDirectory(settings.state.dir, settings.name)
    scoped = set()
    for task in directory.existing_tasks():
        store = TaskStore.open(directory.task_path(task), task, read_only=True)
        scoped |= {key.split("\x1f")[0] for key, _ in store.instances() if "\x1f" in key}
        store.close()
    assert "velocity" in scoped and scoped <= {"velocity", "inactivity"}  # each under its own scope
    result = eventyard("replay", "order_saga", "--verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identical:" in result.stdout


def test_replay_under_other_settings_than_the_live_run_is_refused_unless_accepted(live_run):
    # Issue 16: live with a payment timeout, replayed without it, the state differs.
    settings, _, _ = live_run(orders=60)
    without = {k: v for k, v in os.environ.items() if k != "EVENTYARD_ORDER_SAGA__PAYMENT_TIMEOUT"}
    before = sorted(p.name for p in settings.state.dir.parent.iterdir())
    refused = eventyard("replay", "order_saga", env=without)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert ('order_saga.payment_timeout [EVENTYARD_ORDER_SAGA__PAYMENT_TIMEOUT]: live run "4s", this replay '
            '"30m"') in " ".join(refused.stderr.split())
    assert sorted(p.name for p in settings.state.dir.parent.iterdir()) == before  # nothing swapped, nothing left
    assert eventyard("replay", "order_saga").returncode == 0  # the live run's settings: no question asked
    accepted = eventyard("replay", "order_saga", "--accept-settings", env=without)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "settings differ from the live run's: order_saga.payment_timeout" in accepted.stderr
    # The swapped-in state records what it was built with: the next replay under them passes.
    assert eventyard("replay", "order_saga", env=without).returncode == 0
