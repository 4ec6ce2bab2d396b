"""Running pipelines as OS processes (bytewax cluster addressing), on one machine or several."""

from eventyard.runtime.cluster import ClusterLayout
from eventyard.runtime.supervisor import PipelineSupervisor

__all__ = ["ClusterLayout", "PipelineSupervisor"]
