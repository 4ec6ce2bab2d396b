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

__all__ = ["PipelineDefinition", "OperatorFactory", "repartition_topic"]

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

    def all_operators(self, settings: EventyardSettings) -> list[Operator[Any]]:
        """The operators next to the workflow: added in Python, then from the YAML."""
        from eventyard.pipelines.operator_specs import load_operator

        return [*self.build_operators(settings), *(load_operator(spec) for spec in settings.pipeline.operators)]

    def repartition_topics(self, settings: EventyardSettings) -> dict[str, str]:
        """Operator state scope -> its repartition topic (`<pipeline>.<operator>.repartition`):
        where the events an operator keys by something other than the aggregate go, keyed
        by the operator's key, so all of one key's events meet in one task."""
        return {op.state_scope: repartition_topic(settings.name, op.name) for op in self.all_operators(settings)}

    def task_inputs(self, settings: EventyardSettings) -> list[str]:
        """Every topic a task reads partition p of: the inputs and the repartition topics."""
        return [*settings.pipeline.inputs, *self.repartition_topics(settings).values()]

    def topics(self, settings: EventyardSettings) -> list[str]:
        p = settings.pipeline
        return [*self.task_inputs(settings), *p.outputs.values(), p.dead_letter, p.decisions]


def repartition_topic(pipeline: str, operator: str) -> str:
    return f"{pipeline}.{operator}.repartition"
