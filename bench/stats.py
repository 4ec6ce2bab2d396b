"""Small statistics helpers (no numpy needed for a handful of percentiles)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["percentile", "median_pair", "Pair"]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return float(ordered[rank - 1])


Pair = tuple[dict[str, float], dict[str, float]]


def median_pair(pairs: list[Pair]) -> Pair:
    """The (1 process, 2 processes) pair whose events/s ratio is the median (the upper one of an even count)."""
    ranked = sorted(pairs, key=lambda pair: pair[1]["events_per_s"] / pair[0]["events_per_s"])
    return ranked[len(ranked) // 2]
