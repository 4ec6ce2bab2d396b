"""Pipelines known by name to the CLI."""

from __future__ import annotations

from eventyard.core.errors import PipelineNotFoundError
from eventyard.importing import import_path
from eventyard.pipelines.definition import PipelineDefinition

__all__ = ["get_pipeline", "pipeline_names"]

_PIPELINES = {
    "order_saga": "eventyard.pipelines.order_saga:PIPELINE",
    "loan_application": "eventyard.pipelines.loan_application:PIPELINE",
}


def pipeline_names() -> list[str]:
    return sorted(_PIPELINES)


def get_pipeline(name: str) -> PipelineDefinition:
    """A shipped pipeline by its short name (order_saga, loan_application), or any
    pipeline by `module:attribute` path, as `eventyard run` finds it."""
    path = _PIPELINES.get(name, name if ":" in name else None)
    if path is None:
        raise PipelineNotFoundError(
            f"no pipeline {name!r}; known: {', '.join(pipeline_names())} (or give module:attribute)"
        )
    try:
        definition = import_path(path)
    except (ImportError, AttributeError) as exc:
        raise PipelineNotFoundError(f"cannot load pipeline {path}: {exc}") from exc
    if not isinstance(definition, PipelineDefinition):
        raise PipelineNotFoundError(f"{path} is not a PipelineDefinition")
    return definition
