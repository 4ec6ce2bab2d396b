"""What a pipeline is: a name, its event catalog, its options and its workflow."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from config import EventyardSettings, load_settings
from eventyard.catalog import EventCatalog
from operators.workflow import Workflow

__all__ = ["PipelineDefinition"]


@dataclass(frozen=True)
class PipelineDefinition:
    name: str
    description: str
    catalog: EventCatalog
    options: type[BaseModel]
    workflow: Callable[[EventyardSettings], Workflow]

    def settings(self, yaml_file: Path | None = None, **overrides: object) -> EventyardSettings:
        return load_settings(self.name, self.options, yaml_file=yaml_file, overrides=overrides or None)

    def topics(self, settings: EventyardSettings) -> list[str]:
        p = settings.pipeline
        return [*p.inputs, *p.outputs.values(), p.dead_letter, p.decisions]
