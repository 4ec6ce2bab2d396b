"""An Eventyard module with both a source and a build is imported from the build
only when that build is of this very source and the compiled path is wanted."""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import warnings

import pytest

from eventyard.core.source_first import SourceFirst


def _module_beside_its_build(folder, source="X = 1\n", recorded=None):
    (folder / "mod.py").write_text(source)
    (folder / ("mod" + importlib.machinery.EXTENSION_SUFFIXES[0])).write_bytes(b"not loaded by these tests")
    if recorded is not None:
        (folder / "mod.source-sha256").write_text(recorded + "\n")
    return str(folder)


def _loaded(spec):
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_build_of_the_current_source_is_left_to_the_normal_import(tmp_path):
    folder = _module_beside_its_build(tmp_path, recorded=hashlib.sha256(b"X = 1\n").hexdigest())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert SourceFirst(pure=False).find_spec("eventyard.probe.mod", [folder]) is None


@pytest.mark.parametrize("recorded", [hashlib.sha256(b"X = 0\n").hexdigest(), None], ids=["edited", "unrecorded"])
def test_a_module_changed_since_its_build_runs_from_source_with_a_warning(tmp_path, recorded):
    folder = _module_beside_its_build(tmp_path, recorded=recorded)
    with pytest.warns(UserWarning, match="eventyard.probe.mod changed since it was compiled"):
        spec = SourceFirst(pure=False).find_spec("eventyard.probe.mod", [folder])
    assert spec.origin == str(tmp_path / "mod.py")
    assert _loaded(spec).X == 1


def test_pure_python_imports_the_source_of_a_current_build_without_a_warning(tmp_path):
    folder = _module_beside_its_build(tmp_path, recorded=hashlib.sha256(b"X = 1\n").hexdigest())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = SourceFirst(pure=True).find_spec("eventyard.probe.mod", [folder])
    assert isinstance(spec.loader, importlib.machinery.SourceFileLoader)
    assert _loaded(spec).X == 1


def test_modules_without_a_build_or_outside_eventyard_are_left_alone(tmp_path):
    (tmp_path / "plain.py").write_text("X = 1\n")
    folder = _module_beside_its_build(tmp_path)
    finder = SourceFirst(pure=True)
    assert finder.find_spec("eventyard.probe.plain", [folder]) is None
    assert finder.find_spec("elsewhere.mod", [folder]) is None
    assert finder.find_spec("eventyard", None) is None
