"""How big each measurement is, full and --quick (figures scaled down in --quick)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Scale", "FULL", "QUICK"]


@dataclass(frozen=True)
class Scale:
    name: str
    ceiling_events: int  # plain-loop input events per transport
    saga_orders: int  # orders (fast outcome mix) for saga and peer throughput
    latency_seconds: float  # paced OrderPlaced for latency
    open_small: int  # open workflows, memory baseline ("100k")
    open_large: int  # open workflows for memory, timers and recovery ("1M")
    timer_probes: int  # timers that come due while `open_large` stay pending
    # Replay's -p 1 vs -p 2 ratio needs a replay long enough that start-up (-p 2:
    # fork, decisions topic, store opens, ~0.8-0.9 s) is not a large part of it: at
    # 10,000 orders (26,690 events) it was ~40% of the -p 2 run, which read
    # 1.27-1.43x; 40,000 orders read 1.75-1.94x.
    replay_orders: int
    profile_seconds: float
    note: str  # how this scale departs from issue 7's sizes, for the report


FULL = Scale("full", ceiling_events=200_000, saga_orders=30_000, latency_seconds=15.0,
             open_small=100_000, open_large=1_000_000, timer_probes=2_000, replay_orders=40_000,
             profile_seconds=20.0,
             note="")
QUICK = Scale("quick", ceiling_events=30_000, saga_orders=4_000, latency_seconds=5.0,
              open_small=10_000, open_large=40_000, timer_probes=300, replay_orders=1_500,
              profile_seconds=8.0,
              note="--quick: 100k scaled to 10k and 1M to 40k")
