"""Source or build: which file an Eventyard module with both is imported from.

setup.py compiles some of the engine's modules from their unchanged `.py` source
(the build sits beside the source) and writes, beside each build, the SHA-256 of
the source it compiled (`<module>.source-sha256`). `SourceFirst`, installed by
`eventyard/__init__.py` before anything else of Eventyard is imported, imports
the source instead of the build when

- the pure-Python path is asked for (`EVENTYARD_PURE_PYTHON=1`), or
- the source changed since the build (an edit, a `git pull` without a reinstall):
  the module runs from source, with a warning, instead of running stale.

Stdlib only: `import eventyard` must stay cheap (tests/test_public_api.py).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

__all__ = ["SourceFirst", "install_source_first", "pure_python_asked", "SOURCE_HASH_SUFFIX"]

SOURCE_HASH_SUFFIX = ".source-sha256"  # setup.py writes the same name
_OFF = frozenset({"", "0", "false", "no", "off"})


def pure_python_asked() -> bool:
    """EVENTYARD_PURE_PYTHON set to anything but empty, 0, false, no or off."""
    return os.environ.get("EVENTYARD_PURE_PYTHON", "").strip().lower() not in _OFF


class SourceFirst:
    """A meta-path finder: an Eventyard module with both a `.py` source and a compiled
    build is imported from source when the pure path is asked for, or when the build
    is not of this source (warned once per module). Everything else: normal import."""

    def __init__(self, pure: bool) -> None:
        self.pure = pure

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None,
                  ) -> importlib.machinery.ModuleSpec | None:
        if path is None or not fullname.startswith("eventyard."):
            return None
        name = fullname.rpartition(".")[2]
        for entry in path:
            source = Path(entry, name + ".py")
            if not source.is_file():
                continue
            builds = [Path(entry, name + suffix) for suffix in importlib.machinery.EXTENSION_SUFFIXES]
            if not any(build.is_file() for build in builds):
                return None  # nothing compiled: the normal import finds the source
            if not self.pure:
                if _built_from(source):
                    return None  # the normal import prefers the build
                warnings.warn(f"{fullname} changed since it was compiled: running its source; "
                              "reinstall eventyard to rebuild it", stacklevel=2)
            loader = importlib.machinery.SourceFileLoader(fullname, str(source))
            return importlib.util.spec_from_file_location(fullname, source, loader=loader)
        return None


def _built_from(source: Path) -> bool:
    recorded = source.with_name(source.stem + SOURCE_HASH_SUFFIX)
    try:
        digest = recorded.read_text().strip()
    except OSError:
        return False
    return digest == hashlib.sha256(source.read_bytes()).hexdigest()


def install_source_first() -> None:
    """Put `SourceFirst` ahead of the normal finders (once)."""
    if not any(isinstance(finder, SourceFirst) for finder in sys.meta_path):
        sys.meta_path.insert(0, SourceFirst(pure_python_asked()))
