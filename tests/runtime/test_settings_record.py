"""The settings record: what `replay` compares with the live run's settings."""

from __future__ import annotations

import pytest

from eventyard.runtime.settings_record import (RECORD_FILE, SettingsMismatchError, check_replay_settings,
                                               read_record, state_settings, write_record)


def test_a_replay_under_other_settings_is_refused_naming_each_difference(make_settings, tmp_path):
    live = make_settings(order_saga__payment_timeout="16m", state__max_parked="7")
    write_record(tmp_path / "state", live)
    replay = make_settings(order_saga__payment_timeout="30m", state__max_parked="100")
    with pytest.raises(SettingsMismatchError) as refused:
        check_replay_settings(tmp_path / "state", replay, accept=False)
    text = str(refused.value)
    assert ('order_saga.payment_timeout [EVENTYARD_ORDER_SAGA__PAYMENT_TIMEOUT]: live run "16m", this replay "30m"'
            in text)
    assert "state.max_parked [EVENTYARD_STATE__MAX_PARKED]: live run 7, this replay 100" in text
    assert "--accept-settings" in text
    accepted = check_replay_settings(tmp_path / "state", replay, accept=True)
    assert [d.name for d in accepted] == ["order_saga.payment_timeout", "state.max_parked"]


def test_the_same_settings_or_no_record_pass(make_settings, tmp_path):
    assert check_replay_settings(tmp_path / "state", make_settings(), accept=False) == []  # state predates it
    write_record(tmp_path / "state", make_settings())
    assert check_replay_settings(tmp_path / "state", make_settings(), accept=False) == []
    assert (tmp_path / "state" / RECORD_FILE).is_file()


def test_settings_that_change_no_decision_are_not_recorded(make_settings, tmp_path):
    write_record(tmp_path / "state", make_settings(kafka__bootstrap_servers="elsewhere:9092",
                                                   state__block_cache_mb="64", metrics__port="9100"))
    assert check_replay_settings(tmp_path / "state", make_settings(), accept=False) == []
    recorded = read_record(tmp_path / "state")
    assert recorded == state_settings(make_settings())
    assert {"pipeline.operators", "pipeline.orphan_timeout", "state.history_size"} <= recorded.keys()
