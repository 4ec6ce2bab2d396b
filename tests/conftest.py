"""Fixtures are factories: each test builds exactly the parts it needs."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, settings


from eventyard.config import EventyardSettings
from eventyard.broker import EmbeddedBroker
from eventyard.demo.driver import TrafficDriver
from eventyard.demo.traffic import envelope_record
from eventyard.core.records import OutRecord, SourceMessage
from eventyard.operators.decode import Decoder, Inbound
from eventyard.operators.engine import WorkflowEngine
from eventyard.pipelines import get_pipeline
from eventyard.runtime.flow import build_engine
from eventyard.state import TaskStore

if TYPE_CHECKING:
    from eventyard.operators.task import Task

REPO = Path(__file__).resolve().parent.parent

# Pipeline transports (kafka.client). Tests marked `both_transports` run on each
# listed in EVENTYARD_TEST_TRANSPORTS, the rest on the first one listed.
TRANSPORTS = tuple(os.environ.get("EVENTYARD_TEST_TRANSPORTS", "kafka-python,confluent").split(","))


# Property tests here run real RocksDB stores and engines: an example can take
# longer than hypothesis's per-example deadline, and generation can stall when the
# box does (seen once in CI: one draw took 1.3 s). Neither is what they test. Their
# fixtures are factories, used afresh inside each example.
settings.register_profile("eventyard", deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("eventyard")


def pytest_configure(config: pytest.Config) -> None:
    # Tests press Ctrl-C on CLI processes (SIGINT). A shell without job control starts
    # background commands with SIGINT ignored, children inherit that, and Python then
    # installs no KeyboardInterrupt handler: `make test &` failed those tests. A handled
    # signal is reset to the default in children, so they get Python's handler back.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("both_transports") and "transport" in metafunc.fixturenames:
        metafunc.parametrize("transport", TRANSPORTS)


@pytest.fixture
def transport() -> str:
    return TRANSPORTS[0]


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta

    @property
    def ms(self) -> int:
        return int(self.now.timestamp() * 1000)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., EventyardSettings]:
    """Order saga settings with state under tmp_path; keyword args become env overrides."""

    def make(**env: str) -> EventyardSettings:
        monkeypatch.setenv("EVENTYARD_STATE__DIR", str(tmp_path / "state"))
        monkeypatch.setenv("EVENTYARD_RECOVERY__DIR", str(tmp_path / "recovery"))
        for key, value in env.items():
            monkeypatch.setenv(f"EVENTYARD_{key.upper()}", value)
        return get_pipeline("order_saga").settings()

    return make


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[Callable[..., TaskStore]]:
    opened: list[TaskStore] = []

    def make(task: int = 0, create: bool = True, name: str = "store") -> TaskStore:
        store = TaskStore.open(tmp_path / name / f"task-{task:05d}", task, create=create)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def make_task(make_settings: Callable[..., EventyardSettings], tmp_path: Path) -> Iterator[Callable[..., Task]]:
    """A task of the order saga over a real store on disk (under `root`, default the
    test's tmp_path); kwargs: env overrides, resume."""
    from eventyard.operators.merge import EventTimeMerge
    from eventyard.operators.task import Task, TaskSettings
    from eventyard.runtime.flow import build_decoder, build_operators

    made: list[Task] = []

    def make(number: int = 0, resume: dict[str, Any] | None = None, root: Path | None = None, **env: str) -> Task:
        settings = make_settings(**env)
        definition = get_pipeline("order_saga")
        store = TaskStore.open((root or tmp_path) / "tasks" / f"task-{number:05d}", number, create=True)
        task = Task(number, store, build_operators(definition, settings), build_decoder(definition, settings),
                    EventTimeMerge([(topic, number) for topic in definition.task_inputs(settings)]),
                    TaskSettings(settings.name, settings.pipeline.dead_letter),
                    emitted_seq=resume["outbox_seq"] if resume else 0, resumed=resume is not None)
        made.append(task)
        return task

    yield make
    for task in made:
        if not task.closed:
            task.close()


@pytest.fixture
def make_engine(make_settings: Callable[..., EventyardSettings], clock: FakeClock) -> Callable[..., WorkflowEngine]:
    def make(**env: str) -> WorkflowEngine:
        engine = build_engine(get_pipeline("order_saga"), make_settings(**env))
        engine.clock = clock
        return engine

    return make


@pytest.fixture
def make_message() -> Callable[..., SourceMessage]:
    """A SourceMessage from an OutRecord, with offsets counting up per partition."""
    offsets: dict[tuple[str, int], int] = {}

    def make(record: OutRecord, partition: int = 0, offset: int | None = None) -> SourceMessage:
        key = (record.topic, partition)
        offsets[key] = offset if offset is not None else offsets.get(key, -1) + 1
        return SourceMessage(record.topic, partition, offsets[key], record.key, record.value,
                             record.headers, 0)

    return make


@pytest.fixture
def make_inbound(make_settings: Callable[..., EventyardSettings], make_message) -> Callable[..., Inbound]:
    settings = make_settings()
    decoder = Decoder("order_saga", get_pipeline("order_saga").catalog,
                      settings.pipeline.max_event_bytes, settings.pipeline.max_hops)

    def make(record: OutRecord, **kw: int) -> Inbound:
        item = decoder(make_message(record, **kw))
        assert isinstance(item, Inbound), item
        return item

    return make


@pytest.fixture
def event() -> Callable[..., OutRecord]:
    """An order saga input event as it would arrive from Kafka."""

    def make(event_type: str, order_id: str = "o-1", event_id: str | None = None, **payload: object) -> OutRecord:
        topic = {"OrderPlaced": "orders", "PaymentReceived": "payments", "PaymentFailed": "payments",
                 "InventoryReserved": "inventory", "InventoryUnavailable": "inventory",
                 "ShipmentCreated": "shipping"}.get(event_type, "orders")
        return envelope_record(topic, event_type, order_id, payload, event_id or f"{order_id}-{event_type}")

    return make


# -- integration: a real broker over TCP, real worker processes -----------------------

@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A fresh embedded broker per test: topics and offsets never leak between tests."""
    with EmbeddedBroker(log_file=tmp_path / "broker.log") as running:
        yield running


@pytest.fixture
def live_settings(broker: EmbeddedBroker, make_settings, monkeypatch, transport: str) -> Callable[..., EventyardSettings]:
    """Settings pointing at the test broker, topics created; kwargs are env overrides."""
    from eventyard.kafka import create_topics

    def make(**env: str) -> EventyardSettings:
        monkeypatch.setenv("EVENTYARD_KAFKA__BOOTSTRAP_SERVERS", broker.bootstrap_servers)
        monkeypatch.setenv("EVENTYARD_KAFKA__CLIENT", transport)
        monkeypatch.setenv("EVENTYARD_RECOVERY__SNAPSHOT_INTERVAL", "1s")
        settings = make_settings(**env)
        create_topics(settings.kafka, get_pipeline("order_saga").topics(settings))
        return settings

    return make


class RunningPipeline:
    """`eventyard run` as a user starts it: a separate OS process tree."""

    def __init__(self, pipeline: str, processes: int, log: Path, transport: str,
                 args: tuple[str, ...] = (), env: dict[str, str] | None = None) -> None:
        self.log = log
        self.stopped = False
        full_env = {**os.environ, "PYTHONPATH": str(REPO), "EVENTYARD_LOG_LEVEL": "INFO",
                    "EVENTYARD_KAFKA__CLIENT": transport, **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "eventyard", "run", pipeline, "--processes", str(processes), *args],
            cwd=REPO, env=full_env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        )

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace").splitlines()[-30:]
            raise AssertionError(f"pipeline exited with {self.process.returncode}:\n" + "\n".join(tail))

    def stop(self, timeout: float = 60) -> int:
        self.stopped = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


class PipelineLauncher:
    """Starts pipelines; every one still running is stopped at teardown."""

    def __init__(self, logs: Path, transport: str) -> None:
        self.logs = logs
        self.transport = transport
        self.running: list[RunningPipeline] = []

    def __call__(self, processes: int = 2, pipeline: str = "order_saga", args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> RunningPipeline:
        """`eventyard run PIPELINE -p N *args`, with `env` on top of the test's environment."""
        run = RunningPipeline(pipeline, processes, self.logs / f"pipeline-{len(self.running)}.log",
                              self.transport, args, env)
        self.running.append(run)
        return run

    def settle(self, driver: "TrafficDriver", done: Callable[[], bool], timeout: float = 300) -> None:
        """Drive traffic until `done`, failing at once if a running pipeline dies."""

        def finished() -> bool:
            for run in self.running:
                if not run.stopped:
                    run.check_alive()
            return done()

        driver.run_until(finished, timeout)
        assert done(), dict(list(driver.mismatches().items())[:5])

    def stop_all(self) -> list[int]:
        return [run.stop() for run in self.running]


def committed_since_start(recovery_dir: Path) -> bool:
    """Has the latest bytewax execution committed an epoch, so that a restart resumes
    from its snapshot rather than from scratch? (bytewax's resume rule, read from the
    recovery partitions: the least of the workers' frontiers.)"""
    executions: list[tuple[int, int, int]] = []
    fronts: list[tuple[int, int, int]] = []
    for part in recovery_dir.glob("part-*.sqlite3"):
        db = sqlite3.connect(f"file:{part}?mode=ro", uri=True)
        try:
            executions += db.execute("SELECT ex_num, worker_count, resume_epoch FROM exs").fetchall()
            fronts += db.execute("SELECT ex_num, worker_index, worker_frontier FROM fronts").fetchall()
        except sqlite3.OperationalError:  # being created
            return False
        finally:
            db.close()
    if not executions:
        return False
    ex, workers, started_at = max(executions)
    reached = {w: f for e, w, f in fronts if e == ex}
    return len(reached) == workers and min(reached.values()) > started_at


def await_snapshot(settings: EventyardSettings, timeout: float = 60) -> None:
    """Wait until a running pipeline's progress is committed (see committed_since_start)."""
    deadline = time.monotonic() + timeout
    while not committed_since_start(settings.recovery.dir):
        assert time.monotonic() < deadline, "no bytewax epoch committed"
        time.sleep(0.1)


@pytest.fixture
def start_pipeline(tmp_path: Path, transport: str) -> Iterator[PipelineLauncher]:
    launcher = PipelineLauncher(tmp_path, transport)
    yield launcher
    launcher.stop_all()


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Processes a test starts (Popen arguments); any still running at teardown is
    killed, so a failed assertion never leaves one consuming or holding a store."""
    started: list[subprocess.Popen[str]] = []

    def start(args: list[str], **popen: Any) -> subprocess.Popen[str]:
        started.append(subprocess.Popen(args, text=True, **popen))
        return started[-1]

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture
def make_driver(broker: EmbeddedBroker) -> Iterator[Callable[..., TrafficDriver]]:
    """Traffic drivers, closed before the broker stops."""
    drivers: list[TrafficDriver] = []

    def make(settings: EventyardSettings, scenarios: list) -> TrafficDriver:
        drivers.append(TrafficDriver(settings, scenarios))
        return drivers[-1]

    yield make
    for driver in drivers:
        driver.close()
