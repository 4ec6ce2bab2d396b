"""What a pipeline is: a name, its event catalog, its options, its workflow, any
further operators, and where its settings live."""

from __future__ import annotations

import dataclasses
import sys
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


def _defining_module_dir() -> Path | None:
    """The directory of the module that called PipelineDefinition(...): the first
    frame outside this file and dataclasses' generated __init__."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename in (__file__, dataclasses.__file__, "<string>"):
        frame = frame.f_back  # type: ignore[assignment]
    file = frame.f_globals.get("__file__") if frame is not None else None
    return Path(file).resolve().parent if file else None


@dataclass(frozen=True)
class PipelineDefinition:
    """A pipeline: `eventyard run module:ATTRIBUTE` runs the one at that attribute.

    `config` is the pipeline's YAML settings file. A relative path is relative to the
    module that defines the pipeline (so it travels with the package); unset, the
    file is `<name>.yaml` in Eventyard's own config directory (the shipped pipelines).
    `--config` on the command line overrides it; EVENTYARD_<SECTION>__<KEY>
    environment variables override both.
    """

    name: str
    description: str
    catalog: EventCatalog
    options: type[BaseModel]
    workflow: Callable[[EventyardSettings], Workflow]
    operators: tuple[OperatorFactory, ...] = ()
    config: Path | str | None = None

    def __post_init__(self) -> None:
        # Anchor a relative path now, while the defining module is the caller:
        # later the working directory may be anything.
        if self.config is not None and not Path(self.config).is_absolute():
            base = _defining_module_dir()
            resolved = (base / self.config) if base is not None else Path(self.config).resolve()
            object.__setattr__(self, "config", resolved)
        elif self.config is not None:
            object.__setattr__(self, "config", Path(self.config))

    def add(self, *operators: OperatorFactory) -> "PipelineDefinition":
        """This pipeline with more operators running next to its workflow."""
        return dataclasses.replace(self, operators=(*self.operators, *operators))

    def build_operators(self, settings: EventyardSettings) -> list[Operator[Any]]:
        return [op if isinstance(op, Operator) else op(settings) for op in self.operators]

    def settings(self, yaml_file: Path | None = None, **overrides: object) -> EventyardSettings:
        """Settings from `yaml_file` (e.g. --config), else this pipeline's `config`."""
        path = yaml_file if yaml_file is not None else self.config
        return load_settings(self.name, self.options, yaml_file=Path(path) if path is not None else None,
                             overrides=overrides or None)

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
