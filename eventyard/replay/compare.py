"""Compare two state directories task by task, aggregate by aggregate."""

from __future__ import annotations

from dataclasses import dataclass, field

from eventyard.state import StateDirectory

__all__ = ["StateDiff", "compare_states"]


@dataclass
class StateDiff:
    compared: int = 0
    only_live: list[str] = field(default_factory=list)
    only_rebuilt: list[str] = field(default_factory=list)
    different: dict[str, list[str]] = field(default_factory=dict)  # aggregate -> differing fields

    @property
    def identical(self) -> bool:
        return not (self.only_live or self.only_rebuilt or self.different)


def compare_states(live: StateDirectory, rebuilt: StateDirectory) -> StateDiff:
    a, b = dict(live.read_instances()), dict(rebuilt.read_instances())
    diff = StateDiff(compared=len(a.keys() | b.keys()))
    diff.only_live = sorted(a.keys() - b.keys())
    diff.only_rebuilt = sorted(b.keys() - a.keys())
    for aggregate in sorted(a.keys() & b.keys()):
        fields = sorted(k for k in a[aggregate].keys() | b[aggregate].keys()
                        if a[aggregate].get(k) != b[aggregate].get(k))
        if fields:
            diff.different[aggregate] = fields
    return diff
