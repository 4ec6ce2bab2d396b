"""`eventyard new operator NAME`: a working operator module and its test, to edit."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from eventyard.core.errors import EventyardError

__all__ = ["new_operator", "ScaffoldResult", "ScaffoldError"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ScaffoldError(EventyardError):
    """The requested files cannot be written as asked."""


@dataclass(frozen=True)
class ScaffoldResult:
    module: Path
    test: Path
    import_path: str  # for pipeline.operators[].use


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def new_operator(name: str, package_dir: Path, tests_dir: Path, *, force: bool = False) -> ScaffoldResult:
    """Write `<package_dir>/<name>.py` and `<tests_dir>/test_<name>.py`."""
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise ScaffoldError(f"operator name {name!r} must be a snake_case Python identifier, e.g. fraud_watch")
    module, test = package_dir / f"{name}.py", tests_dir / f"test_{name}.py"
    existing = [str(p) for p in (module, test) if p.exists()]
    if existing and not force:
        raise ScaffoldError(f"{', '.join(existing)} already exist(s); pass --force to overwrite")
    package = ".".join(package_dir.parts) if not package_dir.is_absolute() and package_dir.parts != (".",) else ""
    import_module = f"{package}.{name}" if package else name
    values = {"name": name, "Class": _camel(name), "module": import_module}
    for target, template in ((module, "operator.py.tmpl"), (test, "test_operator.py.tmpl")):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(Template((TEMPLATES / template).read_text()).substitute(values))
    return ScaffoldResult(module, test, f"{import_module}:{values['Class']}")
