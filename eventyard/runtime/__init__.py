"""Running pipelines as OS processes (bytewax cluster addressing)."""

from eventyard.runtime.supervisor import PipelineSupervisor

__all__ = ["PipelineSupervisor"]
