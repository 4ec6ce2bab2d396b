from datetime import timedelta
from pathlib import Path

import pytest

from eventyard.config import parse_duration
from eventyard.core.errors import ConfigError
from eventyard.pipelines import get_pipeline


def test_yaml_defaults_are_loaded(make_settings):
    settings = make_settings()
    assert settings.pipeline.inputs == ["orders", "payments", "inventory", "shipping"]
    assert settings.pipeline.dead_letter == "order_saga.dlq"
    assert settings.order_saga.payment_timeout == timedelta(minutes=30)


def test_every_key_is_overridable_from_the_environment(make_settings, tmp_path: Path):
    settings = make_settings(
        kafka__bootstrap_servers="kafka-1:9092,kafka-2:9092",
        order_saga__payment_timeout="5s",
        order_saga__payment_reminder_after="2s",
        state__history_size="64",
        state__dir=str(tmp_path / "elsewhere"),
        recovery__dir=str(tmp_path / "rec"),
    )
    assert settings.kafka.client_options()["bootstrap_servers"] == ["kafka-1:9092", "kafka-2:9092"]
    assert settings.order_saga.payment_timeout == timedelta(seconds=5)
    assert settings.state.history_size == 64
    assert settings.state.dir == tmp_path / "elsewhere"
    assert settings.recovery.dir == tmp_path / "rec"


def test_invalid_value_fails_naming_the_key_and_its_variable(make_settings):
    with pytest.raises(ConfigError) as err:
        make_settings(order_saga__payment_timeout="soon")
    assert "order_saga.payment_timeout" in str(err.value)
    assert "EVENTYARD_ORDER_SAGA__PAYMENT_TIMEOUT" in str(err.value)
    assert "'soon'" in str(err.value)


def test_unknown_yaml_key_is_rejected(tmp_path: Path):
    path = tmp_path / "order_saga.yaml"
    path.write_text("pipeline: {inputs: [a], outputs: {commands: b}, dead_letter: c}\nstate: {shardz: 3}\n")
    with pytest.raises(ConfigError, match="state.shardz"):
        get_pipeline("order_saga").settings(path)


def test_sasl_needs_credentials(make_settings):
    with pytest.raises(ConfigError, match="sasl_mechanism, sasl_username and sasl_password"):
        make_settings(kafka__security_protocol="SASL_SSL")
    settings = make_settings(kafka__security_protocol="SASL_SSL", kafka__sasl_mechanism="SCRAM-SHA-512",
                             kafka__sasl_username="u", kafka__sasl_password="hunter2-secret",
                             kafka__ssl_cafile="/etc/ca.pem")
    options = settings.kafka.client_options()
    assert options["sasl_plain_password"] == "hunter2-secret" and options["ssl_cafile"] == "/etc/ca.pem"
    assert "hunter2-secret" not in repr(settings.kafka)  # secrets are not printed


def test_reminder_must_come_before_timeout(make_settings):
    with pytest.raises(ConfigError, match="payment_reminder_after must be shorter"):
        make_settings(order_saga__payment_reminder_after="1h")


@pytest.mark.parametrize("text,seconds", [("500ms", 0.5), ("5s", 5), ("15m", 900), ("2h", 7200),
                                          ("7d", 604800), (30, 30)])
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


def test_hold_timeouts_have_sensible_defaults(make_settings):
    pipeline = make_settings().pipeline
    assert pipeline.unexpected_timeout == pipeline.orphan_timeout == timedelta(hours=1)
    assert pipeline.reorder_timeout == timedelta(seconds=30)


def test_hold_timeouts_reach_the_workflow(make_settings):
    from eventyard.runtime.flow import build_engine

    settings = make_settings(pipeline__unexpected_timeout="5m", pipeline__reorder_timeout="2s")
    operator = build_engine(get_pipeline("order_saga"), settings).operator
    assert operator.unexpected_timeout == timedelta(minutes=5)
    assert operator.reorder_timeout == timedelta(seconds=2)


def test_a_key_of_the_shard_design_is_refused_with_what_replaced_it(make_settings):
    with pytest.raises(ConfigError, match=r"state.shards \[EVENTYARD_STATE__SHARDS\]: removed: state is kept per task"):
        make_settings(state__shards="256")


def test_the_store_budget_defaults_are_the_settings_defaults():
    # A store opened without settings (tools, tests) gets the budget a worker gets by default.
    from eventyard.config.settings import StateSettings
    from eventyard.state import memory

    state = StateSettings()
    assert state.record_cache == memory.DEFAULT_RECORDS
    assert state.memtable_budget_mb * memory.MB == memory.DEFAULT_MEMTABLES
    assert state.block_cache_mb * memory.MB == memory.DEFAULT_BLOCK_CACHE
