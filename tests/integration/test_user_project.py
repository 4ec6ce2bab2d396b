"""A user's project, built against an installed Eventyard wheel, outside this repo.

What it proves (issue 17): this checkout builds a wheel whose only top-level package
is `eventyard`; installed NON-editable into a fresh venv, it scaffolds a project
(`eventyard new project`) that also has top-level `config` and `state` packages of
its own; the project's tests pass; and its pipeline runs end to end on the embedded
broker: events in, commands out, one dead letter, `replay --verify` identical, with
every command reading the project's own YAML by `module:ATTRIBUTE`.

How the fresh venv gets its dependencies, honestly and offline: eventyard itself is
installed from the built wheel with `--no-deps` into a `--without-pip` venv; the
dependencies (bytewax, kafka-python, pytest, ...) come from this test venv's
site-packages through one `.pth` line. A path added by a `.pth` line is not a site
directory, so the `.pth` files in it, the editable install's import hook among
them, are never run: the checkout is not importable there, which the test asserts
(`eventyard.__file__` lies in the fresh venv). The wheel is built with
`--no-build-isolation` from a copy of the source tree, using this venv's setuptools
(the dev extra), so no index is needed and the checkout gets no build/ litter.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest
from kafka import KafkaProducer

from eventyard.config import KafkaSettings
from eventyard.demo.traffic import envelope_record
from tests.conftest import REPO
from tests.integration.test_dlq_commands import read_topic

pytestmark = pytest.mark.integration

# What the wheel is built from: the package folders and the metadata files.
SOURCES = ("pyproject.toml", "setup.py", "README.md", "eventyard", "config", "state", "operators", "pipelines")
# what a build left in this checkout: the wheel must make its own
BUILD_PRODUCTS = shutil.ignore_patterns("__pycache__", "*.so", "*.c", "*.source-sha256")


def build_wheel(work: Path) -> Path:
    source = work / "src"
    for name in SOURCES:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=BUILD_PRODUCTS)
        else:
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "-w", str(work / "dist"), str(source)], check=True, capture_output=True)
    (wheel,) = (work / "dist").glob("eventyard-*.whl")
    return wheel


def compiler_here() -> bool:
    """This checkout's install built the compiled hot path (so a wheel build can too)."""
    return importlib.util.find_spec("eventyard.core._native") is not None


