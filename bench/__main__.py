"""`python -m bench [--quick] [--only NAME ...]`: run the measurements, write
bench/results/latest.json and regenerate the top of docs/benchmarks.md.

With --only, the named measurements replace their figures in the existing
latest.json (same scale), so one figure can be re-measured after a change.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from bench import ceiling, engine_only, latency, memory, profile, recovery, replay, saga_throughput, timers
from bench.open_state import Session
from bench.peers import quix_order_saga
from bench.report import update_doc
from bench.scale import FULL, QUICK, Scale
from bench.targets import build_rows
from eventyard.core.native import hot_path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
IMG = ROOT / "docs" / "img"

Outcome = tuple[dict[str, float], dict[str, list]]


def _plain(fn: Callable[[Scale], dict[str, float]]) -> Callable[[Scale, Session], Outcome]:
    return lambda scale, session: (fn(scale), {})


# Run in this order: memory, timers and recovery share one loaded deployment.
MEASUREMENTS: dict[str, Callable[[Scale, Session], Outcome]] = {
    "ceiling": _plain(ceiling.run),
    "engine": _plain(engine_only.run),
    "saga_throughput": _plain(saga_throughput.run),
    "latency": _plain(latency.run),
    "quix": _plain(quix_order_saga.run),
    "memory": memory.run,
    "timers": timers.run,
    "recovery": recovery.run,
    "replay": _plain(replay.run),
    "profile": lambda scale, session: profile.run(scale, RESULTS),
}


def _load_previous(scale: Scale) -> dict[str, Any] | None:
    path = RESULTS / "latest.json"
    if not path.exists():
        return None
    previous = orjson.loads(path.read_bytes())
    return previous if previous["meta"]["scale"] == scale.name else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, a few minutes")
    parser.add_argument("--only", action="append", choices=list(MEASUREMENTS), metavar="NAME",
                        help=f"run only this measurement (repeatable): {', '.join(MEASUREMENTS)}")
    parser.add_argument("--no-doc", action="store_true", help="write the JSON only")
    parser.add_argument("--report-only", action="store_true",
                        help="measure nothing: regenerate the doc and plots from latest.json")
    args = parser.parse_args(argv)
    if args.report_only:
        results = orjson.loads((RESULTS / "latest.json").read_bytes())
        note = (QUICK if results["meta"]["scale"] == QUICK.name else FULL).note
        results["rows"] = [r.to_json() for r in build_rows(results["figures"], results["meta"]["confluent_saga"], note)]
        (RESULTS / "latest.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
        update_doc(results, DOC, IMG)
        return 0
    scale = QUICK if args.quick else FULL
    names = args.only or list(MEASUREMENTS)
    previous = _load_previous(scale) if args.only else None
    figures: dict[str, float] = dict(previous["figures"]) if previous else {}
    series: dict[str, list] = dict(previous["series"]) if previous else {}
    errors: dict[str, str] = {k: v for k, v in (previous["meta"].get("errors", {}) if previous else {}).items()
                              if k not in names}
    durations: dict[str, float] = dict(previous["meta"].get("durations_s", {})) if previous else {}
    RESULTS.mkdir(parents=True, exist_ok=True)
    load_start = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    session = Session()
    try:
        for name in names:
            print(f"[bench] {name} ({scale.name}) ...", flush=True)
            started = time.monotonic()
            try:
                got, more = MEASUREMENTS[name](scale, session)
                figures.update(got)
                series.update(more)
            except Exception as exc:  # one failed measurement must not lose the others
                traceback.print_exc()
                errors[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            durations[name] = round(time.monotonic() - started, 1)
            print(f"[bench] {name} done in {durations[name]:.0f} s", flush=True)
    finally:
        session.close()
    confluent = saga_throughput.confluent_supported()
    notes = [scale.note,
             f"re-measured with --only {' '.join(names)}; the other figures are from the run before "
             f"({previous['meta']['date']})" if previous else "",
             "Quix Streams peer: no durable timers (deadlines checked on the next event of the order), "
             "no validation, no changelog topics; see bench/peers/quix_order_saga.py."]
    results = {
        "meta": {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "scale": scale.name, "cpus": os.cpu_count(), "load_start": load_start,
            "load_end": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
            "python": platform.python_version(), "hot_path": hot_path(), "confluent_saga": confluent,
            "measured": names if not previous else sorted(set(previous["meta"]["measured"]) | set(names)),
            "durations_s": durations, "errors": errors, "notes": notes,
        },
        "figures": figures,
        "series": series,
        "rows": [r.to_json() for r in build_rows(figures, confluent, scale.note)],
    }
    (RESULTS / "latest.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    if not args.no_doc:
        update_doc(results, DOC, IMG)
    for row in results["rows"]:
        print(f"  {row['measurement']}: {row['figure']}  [target {row['target']}: {row['met']}]")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
