"""The pipeline lock, held by real processes: refused while held, free once they die."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

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
