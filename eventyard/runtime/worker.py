"""Entry point of one worker process: `python -m eventyard.runtime.worker`.

Started by PipelineSupervisor; not meant to be run by hand.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from bytewax.recovery import RecoveryConfig
from bytewax.run import cli_main

from eventyard.observe import metrics
from eventyard.core.errors import EventyardError
from eventyard.core.native import hot_path
from eventyard.importing import project_on_path
from eventyard.observe.logs import configure_logging
from eventyard.runtime.collector import settle_collector
from eventyard.runtime.heap import HeapTrimmer, limit_arenas, pin_mmap_threshold
from eventyard.runtime.peers import CUT_OFF, PeerWatch, cluster_threads, receiving_threads
from eventyard.pipelines import get_pipeline
from eventyard.runtime.flow import build_flow

log = logging.getLogger("eventyard.worker")

# A stop waits for the other processes of the cluster; one that stopped alone, or
# whose `eventyard run` was killed, would wait forever (before the supervisor's 30 s).
STOP_DEADLINE_S = 20.0
# How long a thread holds the GIL before one waiting for it may take it (Python's
# default is 5 ms), for the kafka-python transport in a cluster only. There
# bytewax's main thread asks for the GIL every millisecond to check for signals,
# beside kafka-python's own I/O threads, and each forced hand-over stalls the
# worker thread. Order saga, 2 processes, 4 alternated rounds: 7,140 -> 7,695
# events/s, 239 -> 220 us CPU/event (every round faster). Not applied elsewhere:
# 1 process on kafka-python ran 12% slower with it (its I/O threads waited), and
# confluent with 2 processes gained nothing (docs/benchmarks.md).
CLUSTER_GIL_SWITCH_S = 0.02
_stopping = threading.Event()
_stop_deferred = False  # a stop signal met Python code inside bytewax; signalled again
_RESIGNAL_S = 0.005
_deadline_armed = threading.Lock()  # taken once: the stop deadline's timer runs


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # bytewax stops on KeyboardInterrupt; make SIGTERM mean the same.
    global _stop_deferred
    if not _stopping.is_set():
        _stopping.set()
        _arm_stop_deadline()
    elif not _stop_deferred:
        # Already stopping. A stop from a terminal or a service manager signals the
        # whole group, and `eventyard run` then sends SIGTERM too: a second
        # KeyboardInterrupt would land in the middle of the shutdown (a Kafka
        # client's close, a bytewax callback) as a traceback or a Rust panic (issue 16).
        return
    if frame is not None and frame.f_code is not _main.__code__:
        # Python code runs here inside bytewax (the only worker of a single-process
        # run is on the main thread, where handlers run): raised now, bytewax would
        # report it as an error of `next_batch`, a Rust panic and exit 1. Signal
        # again a moment later, from another thread (from here the handler would
        # run again at once, inside itself); once the code returned to bytewax,
        # whose run loop checks for signals from `_main`'s frame, it raises there.
        _stop_deferred = True
        resignal = threading.Timer(_RESIGNAL_S, os.kill, (os.getpid(), signum))
        resignal.daemon = True
        resignal.start()
        return
    _stop_deferred = False
    raise KeyboardInterrupt


def _arm_stop_deadline() -> None:
    """End the process STOP_DEADLINE_S after the first stop signal (once)."""
    if _deadline_armed.acquire(blocking=False):
        overdue = threading.Timer(STOP_DEADLINE_S, _stop_overdue)
        overdue.daemon = True  # a clean stop ends the process before it fires
        overdue.start()


def _watch_stop_signals(peers: int) -> None:
    """A stop signal while the cluster forms ends the worker at once.

    bytewax connects the processes of a cluster in Rust, where Python's signal
    handler (`_interrupt`) cannot run until every peer is there: a worker asked to
    stop before its peers came up waited until `eventyard run` killed it (30 s), and
    would have waited forever without it. Python notes each signal in its wakeup fd
    even then; this thread reads it. Before the cluster forms no task store is open
    (they open once the dataflow runs), and ending then is as safe as a crash.
    Once it runs, the handler stops the worker as before; this only arms the deadline.
    """
    read, write = os.pipe()
    os.set_blocking(write, False)
    signal.set_wakeup_fd(write, warn_on_full_buffer=False)

    def watch() -> None:
        while signals := os.read(read, 64):
            if not {signal.SIGTERM, signal.SIGINT} & set(signals):
                continue
            counted = cluster_threads()
            if counted is not None and counted[1] < peers:  # a send thread per peer once connected
                log.info("worker %s stopped before its cluster formed", _process)
                _exit_now(0)
            _arm_stop_deadline()

    threading.Thread(target=watch, name="eventyard-stop-signals", daemon=True).start()


def _stop_overdue() -> None:
    log.warning("worker still stopping after %.0f s, waiting for other processes of the cluster; "
                "ending it (its state is kept as after a crash)", STOP_DEADLINE_S)
    _exit_now(0)


def _cut_off(process: int) -> None:
    log.error("worker %d: the connection to another process of the cluster is gone (it stopped or "
              "crashed); ending this one too, so that all can be started again together", process)
    _exit_now(CUT_OFF)


def _exit_now(code: int) -> None:
    # bytewax would wait for its worker thread forever; the state is crash-safe.
    logging.shutdown()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:  # noqa: B036 - pyo3's PanicException is a BaseException
        # A failed dataflow can leave bytewax's threads behind: the process would never
        # end and `eventyard run` would wait for it forever, so end it here (the state
        # is crash-safe). In a cluster the usual panic is a send to a peer that is gone
        # ("Send thread panic"): that is this process being cut off.
        peers = _cluster_peers
        if peers and not isinstance(exc, Exception) and (receiving_threads() or 0) < peers:
            _cut_off(_process)
        log.error("worker %d failed", _process, exc_info=exc)
        _exit_now(1)
        return 1  # not reached


_process = 0
_cluster_peers = 0


def _main(argv: list[str] | None = None) -> int:
    global _process, _cluster_peers
    parser = argparse.ArgumentParser(prog="eventyard-worker")
    parser.add_argument("pipeline")
    parser.add_argument("--process-id", type=int, default=None)
    parser.add_argument("--addresses", default=None, help="host:port;host:port;...")
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args(argv)
    process = _process = args.process_id or 0
    addresses = args.addresses.split(";") if args.addresses else None
    _cluster_peers = len(addresses) - 1 if addresses else 0
    configure_logging(worker=process)
    metrics.set_worker(args.process_id)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        project_on_path()  # `module:attribute` pipelines of the user's project
        definition = get_pipeline(args.pipeline)
        settings = definition.settings(args.config)
        # Before RocksDB's and bytewax's threads exist, so none gets an arena past the cap.
        limit_arenas(settings.state.malloc_arenas)
        pin_mmap_threshold(settings.state.malloc_mmap_threshold_kb << 10)
        HeapTrimmer(settings.state.malloc_trim_interval).start()
        flow = build_flow(definition, settings, process, len(addresses) if addresses else 1)
        if settings.metrics.port is not None:
            metrics.serve(settings.metrics.port + process)
        recovery = RecoveryConfig(str(settings.recovery.dir), settings.recovery.backup_interval)
        log.info("worker %s of %s starting (hot path: %s)", process, settings.name, hot_path())
        if addresses:
            _watch_stop_signals(len(addresses) - 1)
            PeerWatch(len(addresses) - 1, lambda: _cut_off(process), _stopping.is_set).start()
        settle_collector()
        if addresses and settings.kafka.client == "kafka-python":
            sys.setswitchinterval(CLUSTER_GIL_SWITCH_S)
        cli_main(
            flow,
            workers_per_process=1,
            process_id=args.process_id,
            addresses=addresses,
            epoch_interval=settings.recovery.snapshot_interval,
            recovery_config=recovery,
        )
    except KeyboardInterrupt:
        log.info("worker %s stopped", process)
        return 0
    except Exception as exc:
        if _stopping.is_set() and _caused_by(exc, KeyboardInterrupt):
            # bytewax 0.21's single-process run wraps the KeyboardInterrupt of its own
            # signal check ("signal received") and so misses its special case for it.
            log.info("worker %s stopped", process)
            return 0
        # bytewax wraps errors raised in operators; report ours by their message.
        cause = _eventyard_cause(exc)
        if cause is None:
            raise
        if not cause.logged:
            log.error("%s", cause)
        return 2
    return 0


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """An exception and its causes (explicit, else implicit), each once."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        yield exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__


def _caused_by(exc: BaseException | None, kind: type[BaseException]) -> bool:
    return any(isinstance(e, kind) for e in _chain(exc))


def _eventyard_cause(exc: BaseException | None) -> EventyardError | None:
    return next((e for e in _chain(exc) if isinstance(e, EventyardError)), None)


if __name__ == "__main__":
    sys.exit(main())
