"""Stopping `eventyard run` as a terminal and a service manager do: a signal to the
whole process group. One line per worker, no traceback, exit 0 (issue 16)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from eventyard.demo.traffic import FAST_OUTCOMES, plan_orders
from tests.conftest import REPO

pytestmark = pytest.mark.integration


@contextmanager
def _in_own_group(tmp_path, transport: str, processes: int = 2) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """`eventyard run -p N` in its own process group; the group is killed on the way
    out if the test left it running."""
    log = tmp_path / "run.log"
    env = {**os.environ, "PYTHONPATH": str(REPO), "EVENTYARD_LOG_LEVEL": "INFO", "EVENTYARD_KAFKA__CLIENT": transport}
    process = subprocess.Popen([sys.executable, "-m", "eventyard", "run", "order_saga", "-p", str(processes)],
                               cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                               start_new_session=True)  # its own group, as a shell job or a service is
    try:
        yield process, log
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def _settled_in_own_group(driver, tmp_path, transport: str) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """`eventyard run -p 2` in its own process group, every order completed."""
    with _in_own_group(tmp_path, transport) as (process, log):
        _settle(driver, process, log)
        yield process, log


def _settle(driver, process: subprocess.Popen[bytes], log) -> None:
    """Until every order completed: the workers are busy in their dataflow."""
    driver.send_initial()
    deadline = time.monotonic() + 120
    while not driver.all_as_expected():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "orders did not complete"
        driver.step()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_process_group_stops_every_worker_cleanly(signum, live_settings, make_driver, tmp_path,
                                                                  transport):
    settings = live_settings()
    driver = make_driver(settings, plan_orders(30, FAST_OUTCOMES, seed=16))
    with _settled_in_own_group(driver, tmp_path, transport) as (process, log):
        os.killpg(process.pid, signum)
        code = process.wait(timeout=60)
    text = log.read_text(errors="replace")
    assert code == 0, text
    assert "Traceback" not in text and "panicked" not in text and "KeyboardInterrupt" not in text, text
    assert sorted(re.findall(r"worker (\d+) stopped", text)) == ["0", "1"], text  # one line each


@pytest.mark.parametrize("processes", [1, 2])
def test_a_signal_while_the_workers_apply_a_backlog_stops_them_cleanly(processes, live_settings, make_driver,
                                                                       tmp_path, transport):
    # The signal lands while a worker runs Python code inside a bytewax callback (the
    # only worker of `-p 1` runs the dataflow on the main thread, where Python runs
    # signal handlers). A KeyboardInterrupt raised there reached bytewax as an error
    # of `next_batch`: a Rust panic, a traceback and "worker 0 failed", exit 1.
    settings = live_settings()
    driver = make_driver(settings, plan_orders(4000, FAST_OUTCOMES, seed=18))
    with _in_own_group(tmp_path, transport, processes) as (process, log):
        driver.send_initial()
        deadline = time.monotonic() + 120
        while driver.step() == 0:  # the first outputs: the workers are applying the backlog
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no output"
        os.killpg(process.pid, signal.SIGINT)
        code = process.wait(timeout=60)
    text = log.read_text(errors="replace")
    assert code == 0, text
    assert "Traceback" not in text and "failed" not in text, text
    # bytewax 0.21's single-process run loop reports every signal as a panic of its
    # own (src/run.rs, printed by Rust); the worker still stops as asked, and no
    # callback of ours is interrupted (no panic in src/inputs.rs or outputs.rs).
    panics = re.findall(r"panicked at (\S+)", text)
    assert panics == ([] if processes > 1 else panics[:1]) and all("run.rs" in at for at in panics), text
    assert sorted(re.findall(r"worker (\d+) stopped", text)) == [str(p) for p in range(processes)], text


def test_a_killed_worker_is_reported_with_its_signal_and_run_exits_with_it(live_settings, make_driver, tmp_path,
                                                                           transport):
    # Issue 16: after a SIGKILL, `run` sometimes reported (and exited with) a surviving
    # peer's code, `exited with 1` after that peer's "Send thread panic".
    settings = live_settings()
    driver = make_driver(settings, plan_orders(30, FAST_OUTCOMES, seed=17))
    with _settled_in_own_group(driver, tmp_path, transport) as (process, log):
        workers = re.search(r"started order_saga with 2 process\(es\): (\d+), (\d+)", log.read_text())
        assert workers, log.read_text()
        victim = int(workers.group(2))  # the last one polled: the one a peer's exit used to hide
        os.kill(victim, signal.SIGKILL)
        code = process.wait(timeout=60)
    text = log.read_text(errors="replace")
    assert code == 128 + signal.SIGKILL, text
    errors = [line for line in text.splitlines() if "eventyard.runtime.supervisor" in line and "ERROR" in line]
    assert len(errors) == 1 and f"worker pid {victim} was killed by SIGKILL; stopping the others" in errors[0], text


def test_a_worker_stopped_while_its_cluster_forms_ends_at_once(live_settings, start_pipeline):
    # Machine 1 of a two-machine cluster whose machine 0 never comes up: its worker
    # waits in bytewax's connect loop, where Python's signal handler cannot run.
    # Before, a stop there ended only when `eventyard run` killed the worker (30 s).
    from eventyard.ports import free_ports

    live_settings()
    cluster = ",".join(f"127.0.0.1:{port}" for port in free_ports(2))
    run = start_pipeline(processes=1, args=("--cluster", cluster, "--machine", "1"))
    deadline = time.monotonic() + 60
    while "error connecting to worker 0" not in run.log.read_text(errors="replace"):
        run.check_alive()
        assert time.monotonic() < deadline, run.log.read_text()
        time.sleep(0.1)
    assert run.stop() == 0
    text = run.log.read_text(errors="replace")
    assert "worker 1 stopped before its cluster formed" in text, text
    assert "did not stop" not in text and "Traceback" not in text, text
