"""Project scaffolding for `eventyard new ...`."""

from eventyard.scaffold.operator import ScaffoldError, ScaffoldResult, new_operator
from eventyard.scaffold.project import ProjectResult, new_project

__all__ = ["new_operator", "new_project", "ScaffoldResult", "ProjectResult", "ScaffoldError"]
