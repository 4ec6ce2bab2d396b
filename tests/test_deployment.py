"""docker-compose.yml stays in step with the code (it cannot run here: no engine)."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pipelines import get_pipeline

REPO = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_compose_has_kafka_in_kraft_mode_topic_init_and_workers():
    services = COMPOSE["services"]
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    assert services["topic-init"]["command"] == ["topics", "create", "order_saga"]
    assert services["order-saga"]["command"][:2] == ["run", "order_saga"]


@pytest.mark.parametrize("service", ["topic-init", "order-saga"])
def test_compose_environment_is_accepted_by_the_settings(service, monkeypatch):
    for key, value in COMPOSE["services"][service]["environment"].items():
        monkeypatch.setenv(key, str(value))
    settings = get_pipeline("order_saga").settings()
    assert settings.kafka.bootstrap_servers == "kafka:9092"


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="Debian's docker-compose not installed")
def test_docker_compose_config_parses_the_file():
    subprocess.run(["docker-compose", "config", "-q"], cwd=REPO, check=True)
