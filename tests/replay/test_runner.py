"""run_replay as a library call: what it refuses instead of hanging."""

from __future__ import annotations

import pytest

from eventyard.pipelines import get_pipeline
from eventyard.replay import run_replay
from eventyard.replay.runner import ReplayFailed


def test_a_parallel_replay_from_a_process_that_opened_a_store_is_refused_instead_of_hanging(
        live_settings, make_store, tmp_path):
    # RocksDB's background threads do not survive fork(): forked replay workers of a
    # process that opened a store wait forever on their first flush or close.
    settings = live_settings()
    make_store()
    with pytest.raises(ReplayFailed, match="do not survive fork"):
        run_replay(get_pipeline("order_saga"), settings, tmp_path / "rebuilt", processes=2)
