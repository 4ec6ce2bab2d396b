"""What a pipeline is: a name, its event catalog, its options, its workflow and
any further operators."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from pydantic import BaseModel

from eventyard.config import EventyardSettings, load_settings
from eventyard.core.catalog import EventCatalog
from eventyard.operators.api import Operator
from eventyard.operators.workflow import Workflow

__all__ = ["PipelineDefinition", "OperatorFactory"]

# An operator, or a function of the pipeline's settings that builds one.
OperatorFactory = Union[Operator[Any], Callable[[EventyardSettings], Operator[Any]]]


@dataclass(frozen=True)
class PipelineDefinition:
    name: str
    description: str
    catalog: EventCatalog
    options: type[BaseModel]
    workflow: Callable[[EventyardSettings], Workflow]
    operators: tuple[OperatorFactory, ...] = ()

    def add(self, *operators: OperatorFactory) -> "PipelineDefinition":
        """This pipeline with more operators running next to its workflow."""
        return dataclasses.replace(self, operators=(*self.operators, *operators))

    def build_operators(self, settings: EventyardSettings) -> list[Operator[Any]]:
        return [op if isinstance(op, Operator) else op(settings) for op in self.operators]

    def settings(self, yaml_file: Path | None = None, **overrides: object) -> EventyardSettings:
        return load_settings(self.name, self.options, yaml_file=yaml_file, overrides=overrides or None)

    def topics(self, settings: EventyardSettings) -> list[str]:
        p = settings.pipeline
        return [*p.inputs, *p.outputs.values(), p.dead_letter, p.decisions]
