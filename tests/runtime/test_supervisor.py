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
