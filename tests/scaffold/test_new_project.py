"""`eventyard new project NAME` writes a project whose tests pass as generated and whose
pipeline loads by `module:ATTRIBUTE` with the YAML it ships."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eventyard.cli.app import app
from eventyard.cli.common import load


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    made = CliRunner().invoke(app, ["new", "project", "approvals"])
    assert made.exit_code == 0, made.output
    assert "pip install -e '.[dev]' && pytest" in made.output
    assert "eventyard run approvals.pipeline:PIPELINE" in made.output
    return tmp_path / "approvals"


def test_the_generated_tests_pass_as_written(project: Path):
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                         cwd=project, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 passed" in run.stdout


def test_the_pipeline_loads_with_the_yaml_next_to_it(project: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "path", list(sys.path))  # load() puts the cwd on it, as the CLI does
    try:
        definition, settings = load("approvals.pipeline:PIPELINE", None)
        assert definition.config == project / "approvals" / "pipeline.yaml"
        assert settings.pipeline.inputs == ["approvals.requests", "approvals.approvals"]
        assert [op.name for op in definition.build_operators(settings)] == ["activity"]
    finally:
        for name in [m for m in sys.modules if m == "approvals" or m.startswith("approvals.")]:
            del sys.modules[name]


def test_the_generated_code_imports_only_the_public_api(project: Path):
    for path in project.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("eventyard"):
                assert node.module in ("eventyard", "eventyard.testing"), f"{path}: from {node.module} import"


def test_bad_names_and_existing_projects_are_refused_with_a_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for bad in ("My-Shop", "eventyard", "class"):
        refused = runner.invoke(app, ["new", "project", bad])
        assert refused.exit_code == 2 and "snake_case" in refused.output, bad
    assert runner.invoke(app, ["new", "project", "shop"]).exit_code == 0
    again = runner.invoke(app, ["new", "project", "shop"])
    assert again.exit_code == 2 and "--force" in again.output
    assert runner.invoke(app, ["new", "project", "shop", "--force"]).exit_code == 0
