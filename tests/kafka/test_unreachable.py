"""No broker at the configured address: one EventyardError naming it, on either transport."""

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from eventyard.config import KafkaSettings
from eventyard.core.errors import KafkaUnavailableError
from eventyard.kafka import partition_counts
from eventyard.kafka.reachability import require_reachable
from eventyard.ports import free_ports
from tests.conftest import REPO


def test_an_unreachable_broker_is_one_clear_error():
    # Past the fail-fast check (below), the metadata client's own error names the address.
    settings = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_ports()[0]}")
    with pytest.raises(KafkaUnavailableError, match=r"cannot use Kafka at 127\.0\.0\.1:\d+: .*bootstrap_servers"):
        partition_counts(settings, ["orders"])


# -- fail fast (issue 16): every command, within kafka.connect_timeout -------------------


def test_no_server_at_any_address_names_them_and_the_settings():
    port = free_ports()[0]
    settings = KafkaSettings(bootstrap_servers=f"127.0.0.1:{port},no-such-host.invalid:9092",
                             connect_timeout=timedelta(seconds=2))
    with pytest.raises(KafkaUnavailableError) as failed:
        require_reachable(settings)
    text = str(failed.value)
    assert f"cannot reach Kafka at 127.0.0.1:{port},no-such-host.invalid:9092" in text
    assert f"127.0.0.1:{port}: Connection refused" in text and "no-such-host.invalid:9092: " in text
    assert "kafka.bootstrap_servers [EVENTYARD_KAFKA__BOOTSTRAP_SERVERS]" in text
    assert "kafka.connect_timeout [EVENTYARD_KAFKA__CONNECT_TIMEOUT] (now 2s)" in text


def test_one_reachable_server_is_enough(broker):
    port = free_ports()[0]
    require_reachable(KafkaSettings(bootstrap_servers=f"127.0.0.1:{port},{broker.bootstrap_servers}"))


@pytest.mark.parametrize("command", [["run", "order_saga"], ["topics", "create", "order_saga"],
                                     ["dlq", "stats", "order_saga"], ["dlq", "redrive", "order_saga"],
                                     ["replay", "order_saga"]])
def test_each_command_fails_fast_and_says_which_setting(command, tmp_path):
    port = free_ports()[0]
    env = {**os.environ, "PYTHONPATH": str(REPO), "EVENTYARD_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
           "EVENTYARD_STATE__DIR": str(tmp_path / "state"), "EVENTYARD_RECOVERY__DIR": str(tmp_path / "rec")}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "eventyard", *command], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started
    assert result.returncode == 2, result.stdout + result.stderr
    text = " ".join(result.stderr.split())
    assert f"cannot reach Kafka at 127.0.0.1:{port}" in text and "EVENTYARD_KAFKA__BOOTSTRAP_SERVERS" in text
    # The documented bound is 5 s (kafka.connect_timeout); generous here for a loaded CI machine.
    assert took < 15, took
