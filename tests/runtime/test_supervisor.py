"""Workers and the CLI start the same from any working directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from eventyard.runtime.supervisor import worker_command


def _project(tmp_path: Path) -> Path:
    # A user's project: its own `config` package and a `state/` directory, as many have.
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "__init__.py").write_text("")
    (tmp_path / "state").mkdir()
    (tmp_path / "myflow.py").write_text("PIPELINE = 'not a pipeline definition'\n")
    return tmp_path


def test_a_project_config_package_does_not_shadow_eventyard_in_a_worker(tmp_path):
    done = subprocess.run(worker_command("order_saga") + ["--help"], cwd=_project(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage: eventyard-worker" in done.stdout


def test_a_worker_imports_module_attribute_pipelines_from_the_project(tmp_path):
    done = subprocess.run(worker_command("myflow:PIPELINE"), cwd=_project(tmp_path),
                          capture_output=True, text=True, timeout=120)
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
