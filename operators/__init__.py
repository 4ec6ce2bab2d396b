"""Stateful operators: bytewax logic over the state API, no Kafka clients.

Public API for users: `Operator`, `Context`, `Event`, `Timer` (operators.api),
the workflow definitions built on it (`Workflow`, `Instance`, `on`, `on_timeout`),
and the test kit (operators.testing.OperatorTestKit).
"""

from operators.api import Context, Event, Operator, RetryableError, Timer
from operators.workflow import Instance, Workflow, on, on_timeout

__all__ = ["Operator", "Context", "Event", "Timer", "Workflow", "Instance", "on", "on_timeout",
           "RetryableError"]
