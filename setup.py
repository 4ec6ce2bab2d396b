"""The compiled hot path's build (pyproject.toml holds everything else).

Two kinds of extension, both optional (no compiler: the install goes on and the
same code runs as pure Python; `eventyard.core.native` says which ran):
- `eventyard.core._native`: typed Cython (cdef) twins of a few pure-Python functions;
- the engine's own modules, compiled from their unchanged `.py` source (COMPILED):
  the interpreter's per-line overhead is most of what the engine spends per event,
  and compiling the same source took ~15-18% of it (docs/benchmarks.md, session 18).
  No twin to keep in step: the `.py` file is the pure-Python path.

Each compiled module gets a sidecar holding the SHA-256 of the source it was built
from, so a module edited since its build is imported from source, with a warning,
instead of running stale (`eventyard.core.source_first`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# module -> source, where pyproject's package-dir puts it
COMPILED = {
    f"eventyard.operators.{name}": f"operators/{name}.py"
    for name in ("engine", "workflow_operator", "context", "workflow", "task", "merge", "operator_set",
                 "decode", "outputs", "held", "sequence")
}
SOURCE_HASH_SUFFIX = ".source-sha256"  # eventyard.core.source_first reads the same name


class BuildWithSourceHashes(build_ext):
    def build_extension(self, ext: Extension) -> None:
        super().build_extension(ext)
        _write_source_hash(ext.name, Path(self.get_ext_fullpath(ext.name)))

    def copy_extensions_to_source(self) -> None:  # editable installs: the build lands in the tree
        super().copy_extensions_to_source()
        build_py = self.get_finalized_command("build_py")
        for ext in self.extensions:
            inplace_file, regular_file = self._get_inplace_equivalent(build_py, ext)
            if Path(regular_file).exists():
                _write_source_hash(ext.name, Path(inplace_file))


def _from_source(name: str, source: str) -> Extension:
    ext = Extension(name, [source], optional=True)
    # Python's semantics, not Cython's reading of annotations as C types: a str
    # enum where `str` is annotated, a dict subclass where `dict` is, must pass.
    ext.cython_directives = {"annotation_typing": False}  # type: ignore[attr-defined]
    return ext


def _write_source_hash(name: str, built: Path) -> None:
    source = COMPILED.get(name)
    if source is not None:
        digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()
        built.with_name(Path(source).stem + SOURCE_HASH_SUFFIX).write_text(digest + "\n")


setup(
    ext_modules=[
        Extension("eventyard.core._native", ["eventyard/core/_native.pyx"], libraries=["crypto"],
                  define_macros=[("OPENSSL_SUPPRESS_DEPRECATED", "1")], optional=True),
        *(_from_source(name, source) for name, source in COMPILED.items()),
    ],
    cmdclass={"build_ext": BuildWithSourceHashes},
)
