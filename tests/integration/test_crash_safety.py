"""Kill -9 at random moments (and rescale): nothing lost, nothing applied twice.

Seeded: set EVENTYARD_CHAOS_SEED to replay a failing run; the seed is in every
assertion message.
"""

from __future__ import annotations

import os
import random
import shutil
from collections import Counter

import pytest

from eventyard.demo.traffic import FAST_OUTCOMES, TIMEOUT_OUTCOMES, Outcome, plan_orders
from eventyard.state import StateDirectory
from tests.conftest import await_snapshot
from tests.integration.chaos import Chaos

pytestmark = [pytest.mark.integration, pytest.mark.both_transports]

# Long enough that a kill + restart cannot delay a payment past the reminder,
# short enough that timers fire (and get killed while firing) during the test.
TIMEOUTS = {"order_saga__payment_reminder_after": "12s", "order_saga__payment_timeout": "20s"}


@pytest.fixture
def seed() -> int:
    value = int(os.environ.get("EVENTYARD_CHAOS_SEED", random.randrange(1 << 30)))
    print(f"chaos seed: {value} (EVENTYARD_CHAOS_SEED={value} replays this run)")
    return value


def _final_states(settings) -> dict[str, dict]:
    return dict(StateDirectory(settings.state.dir, settings.name, settings.state.shards).read_instances())


def _expected_state(outcome: Outcome) -> str:
    return "completed" if outcome is Outcome.COMPLETED else "cancelled"


def _run_chaos(live_settings, start_pipeline, make_driver, seed: int, process_plan: list[int]) -> None:
    settings = live_settings(**TIMEOUTS)
    chaos = Chaos(start_pipeline, seed)
    scenarios = plan_orders(1200, FAST_OUTCOMES + TIMEOUT_OUTCOMES, seed=seed)
    driver = make_driver(settings, scenarios)
    chunks = [scenarios[i::3] for i in range(3)]
    runs = iter(process_plan)
    run = start_pipeline(processes=next(runs))
    outputs = lambda: sum(driver.collector.tally.event_ids.values())  # noqa: E731

    # kills while events stream in ...
    for chunk in chunks:
        driver.send(r for s in chunk for r in s.initial_events())
        target = outputs() + chaos.rng.randint(20, 600)
        start_pipeline.settle(driver, lambda: outputs() >= target or driver.all_as_expected())
        chaos.kill_random_worker(run)
        run = start_pipeline(processes=next(runs, 2))
    # ... and while timers fire
    for timer_output in ("PaymentReminder", "OrderCancelled"):
        fired = lambda: sum(c[timer_output] for c in driver.collector.tally.by_aggregate.values())  # noqa: E731
        target = fired() + chaos.rng.randint(1, 40)
        start_pipeline.settle(driver, lambda: fired() >= target or driver.all_as_expected())
        chaos.kill_random_worker(run)
        run = start_pipeline(processes=next(runs, 2))

    start_pipeline.settle(driver, driver.all_as_expected)
    assert run.stop() == 0
    tally = driver.collector.tally
    print(f"seed {seed}: {chaos.kills} kills, {len(tally.event_ids)} distinct outputs, "
          f"{tally.repeats} re-published duplicates (same event_id)")

    # every output at least once, each logical output under one stable event_id
    assert driver.all_as_expected(), (seed, dict(list(driver.mismatches().items())[:3]))
    assert tally.dead_letters == [], seed
    # every input applied exactly once; every timer fired once in state terms
    states = _final_states(settings)
    for s in scenarios:
        instance = states[s.order_id]
        applied = [h[1] for h in instance["history"]]
        assert len(applied) == len(set(applied)), (seed, s.order_id, applied)
        assert instance["version"] == len(applied), (seed, s.order_id)
        assert (instance["state"], instance["finished"]) == (_expected_state(s.outcome), True), (seed, s)
        timeouts = Counter(h[0] for h in instance["history"] if h[0].startswith("timeout:"))
        assert all(n == 1 for n in timeouts.values()), (seed, s.order_id, timeouts)


def test_sigkill_at_random_moments_loses_nothing_and_applies_nothing_twice(
        live_settings, start_pipeline, make_driver, seed):
    _run_chaos(live_settings, start_pipeline, make_driver, seed, process_plan=[2, 2, 2, 2, 2, 2])


def test_rescaling_between_crashes_keeps_every_workflow(live_settings, start_pipeline, make_driver, seed):
    _run_chaos(live_settings, start_pipeline, make_driver, seed, process_plan=[2, 3, 1, 3, 2, 1])


@pytest.mark.parametrize("processes", [1, 2])
def test_missing_shard_store_is_refused_with_the_shard_named(live_settings, start_pipeline, make_driver, processes):
    settings = live_settings()
    scenarios = plan_orders(50, FAST_OUTCOMES, seed=1)
    driver = make_driver(settings, scenarios)
    run = start_pipeline(processes=processes)
    driver.send_initial()
    start_pipeline.settle(driver, driver.all_as_expected)
    # Stopped before any epoch commits, a restart starts from scratch and (reading
    # from the earliest offset, the default) rebuilds every shard: nothing to refuse.
    await_snapshot(settings)
    assert run.stop() == 0
    directory = StateDirectory(settings.state.dir, settings.name, settings.state.shards)
    victim = directory.existing_shards()[0]
    shutil.rmtree(directory.shard_path(victim))
    run = start_pipeline(processes=processes)
    # One process exits 2; with two, bytewax may report a panic of the cluster instead
    # (exit 1), so the message is logged by the worker where the store was missing.
    code = run.process.wait(timeout=120)
    assert code == 2 if processes == 1 else code != 0
    log = run.log.read_text()
    assert "ERROR eventyard.operators.shard_logic" in log and f"shard {victim}: store" in log
    assert "missing" in log and "eventyard replay" in log
    assert not directory.shard_path(victim).exists()  # not silently recreated
