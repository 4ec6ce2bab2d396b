"""How the supervisor starts workers: from any working directory, with a process count the sink supports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from eventyard.core.errors import ConfigError
from eventyard.kafka.edge_sink import MAX_PROCESSES
from eventyard.runtime.supervisor import PipelineSupervisor, worker_command


def _project(tmp_path: Path) -> Path:
    # A user's project: its own `config` package and a `state/` directory, as many have.
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "__init__.py").write_text("")
    (tmp_path / "state").mkdir()
    (tmp_path / "myflow.py").write_text("PIPELINE = 'not a pipeline definition'\n")
    return tmp_path


def test_a_project_config_package_does_not_shadow_eventyard_in_a_worker(tmp_path, monkeypatch):
    monkeypatch.chdir(_project(tmp_path))  # where `eventyard run` is started, and so the workers
    done = subprocess.run(worker_command("order_saga") + ["--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage: eventyard-worker" in done.stdout


def test_a_worker_imports_module_attribute_pipelines_from_the_project(tmp_path, monkeypatch):
    monkeypatch.chdir(_project(tmp_path))
    done = subprocess.run(worker_command("myflow:PIPELINE"), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "myflow:PIPELINE is not a PipelineDefinition" in done.stdout + done.stderr


def test_python_dash_m_eventyard_works_in_a_project_with_its_own_config_package(tmp_path):
    done = subprocess.run([sys.executable, "-m", "eventyard", "events", "order_saga"], cwd=_project(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "OrderPlaced" in done.stdout
    mine = subprocess.run([sys.executable, "-m", "eventyard", "events", "myflow:PIPELINE"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert "myflow:PIPELINE is not a PipelineDefinition" in mine.stdout + mine.stderr  # found in the project


def test_a_process_count_beyond_what_the_sink_supports_is_refused_before_any_start(make_settings):
    with pytest.raises(ConfigError, match="--processes must be between 1 and 256"):
        PipelineSupervisor("order_saga", make_settings(), processes=MAX_PROCESSES + 1)


# A stand-in worker: one thread named as timely's receiving thread, which ends (its
# connection is gone) while the process lives on, as a worker whose own watch never
# gets to run would.
_CUT_OFF_WORKER = """
import ctypes, threading, time
libc = ctypes.CDLL(None)
def receive():
    libc.prctl(15, b"timely:recv-1", 0, 0, 0)  # PR_SET_NAME: this thread's comm
    time.sleep(1.5)
threading.Thread(target=receive).start()
time.sleep(120)
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_a_worker_cut_off_from_its_cluster_is_ended_by_eventyard_run_if_it_does_not_end_itself(make_settings):
    supervisor = PipelineSupervisor("order_saga", make_settings(), processes=1)
    supervisor.children = [subprocess.Popen([sys.executable, "-c", _CUT_OFF_WORKER])]
    supervisor.watch_peers(1, grace=0.5)
    assert supervisor.wait() == 3  # CUT_OFF, as when the worker ends itself
