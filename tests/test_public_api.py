"""The public API: `from eventyard import ...` gives every name a user writes against,
lazily, and the version of the installed distribution."""

import importlib.metadata
import subprocess
import sys

from typer.testing import CliRunner

import eventyard
from eventyard.core import native
from eventyard.core.native import hot_path
from eventyard.cli.app import app

DOCUMENTED = {"Workflow", "Instance", "on", "on_timeout", "Operator", "Context", "Event", "Timer",
              "RetryableError", "PipelineDefinition", "EventCatalog", "EventSpec", "Payload",
              "parse_duration", "Duration", "EventyardSettings", "OperatorFactory", "EventyardError",
              "ConfigError", "get_pipeline", "__version__"}


def test_every_public_name_resolves_and_nothing_else_is_exported():
    assert set(eventyard.__all__) == DOCUMENTED
    for name in eventyard.__all__:
        assert getattr(eventyard, name) is not None, name
    # the public names are the internal objects themselves, not copies
    from eventyard.operators.api import Event
    from eventyard.pipelines.definition import PipelineDefinition
    assert eventyard.Event is Event and eventyard.PipelineDefinition is PipelineDefinition


def test_a_star_import_gives_a_working_workflow_vocabulary():
    namespace: dict[str, object] = {}
    exec("from eventyard import *", namespace)
    assert {"Workflow", "on", "PipelineDefinition", "OperatorFactory"} <= namespace.keys()


def test_unknown_names_fail_like_any_module_attribute():
    try:
        eventyard.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_importing_a_bottom_module_does_not_load_the_layers_above():
    """PEP 562: `import eventyard` must not import operators, pipelines or settings,
    or every bottom-layer import would drag the whole package (and risk cycles)."""
    code = ("import sys, eventyard, eventyard.core.records; "
            "print(sorted(m for m in sys.modules if m.startswith(('eventyard.', 'pydantic_settings', 'bytewax'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # core.values: the bottom layer's own helper for its value classes, with core.native
    # (and the compiled core._native, where it runs) for their compiled __init__;
    # core.source_first: installed by `import eventyard` (stdlib only), it decides
    # source or build per module
    expected = ["eventyard.core", *(["eventyard.core._native"] if native.compiled else []), "eventyard.core.native",
                "eventyard.core.records", "eventyard.core.source_first", "eventyard.core.values"]
    assert out.strip() == str(expected)


def test_version_comes_from_the_installed_distribution():
    assert eventyard.__version__ == importlib.metadata.version("eventyard")
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"eventyard {eventyard.__version__} (hot path: {hot_path()})\n"
