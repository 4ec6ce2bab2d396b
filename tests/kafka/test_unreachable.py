"""No broker at the configured address: one EventyardError naming it, on either transport."""

import pytest

from eventyard.config import KafkaSettings
from eventyard.core.errors import KafkaUnavailableError
from eventyard.kafka import confluent_source, make_source
from eventyard.ports import free_ports


@pytest.mark.parametrize("transport", ["kafka-python", "confluent"])
def test_an_unreachable_broker_is_one_clear_error(transport, monkeypatch):
    # kafka-python gives up after its own bootstrap timeout (30 s); librdkafka's wait is ours.
    monkeypatch.setattr(confluent_source, "_METADATA_TIMEOUT_S", 2)
    settings = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_ports()[0]}", client=transport)
    with pytest.raises(KafkaUnavailableError, match=r"cannot use Kafka at 127\.0\.0\.1:\d+: .*bootstrap_servers"):
        make_source(settings, ["orders"], "order_saga").list_parts()
