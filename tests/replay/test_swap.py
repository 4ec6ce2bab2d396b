"""Swapping rebuilt state in: the old state and recovery are kept, never overwritten."""

from pathlib import Path

import pytest

from eventyard.replay import swap


def _dir(path: Path, marker: str) -> Path:
    path.mkdir()
    (path / "marker").write_text(marker)
    return path


def test_swaps_in_the_same_second_keep_every_replaced_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(swap.time, "strftime", lambda fmt: "20261207T082336")  # every swap in one second
    live, recovery = tmp_path / "state", tmp_path / "recovery"
    _dir(live, "live 0")
    _dir(recovery, "recovery 0")
    backups = []
    for n in (1, 2, 3):
        backups.append(swap.swap_in(_dir(tmp_path / f"rebuilt{n}", f"live {n}"), live, recovery))
        _dir(recovery, f"recovery {n}")  # the next run writes its own
    assert [b.name for b in backups] == ["state.replaced-20261207T082336", "state.replaced-20261207T082336-2",
                                         "state.replaced-20261207T082336-3"]
    assert [(b / "marker").read_text() for b in backups] == ["live 0", "live 1", "live 2"]
    assert (live / "marker").read_text() == "live 3"
    kept = sorted(tmp_path.glob("recovery.replaced-*"))
    assert [(p / "marker").read_text() for p in kept] == ["recovery 0", "recovery 1", "recovery 2"]
