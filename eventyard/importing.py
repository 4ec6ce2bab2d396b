"""Load an object named `package.module:attribute` (pipelines and operators by path)."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["import_path", "project_on_path", "python_module_command", "PACKAGE_ROOT"]

# The directory holding Eventyard's top-level packages (site-packages, or a checkout).
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def python_module_command(module: str) -> list[str]:
    """`python -m module` for a child process, immune to the working directory.

    `-P` keeps the working directory off the front of sys.path, where a project's
    own `config` or `state` package would shadow Eventyard's; not needed (and it
    would hide the packages) when the working directory is where they live.
    """
    safe = [] if Path.cwd().resolve() == PACKAGE_ROOT else ["-P"]
    return [sys.executable, *safe, "-m", module]


def project_on_path() -> None:
    """Let `module:attribute` pipelines and YAML operators live in the user's project
    directory (the working directory), as with `python -m`. Appended, after
    Eventyard's own packages were imported, so a project's `config/` or `state/`
    never shadows them."""
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())


def import_path(path: str) -> Any:
    """The object at `module:attr` (attr may be dotted); ImportError/AttributeError if absent."""
    module_name, _, attr = path.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    return target
