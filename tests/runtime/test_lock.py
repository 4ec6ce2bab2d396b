"""The pipeline lock, held by real processes: refused while held, free once they die."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading

import pytest

from eventyard.runtime.lock import PipelineLock, PipelineLockedError, lock_path

HOLD = """
import sys
from pathlib import Path
from eventyard.runtime.lock import PipelineLock
lock = PipelineLock.acquire(Path(sys.argv[1]), "order_saga", "eventyard run")
print("held", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder(tmp_path):
    """A process holding the lock of tmp_path/state until killed."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "state")], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "held\n"
    yield process
    process.kill()
    process.wait()


def test_a_held_lock_is_refused_naming_its_holder_and_what_to_do(tmp_path, holder):
    with pytest.raises(PipelineLockedError, match=rf"pipeline order_saga is in use by eventyard run "
                                                  rf"\(pid {holder.pid}, since .*\): eventyard replay must wait "
                                                  r"until it ends; stop it first, or use --verify"):
        PipelineLock.acquire(tmp_path / "state", "order_saga", "eventyard replay", ", or use --verify")


def test_the_kernel_frees_the_lock_of_a_killed_holder(tmp_path, holder):
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with PipelineLock.acquire(tmp_path / "state", "order_saga", "eventyard replay") as lock:
        assert lock.path == lock_path(tmp_path / "state") == tmp_path / "state.lock"


def test_a_child_given_the_lock_keeps_it_after_the_parent_let_go(tmp_path):
    lock = PipelineLock.acquire(tmp_path / "state", "order_saga", "eventyard run")
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE,
                             pass_fds=(lock.fileno(),))
    try:
        lock.release()
        with pytest.raises(PipelineLockedError, match=f"pid {os.getpid()}"):
            PipelineLock.acquire(tmp_path / "state", "order_saga", "eventyard replay")
    finally:
        child.communicate(b"")
    PipelineLock.acquire(tmp_path / "state", "order_saga", "eventyard replay").release()


# A run that hands the lock to a worker and ends, as a SIGKILLed `eventyard run`
# does: the worker keeps the lock until it exits, here when its stdin (the test's
# pipe) closes.
HAND_OVER = """
import subprocess, sys
from pathlib import Path
from eventyard.runtime.lock import PipelineLock
lock = PipelineLock.acquire(Path(sys.argv[1]), "order_saga", "eventyard run")
worker = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], pass_fds=(lock.fileno(),),
                          stdout=subprocess.DEVNULL)
print(worker.pid, flush=True)
"""


@pytest.fixture
def ended_run(tmp_path):
    """Runs a holder that ends leaving its worker with the lock; returns (run pid, worker
    pid, stop the worker)."""
    read, write = os.pipe()
    open_ends = [write]

    def stop() -> None:
        while open_ends:
            os.close(open_ends.pop())

    run = subprocess.Popen([sys.executable, "-c", HAND_OVER, str(tmp_path / "state")], stdin=read,
                           stdout=subprocess.PIPE, text=True)
    os.close(read)
    worker = int(run.communicate()[0])
    yield run.pid, worker, stop
    stop()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_restart_waits_for_the_workers_of_an_ended_run_to_stop(tmp_path, ended_run, caplog):
    run, worker, stop_worker = ended_run
    caplog.set_level(logging.WARNING, logger="eventyard.runtime.lock")
    ended = lock_path(tmp_path / "state").read_text().strip()  # "eventyard run (pid N, since T)"
    acquired: list[PipelineLock] = []
    waiting = threading.Thread(target=lambda: acquired.append(
        PipelineLock.acquire(tmp_path / "state", "order_saga", "eventyard run")))
    waiting.start()
    assert not acquired and _running(worker)  # still waiting while the worker holds the lock
    stop_worker()
    waiting.join()
    assert acquired, "the restart failed instead of waiting"
    assert f"pid {os.getpid()}" in lock_path(tmp_path / "state").read_text()
    acquired[0].release()
    # what docs/operations.md shows an operator
    assert [r.getMessage() for r in caplog.records if r.name == "eventyard.runtime.lock"] == [
        f"pipeline order_saga: {ended} has ended but its worker processes still hold the lock; waiting up to 30 s "
        "for them to stop"]
    assert ended.startswith(f"eventyard run (pid {run}, since ")


def test_workers_that_outlast_the_grace_are_named_in_the_refusal(tmp_path, ended_run):
    run, worker, _ = ended_run
    with pytest.raises(PipelineLockedError, match=rf"pipeline order_saga is still locked by the worker processes "
                                                  rf"of eventyard run \(pid {run}, since .*\), which has ended: "
                                                  r"they did not stop within 0 s \(`fuser -v .*state.lock` lists "
                                                  r"them\); eventyard replay must wait until they are gone"):
        PipelineLock.acquire(tmp_path / "state", "order_saga", "eventyard replay", orphans_grace=0.2)
    assert _running(worker)
