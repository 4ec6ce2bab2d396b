"""Render a results JSON into the generated section of docs/benchmarks.md and
PNG plots under docs/img/. The hand-written history below the section is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["render_section", "splice", "write_plots", "update_doc", "START", "END"]

START = "<!-- bench:generated:start (bench/report.py rewrites this section; edit below it) -->"
END = "<!-- bench:generated:end -->"


def _mark(met: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "–"}[met]


def _load_note(meta: dict[str, Any]) -> str:
    """How far to trust absolute figures, from the 1-minute load at start and end."""
    loads = [float(meta[k].split(",")[0]) for k in ("load_start", "load_end") if meta.get(k)]
    if loads and max(loads) <= 0.75 * meta["cpus"]:
        return ("A quiet box (nothing else running): absolute figures are this machine's; "
                "ratios measured in the same run are still what to compare.")
    return ("**A busy box** (load near or above the core count): other work shared the cores, "
            "so absolute figures are low and noisy; ratios measured in the same run are what to compare.")


def render_section(results: dict[str, Any], plots: list[str] = ()) -> str:
    meta = results["meta"]
    lines = [
        START,
        "## Latest run (generated)",
        "",
        f"`make bench` on {meta['date']}, scale **{meta['scale']}**"
        + (" (figures scaled down: see notes)" if meta["scale"] != "full" else "")
        + f", {meta['cpus']} cores, load average (1, 5, 15 min) {meta['load_start']} at start"
        + (f" and {meta['load_end']} at the end" if meta.get("load_end") else "") + ". "
        + (f"Hot path: {meta['hot_path']}. " if meta.get("hot_path") else "")
        + _load_note(meta),
        "",
        "| measurement | figure | target | met? |",
        "|---|---|---|---|",
    ]
    for row in results["rows"]:
        note = f" ({row['note']})" if row["note"] else ""
        lines.append(f"| {row['measurement']}{note} | {row['figure']} | {row['target']} | {_mark(row['met'])} |")
    if meta.get("errors"):
        lines += ["", "Measurements that failed in this run:", ""]
        lines += [f"- `{name}`: {error}" for name, error in meta["errors"].items()]
    if meta.get("notes"):
        lines += ["", "Notes on this run:", ""]
        lines += [f"- {note}" for note in meta["notes"] if note]
    profile = results.get("series", {}).get("profile")
    if profile:
        lines += ["", "### Where the order-saga worker spends its time (py-spy, generated)", "",
                  f"{profile['samples'][0][1]:,} samples of a worker draining a backlog, after start-up. "
                  "Share of all samples; inclusive counts a function once per stack. The engine's "
                  "compiled modules have no Python frame: their time counts as their nearest Python "
                  "caller's (a worker run with EVENTYARD_PURE_PYTHON=1 shows them).", "",
                  "| self time | % | inclusive | % |", "|---|---|---|---|"]
        for (s_name, s_pct), (i_name, i_pct) in zip(profile["self"], profile["inclusive"]):
            lines.append(f"| `{s_name}` | {s_pct} | `{i_name}` | {i_pct} |")
    if plots:
        lines.append("")
        lines += [f"![{Path(p).stem}]({p})" for p in plots]
    lines += ["", "Raw figures: `bench/results/latest.json`. Run: `make bench` (full) or "
              "`.venv/bin/python -m bench --quick [--only NAME]`.", END]
    return "\n".join(lines) + "\n"


def splice(doc: str, section: str) -> str:
    """Replace the generated section; the first time, insert it under the title."""
    if START in doc and END in doc:
        head, rest = doc.split(START, 1)
        return head + section.rstrip("\n") + rest.split(END, 1)[1]
    title, _, body = doc.partition("\n")
    if not title.startswith("# "):
        return section + "\n" + doc
    return f"{title}\n\n{section}\n## Earlier measurements (hand-written)\n{body}"


def write_plots(results: dict[str, Any], img_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img_dir.mkdir(parents=True, exist_ok=True)
    f, series, written = results["figures"], results.get("series", {}), []
    bars = [(label, f.get(key)) for label, key in (
        ("kafka-python\nconsume-only", "consume_only.kafka-python"),
        ("kafka-python\nplain loop", "ceiling.kafka-python"),
        ("saga kafka-python\n1 process", "saga.kafka-python.1p"),
        ("saga kafka-python\n2 processes", "saga.kafka-python.2p"),
        ("saga confluent\n1 process", "saga.confluent.1p"),
        ("Quix Streams\n1 process", "peer.quix.1p"),
        ("confluent\nplain loop", "ceiling.confluent"),
        ("replay\n1 process", "replay.events_per_s"),
    ) if f.get(key) is not None]
    if bars:
        fig, ax = plt.subplots(figsize=(10, 4.5))
        ax.bar([b[0] for b in bars], [b[1] for b in bars], color="#4878a8")
        ax.set_ylabel("events/s")
        ax.set_yscale("log")
        ax.set_title("Throughput (log scale), shared 2-core box")
        for i, (_, v) in enumerate(bars):
            ax.text(i, v, f"{v:,.0f}", ha="center", va="bottom", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        fig.tight_layout()
        written.append(img_dir / "bench-throughput.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    if series.get("rss_while_loading"):
        xs, ys = zip(*series["rss_while_loading"])
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(xs, ys, color="#a84848")
        ax.axhline(250, ls="--", color="grey", lw=1)
        ax.text(xs[0], 252, "target 250 MB", fontsize=8, color="grey")
        ax.set_xlabel("open workflows applied (one worker process)")
        ax.set_ylabel("RSS MB")
        ax.set_ylim(bottom=0)
        ax.set_title("Worker RSS as open workflows grow")
        fig.tight_layout()
        written.append(img_dir / "bench-memory.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    if series.get("timer_lateness_ms"):
        values = series["timer_lateness_ms"]
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(values, [(i + 1) / len(values) for i in range(len(values))], color="#48a878")
        ax.axvline(1000, ls="--", color="grey", lw=1)
        ax.set_xlabel("timer firing lateness, ms (target p99 <= 1000)")
        ax.set_ylabel("fraction of timers")
        ax.set_title(f"Timer lateness, {f.get('timers.pending', 0):,.0f} timers pending")
        fig.tight_layout()
        written.append(img_dir / "bench-timers.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    return written


def update_doc(results: dict[str, Any], doc: Path, img_dir: Path) -> None:
    plots = write_plots(results, img_dir)
    relative = [str(p.relative_to(doc.parent)) for p in plots]
    section = render_section(results, relative)
    doc.write_text(splice(doc.read_text() if doc.exists() else "# Benchmarks\n", section))
