"""Pipelines: compositions of the Kafka edge, decoding and workflow operators."""

from eventyard.pipelines.definition import PipelineDefinition
from eventyard.pipelines.registry import get_pipeline, pipeline_names

__all__ = ["PipelineDefinition", "get_pipeline", "pipeline_names"]
