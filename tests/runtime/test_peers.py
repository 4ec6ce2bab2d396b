"""PeerWatch: a worker cut off from its cluster notices and ends."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from eventyard.runtime.peers import PeerWatch, receiving_threads


def _counts(values: list[int]) -> tuple[Callable[[], int], threading.Event]:
    """A receiving-thread count that plays `values`, then repeats the last; the event
    is set once all were read."""
    played: Iterator[int] = iter(values)
    done = threading.Event()
    last = values[-1]

    def count() -> int:
        value = next(played, None)
        if value is None:
            done.set()
            return last
        return value

    return count, done


def _watch(values: list[int], stopping: Callable[[], bool] = lambda: False) -> tuple[threading.Event, threading.Event]:
    lost = threading.Event()
    count, done = _counts(values)
    PeerWatch(2, lost.set, stopping, interval=0.001, grace=0.01, count=count).start()
    return lost, done


def test_a_peer_lost_after_all_were_connected_ends_the_worker():
    lost, _ = _watch([0, 1, 2, 2, 1])
    assert lost.wait(10)


def test_peers_still_connecting_are_not_a_loss():
    lost, done = _watch([0, 1, 1, 1, 1] * 20)
    assert done.wait(10)
    assert not lost.is_set()


def test_a_loss_while_this_worker_is_stopping_is_its_peers_stopping_too():
    stopping = threading.Event()
    lost = threading.Event()
    count, _ = _counts([2, 2, 1])

    def count_then_stop() -> int:
        value = count()
        if value == 1:
            stopping.set()  # the peers' connections close because all are being stopped
        return value

    watch = PeerWatch(2, lost.set, stopping.is_set, interval=0.001, grace=0.01, count=count_then_stop).start()
    assert watch.join(10)
    assert not lost.is_set()


def test_this_process_has_no_receiving_threads_outside_a_cluster():
    assert receiving_threads() == 0
