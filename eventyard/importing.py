"""Load an object named `package.module:attribute` (pipelines and operators by path)."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

__all__ = ["import_path", "project_on_path", "python_module_command"]


def python_module_command(module: str) -> list[str]:
    """`python -m module` for a child process, with this interpreter."""
    return [sys.executable, "-m", module]


def project_on_path() -> None:
    """Let `module:attribute` pipelines and YAML operators live in the user's project
    directory (the working directory), as with `python -m`. Everything of
    Eventyard's lives under `eventyard.`, so a project's own `config` or `state`
    package cannot shadow it."""
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())


def import_path(path: str) -> Any:
    """The object at `module:attr` (attr may be dotted); ImportError/AttributeError if absent."""
    module_name, _, attr = path.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    return target
