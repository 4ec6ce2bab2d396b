"""Project scaffolding for `eventyard new ...`."""

from eventyard.scaffold.operator import ScaffoldResult, new_operator

__all__ = ["new_operator", "ScaffoldResult"]