def fresh_venv(work: Path, wheel: Path) -> Path:
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True, capture_output=True)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "_eventyard_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def clean_env(**extra: str) -> dict[str, str]:
    """The user's shell: no PYTHONPATH into this checkout, no EVENTYARD_ settings of the test run."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("EVENTYARD_")}
    return {**env, **extra}


def test_a_scaffolded_project_runs_on_an_installed_wheel(tmp_path: Path, broker, spawn):
    wheel = build_wheel(tmp_path / "build")
    top_level = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"eventyard"}

    venv = fresh_venv(tmp_path, wheel)
    bin_dir = venv / "bin"
    where = subprocess.run([str(bin_dir / "python"), "-c", "import eventyard; print(eventyard.__file__)"],
                           cwd=tmp_path, env=clean_env(), capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(venv)), where  # the wheel, not this checkout
    if compiler_here():  # the wheel compiled the engine and nothing made it fall back to source
        version = subprocess.run([str(bin_dir / "eventyard"), "--version"], cwd=tmp_path, env=clean_env(),
                                 capture_output=True, text=True, check=True)
        assert "(hot path: compiled)" in version.stdout, version.stdout + version.stderr

    def eventyard(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(bin_dir / "eventyard"), *args], cwd=project, env=clean_env(**env),
                              capture_output=True, text=True, timeout=300)

    project = tmp_path
    made = eventyard("new", "project", "approvals")
    assert made.returncode == 0, made.stderr
    project = tmp_path / "approvals"
    # The project's own top-level `config` and `state` packages, imported by its pipeline.
    for own in ("config", "state"):
        (project / own).mkdir()
        (project / own / "__init__.py").write_text('OWNER = "approvals"\n')
    init = project / "approvals" / "__init__.py"
    init.write_text(init.read_text() + "import config, state  # the project's own, next to eventyard's\n"
                    "assert config.OWNER == state.OWNER == 'approvals'\n")

    tests = subprocess.run([str(bin_dir / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                           cwd=project, env=clean_env(), capture_output=True, text=True, timeout=300)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout

    pipeline = "approvals.pipeline:PIPELINE"
    env = {"EVENTYARD_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap_servers,
           "EVENTYARD_RECOVERY__SNAPSHOT_INTERVAL": "1s"}
    created = eventyard("topics", "create", pipeline, **env)
    assert created.returncode == 0, created.stderr
    assert "created  approvals.requests" in created.stdout and "created  approvals.dlq" in created.stdout

    log = tmp_path / "run.log"
    with log.open("w") as out:
        run = spawn([str(bin_dir / "eventyard"), "run", pipeline], cwd=project, env=clean_env(**env),
                    stdout=out, stderr=subprocess.STDOUT)
    kafka = SimpleNamespace(kafka=KafkaSettings(bootstrap_servers=broker.bootstrap_servers))
    producer = KafkaProducer(**kafka.kafka.client_options())
    try:
        for record in (
            envelope_record("approvals.requests", "RequestSubmitted", "req-1", {"requester": "ada", "amount": 120.0}, "e1"),
            envelope_record("approvals.approvals", "RequestApproved", "req-1", {"approver": "bob"}, "e2"),
            envelope_record("approvals.requests", "RequestSubmitted", "req-2", {"requester": "cy", "amount": 5.0}, "e3"),
            envelope_record("approvals.approvals", "RequestRejected", "req-2", {"approver": "bob", "reason": "no"}, "e4"),
        ):
            producer.send(record.topic, key=record.key, value=record.value)
        producer.send("approvals.requests", key=b"req-3", value=b"not json")
        producer.flush()
    finally:
        producer.close()

    def commands_of(records: list) -> list[tuple[str, str]]:
        envelopes = [orjson.loads(r.value) for r in records]
        return sorted((e["aggregate_id"], e["type"]) for e in envelopes)

    expected = [("req-1", "AskApproval"), ("req-1", "FulfilRequest"), ("req-1", "NotifyRequester"),
                ("req-2", "AskApproval"), ("req-2", "NotifyRequester")]
    commands = read_topic(kafka, "approvals.commands", until=lambda got: len(got) >= len(expected))
    assert commands_of(commands) == expected, log.read_text()
    closed = read_topic(kafka, "approvals.events", until=lambda got: len(got) >= 2)
    assert sorted(orjson.loads(r.value)["payload"]["outcome"] for r in closed) == ["approved", "rejected"]
    (dead,) = read_topic(kafka, "approvals.dlq", until=lambda got: len(got) >= 1)
    assert dead.key == b"req-3" and dead.value == b"not json"  # the original bytes
    assert dict(dead.headers)["eventyard.error.reason"] == b"invalid_json"
    assert run.poll() is None, log.read_text()

    shown = eventyard("state", "show", pipeline, "req-1", "--json", **env)
    assert shown.returncode == 0, shown.stderr
    assert orjson.loads(shown.stdout)["instance"]["state"] == "approved"
    stats = eventyard("dlq", "stats", pipeline, "--json", **env)
    assert stats.returncode == 0 and orjson.loads(stats.stdout)["total"] == 1, stats.stdout + stats.stderr

    run.send_signal(signal.SIGTERM)
    assert run.wait(timeout=120) == 0, log.read_text()
    verified = eventyard("replay", pipeline, "--verify", **env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "identical:" in verified.stdout
    assert (project / "var" / "approvals" / "state").is_dir()  # the project's YAML placed it
