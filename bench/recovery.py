"""Recovery: seconds from restarting a SIGKILLed worker to processing again,
with M open workflows in its state.

A probe OrderPlaced waits in Kafka while the worker restarts. Two figures: until
the new process has applied the probe (worker metrics), and until the probe's
ChargePayment is published (what a downstream service sees). Then the worker is
SIGKILLed again and opening all task stores is timed on its own (its WAL is
what a few seconds of running left, less than after the load).
"""

from __future__ import annotations

import time

import orjson
from kafka import KafkaConsumer, TopicPartition

from bench.open_state import Session
from bench.saga_env import BenchError, SagaEnv
from bench.scale import Scale
from bench.workload import Workload, publish
from eventyard.state import TaskStore, StateDirectory

__all__ = ["run"]

COMMANDS = "order-commands"


def run(scale: Scale, session: Session) -> tuple[dict[str, float], dict[str, list]]:
    loaded = session.open_saga(scale.open_large)
    env = loaded.env
    time.sleep(3)  # past at least one snapshot, as a long-running worker would be
    consumer = KafkaConsumer(bootstrap_servers=env.bootstrap.split(","), enable_auto_commit=False,
                             fetch_max_wait_ms=50)
    tps = [TopicPartition(COMMANDS, p) for p in sorted(consumer.partitions_for_topic(COMMANDS) or ())]
    consumer.assign(tps)
    consumer.seek_to_end(*tps)  # may re-read one batch (embedded broker quirk): filtered below
    for tp in tps:
        consumer.position(tp)
    env.kill_workers()
    restarted = time.monotonic()
    env.start_workers(1)
    publish(env.bootstrap, Workload(open_workflows=1, prefix="recovery-probe").records())
    loaded.note_extra_events(1)
    applied_at = output_at = None
    deadline = restarted + 600
    while output_at is None and time.monotonic() < deadline:
        env.check_alive()
        if applied_at is None and env.applied() > 0:
            applied_at = time.monotonic()
        for messages in consumer.poll(timeout_ms=50).values():
            for m in messages:
                if orjson.loads(m.value).get("aggregate_id", "").startswith("recovery-probe"):
                    output_at = time.monotonic()
        if applied_at is None:
            time.sleep(0.05)
    consumer.close()
    if output_at is None:
        raise BenchError("the restarted worker did not process the probe in 600 s")
    applied_at = applied_at or output_at
    open_all_s = _open_all_after_kill(env)
    return {
        "recovery.open_workflows": loaded.open_workflows,
        "recovery.to_applied_s": applied_at - restarted,
        "recovery.to_output_s": output_at - restarted,
        "recovery.open_all_stores_s": open_all_s,
    }, {}


def _open_all_after_kill(env: SagaEnv) -> float:
    """Seconds to open every task store after a SIGKILL (WAL replay included), alone.

    Timed after the restart, not before it: opening the stores first would replay
    and flush their WALs for the restarted worker and flatter its figure.
    """
    env.kill_workers()
    settings = env.settings
    directory = StateDirectory(settings.state.dir, settings.name)
    opened = time.monotonic()
    for task in directory.existing_tasks():
        TaskStore.open(directory.task_path(task), task).close()
    return time.monotonic() - opened
