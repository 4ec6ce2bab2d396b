"""docs/operators.md, followed literally: every file it shows and every command it runs."""

import re
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from eventyard.kafka.reader import read_topic
from tests.conftest import REPO

DOC = REPO / "docs" / "operators.md"
EVENTYARD = str(Path(sys.executable).parent / "eventyard")


def _doc_files() -> dict[str, str]:
    """Code blocks preceded by `<!-- file: PATH -->`."""
    pattern = re.compile(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", re.S)
    return dict(pattern.findall(DOC.read_text()))


def _run(args: list[str], cwd: Path, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's project after steps 1-4: the skeleton generated, then the doc's files written."""
    made = _run([EVENTYARD, "new", "operator", "spending_limit", "--dir", "my_ops"], tmp_path)
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines()[:2] == ["wrote my_ops/spending_limit.py", "wrote tests/test_spending_limit.py"]
    skeleton = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], tmp_path)
    assert "2 passed" in skeleton.stdout, skeleton.stdout + skeleton.stderr
    files = _doc_files()
    assert set(files) == {"my_ops/spending_limit.py", "tests/test_spending_limit.py", "my_order_saga.yaml",
                          "send_orders.py", "watch_events.py"}
    for path, text in files.items():
        (tmp_path / path).write_text(text)
    return tmp_path


def test_the_docs_operator_passes_the_docs_tests(project):
    tested = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_spending_limit.py"],
                  project)
    assert "2 passed" in tested.stdout, tested.stdout + tested.stderr


@pytest.mark.integration
def test_the_docs_operator_runs_in_the_order_saga_pipeline(project, broker, monkeypatch):
    monkeypatch.setenv("EVENTYARD_KAFKA__BOOTSTRAP_SERVERS", broker.bootstrap_servers)
    created = _run([EVENTYARD, "topics", "create", "order_saga", "--config", "my_order_saga.yaml"], project)
    assert created.returncode == 0, created.stderr
    log = (project / "run.log").open("wb")
    run = subprocess.Popen([EVENTYARD, "run", "order_saga", "--config", "my_order_saga.yaml"], cwd=project,
                           stdout=log, stderr=subprocess.STDOUT)
    try:
        sent = _run([sys.executable, "send_orders.py"], project)
        assert sent.stdout.strip() == "sent 2 orders", sent.stderr
        watched = _run([sys.executable, "watch_events.py"], project)
        assert watched.stdout.strip() == "SpendingLimitExceeded c-42 1100.0", (
            watched.stderr + (project / "run.log").read_text())
        from eventyard.config import KafkaSettings
        commands = [orjson.loads(m.value) for m in read_topic(KafkaSettings(bootstrap_servers=broker.bootstrap_servers),
                                                                "order-commands")]
        assert sorted((c["aggregate_id"], c["type"]) for c in commands) == [
            ("doc-order-0", "ChargePayment"), ("doc-order-0", "ReserveInventory"),
            ("doc-order-1", "ChargePayment"), ("doc-order-1", "ReserveInventory")]
    finally:
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=60) == 0
