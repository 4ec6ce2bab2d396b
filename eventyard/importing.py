"""Load an object named `package.module:attribute` (pipelines and operators by path)."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["import_path"]


def import_path(path: str) -> Any:
    """The object at `module:attr` (attr may be dotted); ImportError/AttributeError if absent."""
    module_name, _, attr = path.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    return target
