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

__all__ = ["PipelineDefinition", "OperatorFactory"]

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

    def topics(self, settings: EventyardSettings) -> list[str]:
        p = settings.pipeline
        return [*p.inputs, *p.outputs.values(), p.dead_letter, p.decisions]
