"""Operators named in a pipeline's YAML (`pipeline.operators`), loaded by import path.

    pipeline:
      operators:
        - use: eventyard.operators.examples.velocity:VelocityDetector
          options: {event_type: PaymentReceived, key_field: customer_id, limit: 3, window: 10m}
"""

from __future__ import annotations

from typing import Any

from eventyard.config import OperatorSpec
from eventyard.core.errors import ConfigError
from eventyard.importing import import_path
from eventyard.operators.api import Operator

__all__ = ["load_operator"]


def load_operator(spec: OperatorSpec) -> Operator[Any]:
    try:
        target: Any = import_path(spec.use)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"pipeline.operators: cannot load {spec.use}: {exc}") from exc
    if isinstance(target, Operator):
        if spec.options:
            raise ConfigError(f"pipeline.operators: {spec.use} is an operator instance; it takes no options")
        return target
    if not callable(target):
        raise ConfigError(f"pipeline.operators: {spec.use} is neither an Operator nor a factory of one")
    try:
        operator = target(**spec.options)
    except (TypeError, ValueError) as exc:  # includes pydantic's ValidationError
        raise ConfigError(f"pipeline.operators: {spec.use} rejected options {spec.options}: {exc}") from exc
    if not isinstance(operator, Operator):
        raise ConfigError(f"pipeline.operators: {spec.use} returned {type(operator).__name__}, not an Operator")
    return operator
