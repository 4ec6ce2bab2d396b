"""Choosing the transport, translating settings to librdkafka, and the optional install."""

import subprocess
import sys

import pytest

from eventyard.config import KafkaSettings
from eventyard.core.errors import ConfigError
from eventyard.kafka import make_partition_reader, make_sink
from eventyard.kafka.transport import describe
from eventyard.kafka.confluent_client import common_config, consumer_config, producer_config
from eventyard.kafka.sink import KafkaSink
from tests.conftest import REPO


def test_kafka_python_is_the_default_and_env_selects_confluent(make_settings):
    assert make_settings().kafka.client == "kafka-python"
    assert make_settings(kafka__client="confluent").kafka.client == "confluent"


def test_an_unknown_client_is_refused_naming_the_key(make_settings):
    with pytest.raises(ConfigError) as err:
        make_settings(kafka__client="librdkafka")
    assert "kafka.client" in str(err.value) and "EVENTYARD_KAFKA__CLIENT" in str(err.value)


def test_plaintext_settings_translate_to_librdkafka_properties():
    config = common_config(KafkaSettings(bootstrap_servers="k1:9092,k2:9092", client_id="saga"))
    assert {k: v for k, v in config.items() if k != "logger"} == {
        "bootstrap.servers": "k1:9092,k2:9092", "client.id": "saga", "security.protocol": "plaintext"}


def test_sasl_and_ssl_settings_translate_to_librdkafka_properties(tmp_path):
    settings = KafkaSettings(
        security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512", sasl_username="svc",
        sasl_password="s3cret", ssl_cafile=tmp_path / "ca.pem", ssl_certfile=tmp_path / "cert.pem",
        ssl_keyfile=tmp_path / "key.pem")
    config = common_config(settings)
    assert config["security.protocol"] == "sasl_ssl"
    assert (config["sasl.mechanism"], config["sasl.username"], config["sasl.password"]) == (
        "SCRAM-SHA-512", "svc", "s3cret")
    assert config["ssl.ca.location"] == str(tmp_path / "ca.pem")
    assert config["ssl.certificate.location"] == str(tmp_path / "cert.pem")
    assert config["ssl.key.location"] == str(tmp_path / "key.pem")


def test_consumer_never_commits_and_does_not_stall_and_producer_lingers_as_configured():
    settings = KafkaSettings(linger="20ms", start_from="latest")
    consumer = consumer_config(settings, "order_saga")
    assert consumer["enable.auto.commit"] is False and consumer["enable.auto.offset.store"] is False
    assert consumer["fetch.queue.backoff.ms"] == 10  # DESIGN.md 6: 400-500 ms stalls otherwise
    # What a paused partition drops and fetches again is at most a fetch of it (1 MB by
    # default: a draining worker received 3x its input, benchmarks.md).
    assert consumer["max.partition.fetch.bytes"] <= 256 << 10
    assert consumer["auto.offset.reset"] == "latest"
    producer = producer_config(settings)
    assert producer["linger.ms"] == 20 and producer["acks"] == "all"


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_librdkafka_accepts_every_translated_property(protocol):
    """The real client validates property names and values at construction (no broker needed)."""
    ck = pytest.importorskip("confluent_kafka")
    sasl = {"sasl_mechanism": "SCRAM-SHA-256", "sasl_username": "u", "sasl_password": "p"}
    settings = KafkaSettings(bootstrap_servers="127.0.0.1:1", security_protocol=protocol,
                             **(sasl if protocol.startswith("SASL") else {}))
    ck.Consumer(consumer_config(settings, "order_saga")).close()
    producer = ck.Producer(producer_config(settings))
    assert producer.flush(0) == 0


def test_confluent_without_the_package_names_the_extra_to_install(monkeypatch):
    # None in sys.modules makes `import confluent_kafka` raise ImportError, as if absent.
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)
    settings = KafkaSettings(client="confluent")
    for build in (lambda: make_partition_reader(settings, "orders", 0, None, "order_saga"),
                  lambda: make_sink(settings, "order_saga")):
        with pytest.raises(ConfigError) as err:
            build()
        assert "pip install 'eventyard[fast]'" in str(err.value)


def test_kafka_python_transport_does_not_need_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)
    settings = KafkaSettings()
    assert isinstance(make_sink(settings, "order_saga"), KafkaSink)
    assert describe(settings).startswith("kafka-python ")


def test_eventyard_run_says_what_to_install_before_starting_workers(make_settings):
    make_settings(kafka__client="confluent", kafka__bootstrap_servers="127.0.0.1:1")  # env for the child
    hide = "import sys; sys.modules['confluent_kafka'] = None; from eventyard.cli.app import main; main()"
    result = subprocess.run([sys.executable, "-c", hide, "run", "order_saga"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "pip install 'eventyard[fast]'" in " ".join(result.stderr.split())


def test_producer_batches_follow_kafka_batch_bytes_on_both_transports(broker):
    from eventyard.kafka.sink import ProducerPool

    assert KafkaSettings().batch_bytes == 1_000_000  # kafka-python's own 16 KB split outputs into dozens of requests
    settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, batch_bytes=256 << 10)
    assert producer_config(settings)["batch.size"] == 256 << 10
    producer = ProducerPool.acquire(settings)
    try:
        assert producer.config["batch_size"] == 256 << 10
    finally:
        ProducerPool.release(settings)
