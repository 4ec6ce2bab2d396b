"""Rebuild a pipeline's state from its input topics (`eventyard replay`)."""

from eventyard.replay.compare import StateDiff, compare_states
from eventyard.replay.decisions import DecisionLog
from eventyard.replay.rebuild import Rebuilder
from eventyard.replay.runner import run_replay

__all__ = ["DecisionLog", "Rebuilder", "StateDiff", "compare_states", "run_replay"]
