"""Example operators built on the public API (eventyard.operators.api); see docs/operators.md."""

from eventyard.operators.examples.inactivity import InactivityDetector
from eventyard.operators.examples.velocity import VelocityDetector

__all__ = ["VelocityDetector", "InactivityDetector"]
