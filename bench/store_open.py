"""Opening every shard store after a SIGKILL, without Kafka or bytewax.

`python -m bench.store_open [--workflows N] [--shards S] [--threads T ...]`

A child process writes N open workflows' worth of keys (an instance, two timers,
a dedup mark and its expiry, an outbox entry) through `TaskStore` with the
process memory budget, the way a worker does, and is SIGKILLed mid-write so the
stores keep a WAL to replay. Each trial copies that directory and opens all
stores (sequentially or on a pool of T threads), then times the counts() scan
that `ShardRuntime.report` used to run on open. Wall and CPU seconds are
printed: the machine is shared, so CPU time and repeats are the steadier figures.
(rocksdict holds the GIL for most of an open: threads cut wall time ~30%, not
CPU time, and starve the thread that runs the dataflow, so workers do not use them.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from eventyard.state import TaskStore

__all__ = ["main"]

_WRITER = r"""
import os, sys, orjson
from pathlib import Path
from rocksdict import WriteBatch
from eventyard.state import TaskStore, keys
root, shards, workflows = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
stores = [TaskStore.open(root / f"shard-{s:05d}", s, create=True) for s in range(shards)]
value = orjson.dumps({"state": "awaiting_payment", "data": {"amount": 12.5, "items": ["x"] * 20}})
batches = [WriteBatch(raw_mode=True) for _ in stores]
for n in range(workflows):
    s = n % shards
    b, agg = batches[s], f"order-{n:08d}"
    b.put(keys.instance_key(agg), value)
    b.put(keys.timer_key(1_900_000_000_000 + n, agg, "reminder"), b"")
    b.put(keys.timer_key(1_900_000_100_000 + n, agg, "timeout"), b"")
    b.put(keys.seen_key(f"ev-{n}"), b"")
    b.put(keys.seen_expiry_key(1_800_000_000_000 + n, f"ev-{n}"), b"")
    b.put(keys.outbox_key(n + 1), orjson.dumps([1_800_000_000_000, {"topic": "t", "value": "v"}]))
    if n % (shards * 8) == shards * 8 - 1:
        for st, bb in zip(stores, batches):
            st.write(bb)
        batches = [WriteBatch(raw_mode=True) for _ in stores]
for st, bb in zip(stores, batches):
    st.write(bb)
print("written", flush=True)
sys.stdout.close()
os.kill(os.getpid(), 9)  # SIGKILL ourselves: no close, no flush
"""


def _write(root: Path, shards: int, workflows: int) -> None:
    proc = subprocess.run([sys.executable, "-c", _WRITER, str(root), str(shards), str(workflows)],
                          capture_output=True, text=True)
    if "written" not in proc.stdout or proc.returncode != -signal.SIGKILL:
        raise SystemExit(f"writer failed ({proc.returncode}): {proc.stderr[-2000:]}")


def _files(root: Path, suffix: str) -> tuple[int, float]:
    found = [p for p in root.rglob(f"*{suffix}") if p.is_file()]
    return len(found), sum(p.stat().st_size for p in found) / 2**20


def _open_on_pool(paths: dict[int, Path], threads: int) -> list[TaskStore]:
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(lambda item: TaskStore.open(item[1], item[0]), paths.items()))


def _trial(source: Path, shards: int, threads: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="store-open-") as tmp:
        root = Path(tmp) / "state"
        shutil.copytree(source, root)
        paths = {s: root / f"shard-{s:05d}" for s in range(shards)}
        wall, cpu = time.perf_counter(), time.process_time()
        if threads <= 1:
            stores = [TaskStore.open(p, s) for s, p in paths.items()]
        else:
            stores = _open_on_pool(paths, threads)
        opened = {"open_wall_s": time.perf_counter() - wall, "open_cpu_s": time.process_time() - cpu}
        wall, cpu = time.perf_counter(), time.process_time()
        for store in stores:
            store.counts()
        opened["counts_wall_s"] = time.perf_counter() - wall
        opened["counts_cpu_s"] = time.process_time() - cpu
        for store in stores:
            store.close()
    return opened


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store_open", description=__doc__)
    parser.add_argument("--workflows", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=256)
    parser.add_argument("--threads", type=int, action="append", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="store-open-src-") as tmp:
        source = Path(tmp) / "state"
        started = time.perf_counter()
        _write(source, args.shards, args.workflows)
        sst, wal = _files(source, ".sst"), _files(source, ".log")
        print(f"wrote {args.workflows} workflows in {time.perf_counter() - started:.1f} s: "
              f"{sst[0]} SST files {sst[1]:.0f} MB, {wal[0]} WAL files {wal[1]:.0f} MB "
              f"(load {os.getloadavg()[0]:.1f})", flush=True)
        for threads in args.threads or [1, 4]:
            for _ in range(args.repeat):
                got = _trial(source, args.shards, threads)
                print(f"threads={threads} " + " ".join(f"{k}={v:.2f}" for k, v in got.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
