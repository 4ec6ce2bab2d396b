"""`eventyard new operator NAME` writes an operator and a test that passes as generated."""

import os
import subprocess
import sys

from typer.testing import CliRunner

from eventyard.cli.app import app
from tests.conftest import REPO


def test_the_generated_operator_and_test_work_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    made = CliRunner().invoke(app, ["new", "operator", "fraud_watch", "--dir", "acme/ops"])
    assert made.exit_code == 0, made.output
    assert "use: acme.ops.fraud_watch:FraudWatch" in made.output
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/test_fraud_watch.py"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout


def test_the_generated_operator_loads_by_import_path_from_pipeline_yaml(tmp_path, monkeypatch):
    from eventyard.config import OperatorSpec
    from eventyard.pipelines.operator_specs import load_operator

    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(app, ["new", "operator", "quiet_keys"]).exit_code == 0
    monkeypatch.syspath_prepend(str(tmp_path))
    operator = load_operator(OperatorSpec(use="quiet_keys:QuietKeys", options={"quiet_after": "5m"}))
    assert operator.name == "quiet_keys" and operator.quiet_after.total_seconds() == 300


def test_bad_names_and_existing_files_are_refused_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    bad = runner.invoke(app, ["new", "operator", "Fraud-Watch"])
    assert bad.exit_code == 2 and "snake_case" in bad.output
    assert runner.invoke(app, ["new", "operator", "watch"]).exit_code == 0
    again = runner.invoke(app, ["new", "operator", "watch"])
    assert again.exit_code == 2 and "--force" in again.output
    assert runner.invoke(app, ["new", "operator", "watch", "--force"]).exit_code == 0
