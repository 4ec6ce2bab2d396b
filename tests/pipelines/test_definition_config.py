"""A pipeline outside this repository names its own YAML; the CLI reads it, with
--config and EVENTYARD_<SECTION>__<KEY> taking precedence as for the shipped ones."""

import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eventyard.cli.app import app
from eventyard.cli.common import load

MODULE = '''
from datetime import timedelta
from pydantic import BaseModel
from eventyard import EventCatalog, EventSpec, Instance, Event, Payload, PipelineDefinition, Workflow, on, Duration


class Options(BaseModel):
    patience: Duration = timedelta(minutes=1)


class Started(Payload):
    who: str


class Flow(Workflow):
    name = "flow"
    starts_with = {"Started"}

    @on("Started")
    def started(self, it: Instance, event: Event) -> None:
        it.goto("started")


PIPELINE = PipelineDefinition(
    name="flow", description="a user's pipeline", options=Options,
    catalog=EventCatalog([EventSpec("Started", Started, "input", "flow.in", "it starts")]),
    workflow=lambda settings: Flow(), config="settings/flow.yaml",
)
'''

YAML = '''
kafka: {topic_partitions: 2}
pipeline: {inputs: [flow.in], outputs: {events: flow.out}, dead_letter: flow.dlq, decisions: flow.decisions}
flow: {patience: 5m}
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project with `userflow/pipeline.py` and its YAML next to it; run from elsewhere."""
    package = tmp_path / "proj" / "userflow"
    (package / "settings").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "pipeline.py").write_text(textwrap.dedent(MODULE))
    (package / "settings" / "flow.yaml").write_text(YAML)
    monkeypatch.setattr(sys, "path", [str(tmp_path / "proj"), *sys.path])  # load() adds the cwd too
    monkeypatch.chdir(tmp_path)  # not the project: the path must not depend on the cwd
    yield package
    for name in [m for m in sys.modules if m == "userflow" or m.startswith("userflow.")]:
        del sys.modules[name]


def test_the_yaml_path_is_relative_to_the_defining_module(project: Path):
    definition, settings = load("userflow.pipeline:PIPELINE", None)
    assert definition.config == project / "settings" / "flow.yaml"
    assert settings.name == "flow" and settings.pipeline.inputs == ["flow.in"]
    assert settings.kafka.topic_partitions == 2
    assert settings.flow.patience == timedelta(minutes=5)


def test_environment_overrides_reach_a_user_pipeline_section(project: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EVENTYARD_FLOW__PATIENCE", "30s")
    monkeypatch.setenv("EVENTYARD_PIPELINE__DEAD_LETTER", "elsewhere.dlq")
    _, settings = load("userflow.pipeline:PIPELINE", None)
    assert settings.flow.patience == timedelta(seconds=30)
    assert settings.pipeline.dead_letter == "elsewhere.dlq"


def test_config_option_wins_over_the_definitions_file(project: Path, tmp_path: Path):
    other = tmp_path / "prod.yaml"
    other.write_text(YAML.replace("flow.dlq", "prod.dlq"))
    _, settings = load("userflow.pipeline:PIPELINE", other)
    assert settings.pipeline.dead_letter == "prod.dlq"


def test_the_events_command_lists_a_user_pipelines_catalog(project: Path):
    result = CliRunner().invoke(app, ["events", "userflow.pipeline:PIPELINE"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Started" in result.output and "flow.in" in result.output and "it starts" in result.output


def test_a_missing_yaml_is_reported_with_its_path(project: Path):
    (project / "settings" / "flow.yaml").unlink()
    result = CliRunner().invoke(app, ["events", "userflow.pipeline:PIPELINE"])
    assert result.exit_code == 2 and "flow.yaml not found" in result.output


def test_the_shipped_pipelines_keep_their_short_names():
    definition, settings = load("order_saga", None)
    assert definition.config is None and settings.pipeline.dead_letter == "order_saga.dlq"
