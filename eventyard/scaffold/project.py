"""`eventyard new project NAME`: a project of the user's own, outside this repository.

    NAME/
      pyproject.toml        depends on eventyard; the YAML ships as package data
      README.md             install + run on the embedded broker; install + test
      NAME/__init__.py
      NAME/events.py        the event catalog
      NAME/pipeline.py      the workflow and PIPELINE (a PipelineDefinition)
      NAME/pipeline.yaml    its settings (PipelineDefinition.config)
      NAME/activity.py      one custom operator, wired into PIPELINE
      tests/test_workflow.py, tests/test_activity.py   the test kit, no broker
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from eventyard.scaffold.operator import TEMPLATES, ScaffoldError

__all__ = ["ProjectResult", "new_project"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# Never shadow what a project imports: the stdlib and Eventyard's own dependencies.
_TAKEN = {"eventyard", "test", "tests", "bytewax", "kafka", "pydantic", "typer", "rich", "orjson", "yaml"}


@dataclass(frozen=True)
class ProjectResult:
    root: Path
    files: list[Path]
    pipeline: str  # module:attribute for `eventyard run`


def _files(name: str) -> dict[str, str]:
    """target path (relative to the project root) -> template."""
    return {
        "pyproject.toml": "project/pyproject.toml.tmpl",
        "README.md": "project/README.md.tmpl",
        f"{name}/__init__.py": "project/package_init.py.tmpl",
        f"{name}/events.py": "project/events.py.tmpl",
        f"{name}/pipeline.py": "project/pipeline.py.tmpl",
        f"{name}/pipeline.yaml": "project/pipeline.yaml.tmpl",
        f"{name}/activity.py": "operator.py.tmpl",
        "tests/test_workflow.py": "project/test_workflow.py.tmpl",
        "tests/test_activity.py": "project/test_activity.py.tmpl",
    }


def _eventyard_version() -> str:
    from eventyard import __version__

    # a source tree that was never installed has no version to pin to
    return __version__ if __version__[0].isdigit() and "+" not in __version__ else "0.1"


def new_project(name: str, parent: Path, *, force: bool = False) -> ProjectResult:
    """Write the project `<parent>/<name>/`; refuse to overwrite unless `force`."""
    if not _NAME.match(name) or keyword.iskeyword(name) or name in _TAKEN:
        raise ScaffoldError(f"project name {name!r} must be a snake_case Python identifier that is not "
                            f"already a package it imports (e.g. approvals)")
    root = parent / name
    targets = {root / path: template for path, template in _files(name).items()}
    existing = [str(p) for p in targets if p.exists()]
    if existing and not force:
        raise ScaffoldError(f"{', '.join(existing)} already exist(s); pass --force to overwrite")
    values = {"name": name, "NAME": name.upper(), "eventyard_version": _eventyard_version()}
    # the operator is the one `eventyard new operator activity` writes
    operator = {"name": "activity", "Class": "Activity", "module": f"{name}.activity"}
    for target, template in targets.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        text = (TEMPLATES / template).read_text()
        target.write_text(Template(text).substitute(operator if template == "operator.py.tmpl" else values))
    return ProjectResult(root, list(targets), f"{name}.pipeline:PIPELINE")
