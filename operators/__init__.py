"""Stateful operators: bytewax logic over the state API, no Kafka clients."""

from operators.workflow import Event, Instance, RetryableError, Workflow, on, on_timeout

__all__ = ["Workflow", "Instance", "Event", "on", "on_timeout", "RetryableError"]
