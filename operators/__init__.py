"""Stateful operators: bytewax logic over the state API, no Kafka clients.

Public API for users: `Operator`, `Context`, `Event`, `Timer` (eventyard.operators.api),
the workflow definitions built on it (`Workflow`, `Instance`, `on`, `on_timeout`),
and the test kit (eventyard.testing.OperatorTestKit).
"""

from eventyard.operators.api import Context, Event, Operator, RetryableError, Timer
from eventyard.operators.workflow import Instance, Workflow, on, on_timeout

__all__ = ["Operator", "Context", "Event", "Timer", "Workflow", "Instance", "on", "on_timeout",
           "RetryableError"]
