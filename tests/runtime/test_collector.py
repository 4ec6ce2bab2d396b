"""The worker's collector settings: cycles are still collected, between batches."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from eventyard.runtime.collector import BACKSTOP_THRESHOLD, YOUNG_THRESHOLD, collect_between_batches, settle_collector


class _Node:
    me: "_Node"


@pytest.fixture
def settled() -> Iterator[None]:
    """settle_collector() for one test, then the interpreter's settings as they were."""
    thresholds = gc.get_threshold()
    settle_collector()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def _cycle() -> weakref.ref[_Node]:
    node = _Node()
    node.me = node  # garbage only the collector can free once dropped
    return weakref.ref(node)


def _containers(n: int) -> list[dict[str, int]]:
    # A little over n: containers reused from an interpreter free list are not counted.
    return [{} for _ in range(n + n // 10)]


def test_a_cycle_is_collected_between_batches_once_enough_containers_were_made(settled):
    cycle = _cycle()
    collect_between_batches()
    assert cycle() is not None  # a few containers since the last collection: not yet
    batch = _containers(YOUNG_THRESHOLD)  # a batch's worth of live containers
    collect_between_batches()
    assert cycle() is None
    assert len(batch) >= YOUNG_THRESHOLD


def test_the_automatic_collector_stays_on_as_a_backstop(settled):
    assert gc.isenabled()
    assert gc.get_threshold()[0] == BACKSTOP_THRESHOLD
    cycle = _cycle()
    batch = [[] for _ in range(BACKSTOP_THRESHOLD + 1)]  # one batch that makes more than the backstop
    assert cycle() is None
    assert len(batch) == BACKSTOP_THRESHOLD + 1


def test_the_middle_and_oldest_generations_are_collected_in_turn(settled):
    gc.set_threshold(BACKSTOP_THRESHOLD, 2, 2)  # the middle after 3 young, all after 3 middle
    collected: list[int] = []
    callback = lambda phase, info: collected.append(info["generation"]) if phase == "stop" else None  # noqa: E731
    gc.callbacks.append(callback)
    try:
        for _ in range(13):
            batch = _containers(YOUNG_THRESHOLD)
            collect_between_batches()
            del batch
    finally:
        gc.callbacks.remove(callback)
    assert collected == [0, 0, 0, 1] * 3 + [2]
