"""PeerWatch: a worker cut off from its cluster notices and ends."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from eventyard.runtime.peers import PeerWatch, cluster_threads, receiving_threads

Counts = tuple[int, int]  # timely's (receiving, sending) threads


def _counts(values: list[Counts]) -> tuple[Callable[[], Counts], threading.Event]:
    """Thread counts that play `values`, then repeat the last; the event is set once
    all were read."""
    played: Iterator[Counts] = iter(values)
    done = threading.Event()
    last = values[-1]

    def count() -> Counts:
        value = next(played, None)
        if value is None:
            done.set()
            return last
        return value

    return count, done


def _watch(values: list[Counts], stopping: Callable[[], bool] = lambda: False) -> tuple[threading.Event, threading.Event]:
    lost = threading.Event()
    count, done = _counts(values)
    PeerWatch(2, lost.set, stopping, interval=0.001, grace=0.01, count=count).start()
    return lost, done


def test_a_peer_lost_after_all_were_connected_ends_the_worker():
    lost, _ = _watch([(0, 0), (1, 1), (2, 2), (2, 2), (1, 1)])
    assert lost.wait(10)


def test_a_peer_lost_before_the_watch_first_looked_ends_the_worker():
    # The receiving thread was gone at the first look; the send thread stays behind.
    lost, _ = _watch([(1, 2)])
    assert lost.wait(10)


def test_peers_still_connecting_are_not_a_loss():
    lost, done = _watch([(0, 0), (1, 1), (1, 1), (1, 1), (1, 1)] * 20)
    assert done.wait(10)
    assert not lost.is_set()


def test_a_loss_while_this_worker_is_stopping_is_its_peers_stopping_too():
    stopping = threading.Event()
    lost = threading.Event()
    count, _ = _counts([(2, 2), (2, 2), (1, 2)])

    def count_then_stop() -> Counts:
        value = count()
        if value[0] == 1:
            stopping.set()  # the peers' connections close because all are being stopped
        return value

    watch = PeerWatch(2, lost.set, stopping.is_set, interval=0.001, grace=0.01, count=count_then_stop).start()
    assert watch.join(10)
    assert not lost.is_set()


def test_this_process_has_no_cluster_threads_outside_a_cluster():
    assert receiving_threads() == 0
    assert cluster_threads() == (0, 0)


def test_cluster_threads_counts_timelys_receiving_and_sending_threads_by_name(tmp_path):
    # /proc/PID/task/TID/comm as the kernel shows it: the thread's name and a newline.
    for tid, name in enumerate(["python", "timely:recv-1", "timely:recv-2", "timely:send-1", "timely:work-0"]):
        (tmp_path / str(tid)).mkdir()
        (tmp_path / str(tid) / "comm").write_text(name + "\n")
    (tmp_path / "99").mkdir()  # a thread that ended between the listing and the read
    assert cluster_threads(tmp_path) == (2, 1)
    assert receiving_threads(tmp_path) == 2
    assert cluster_threads(tmp_path / "missing") is None
