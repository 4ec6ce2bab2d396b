"""Example operators built on the public API (operators.api); see docs/operators.md."""

from operators.examples.inactivity import InactivityDetector
from operators.examples.velocity import VelocityDetector

__all__ = ["VelocityDetector", "InactivityDetector"]
