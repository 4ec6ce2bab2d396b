"""Eventyard: durable event-driven workflows over Kafka.

The public API is what this module exports (see `__all__` and docs/api.md):

    from eventyard import Workflow, Instance, Event, on, on_timeout, PipelineDefinition
    from eventyard.testing import OperatorTestKit

Everything under `eventyard.<subpackage>` is internal and may change between
releases. The names are resolved lazily (PEP 562), so importing a submodule such as
`eventyard.core.records` does not pull in pydantic-settings, the operators or the
pipelines, and the subpackages can import each other's modules without cycles
through this file.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from eventyard.core.source_first import install_source_first

# Before any engine module is imported: it decides source or build (core/source_first.py).
install_source_first()

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports on use
    from eventyard.config.durations import Duration, parse_duration
    from eventyard.config.settings import EventyardSettings
    from eventyard.core.catalog import EventCatalog, EventSpec, Payload
    from eventyard.core.errors import ConfigError, EventyardError
    from eventyard.operators.api import Context, Event, Operator, RetryableError, Timer
    from eventyard.operators.workflow import Instance, Workflow, on, on_timeout
    from eventyard.pipelines.definition import OperatorFactory, PipelineDefinition
    from eventyard.pipelines.registry import get_pipeline

__all__ = [
    "__version__",
    # workflows
    "Workflow", "Instance", "on", "on_timeout",
    # operators
    "Operator", "Context", "Event", "Timer", "RetryableError",
    # pipelines and their event catalogs
    "PipelineDefinition", "OperatorFactory", "get_pipeline", "EventCatalog", "EventSpec", "Payload",
    # settings
    "EventyardSettings", "Duration", "parse_duration",
    # errors a user may catch
    "EventyardError", "ConfigError",
]

# public name -> the internal module that defines it
_EXPORTS: dict[str, str] = {
    "Workflow": "eventyard.operators.workflow",
    "Instance": "eventyard.operators.workflow",
    "on": "eventyard.operators.workflow",
    "on_timeout": "eventyard.operators.workflow",
    "Operator": "eventyard.operators.api",
    "Context": "eventyard.operators.api",
    "Event": "eventyard.operators.api",
    "Timer": "eventyard.operators.api",
    "RetryableError": "eventyard.operators.api",
    "PipelineDefinition": "eventyard.pipelines.definition",
    "OperatorFactory": "eventyard.pipelines.definition",
    "get_pipeline": "eventyard.pipelines.registry",
    "EventCatalog": "eventyard.core.catalog",
    "EventSpec": "eventyard.core.catalog",
    "Payload": "eventyard.core.catalog",
    "EventyardSettings": "eventyard.config.settings",
    "Duration": "eventyard.config.durations",
    "parse_duration": "eventyard.config.durations",
    "EventyardError": "eventyard.core.errors",
    "ConfigError": "eventyard.core.errors",
}

try:
    __version__: str = version("eventyard")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        # AttributeError (not ImportError) lets `from eventyard import testing` fall
        # back to importing the submodule.
        raise AttributeError(f"module 'eventyard' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # resolved once; later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
