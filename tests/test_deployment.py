"""docker-compose.yml stays in step with the code (it cannot run here: no engine)."""

import re
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from eventyard.observe import metrics as eventyard_metrics
from eventyard.pipelines import get_pipeline

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


# -- monitoring: Prometheus scrapes what the workers serve, Grafana queries what they export --

DASHBOARD = orjson.loads((REPO / "deploy/grafana/dashboards/eventyard.json").read_bytes())
PROMETHEUS = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text())

_SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}


def _exported_series() -> dict[str, set[str]]:
    """Series name -> label names, for every metric eventyard.observe.metrics defines."""
    series = {}
    for name in eventyard_metrics.__all__:
        collector = getattr(eventyard_metrics, name)
        if not isinstance(collector, MetricWrapperBase):
            continue
        labels = set(collector._labelnames)
        for suffix in _SUFFIXES[collector._type]:
            series[collector._name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return series


def _expressions() -> list[str]:
    return [t["expr"] for p in DASHBOARD["panels"] for t in p["targets"]]


def test_dashboard_queries_only_metrics_the_workers_export():
    known = _exported_series()
    for expr in _expressions():
        used = set(re.findall(r"\beventyard_[a-z0-9_]+", expr))
        assert used, f"no Eventyard metric in {expr!r}"
        assert used <= set(known), f"{expr!r} uses {used - set(known)}"
        # labels it groups by and selects on must exist on the metric it reads
        grouped = {label.strip() for group in re.findall(r"by \(([^)]*)\)", expr) for label in group.split(",")}
        selected = set(re.findall(r"([a-z_]+)=~?\"", expr))
        for name in used:
            assert grouped | selected <= known[name], f"{expr!r}: {name} has labels {known[name]}"


def test_dashboard_has_a_panel_for_every_signal_of_issue_7():
    exprs = " ".join(_expressions())
    for series in ("eventyard_events_in_total", "eventyard_events_out_total", "eventyard_open_workflows",
                   "eventyard_pending_timers", "eventyard_timer_lateness_seconds_bucket",
                   "eventyard_dead_letters_total", "eventyard_consumer_lag",
                   "eventyard_batch_latency_seconds_bucket", "eventyard_retries_total"):
        assert series in exprs
    assert {p["id"] for p in DASHBOARD["panels"]} == set(range(1, len(DASHBOARD["panels"]) + 1))


def test_dashboard_uses_the_provisioned_data_source():
    sources = yaml.safe_load((REPO / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    (source,) = sources["datasources"]
    assert source["url"] == "http://prometheus:9090" and "prometheus" in COMPOSE["services"]
    uids = {p["datasource"]["uid"] for p in DASHBOARD["panels"]}
    uids |= {t["datasource"]["uid"] for p in DASHBOARD["panels"] for t in p["targets"]}
    uids |= {v["datasource"]["uid"] for v in DASHBOARD["templating"]["list"]}
    assert uids == {source["uid"]}


def _worker_metrics_targets() -> set[str]:
    """host:port of every worker /metrics endpoint the compose file starts."""
    targets = set()
    for name, service in COMPOSE["services"].items():
        port = (service.get("environment") or {}).get("EVENTYARD_METRICS__PORT")
        if port is None:
            continue
        command = service["command"]
        flag = next((i for i, arg in enumerate(command) if arg in ("--processes", "-p")), None)
        processes = int(command[flag + 1]) if flag is not None else 1
        targets |= {f"{name}:{int(port) + n}" for n in range(processes)}  # worker N: port + N
    return targets


def test_prometheus_scrapes_every_worker_metrics_port_in_compose():
    scraped = {t for job in PROMETHEUS["scrape_configs"] for group in job["static_configs"]
               for t in group["targets"]}
    assert _worker_metrics_targets() == {"order-saga:9100", "order-saga:9101"}
    assert scraped == _worker_metrics_targets()
    # the dashboard's pipeline variable lists the pipelines of this job
    assert {job["job_name"] for job in PROMETHEUS["scrape_configs"]} == {"eventyard"}
    assert '{job=\\"eventyard\\"}' in orjson.dumps(DASHBOARD["templating"]).decode()


def test_monitoring_files_mounted_in_compose_exist():
    mounts = {}
    for service in ("prometheus", "grafana"):
        for volume in COMPOSE["services"][service]["volumes"]:
            source, target = volume.split(":")[:2]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{service} mounts missing {source}"
                mounts[target] = REPO / source
    assert mounts["/etc/prometheus/prometheus.yml"].is_file()
    for kind in ("datasources", "dashboards"):
        assert list((mounts["/etc/grafana/provisioning"] / kind).glob("*.yml"))
    provider = yaml.safe_load((REPO / "deploy/grafana/provisioning/dashboards/eventyard.yml").read_text())
    dashboards_dir = provider["providers"][0]["options"]["path"]
    assert (mounts[dashboards_dir] / "eventyard.json").is_file()
