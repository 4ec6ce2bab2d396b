"""Dead-letter topics for operators: read, summarise, render and redrive.

This package's namespace holds the pure values and functions (`view`, `stats`,
`format`, `report`, `redrive`) and the redrive ledger file; the Kafka edge is
imported from its modules when needed, so that loading the CLI does not load
kafka-python: `reader.DeadLetterReader`, `publisher.RecordPublisher`,
`runner.RedriveRunner` / `runner.plan_redrive`.
"""

from eventyard.dlq.ledger import RedriveLedger
from eventyard.dlq.redrive import (RedriveCheckpoint, RedrivePlan, RedriveRequest, RedriveResult,
                                   RedriveSelection, redrive_headers, redrive_record)
from eventyard.dlq.stats import DeadLetterStats, summarize
from eventyard.dlq.view import DeadLetterFilter, DeadLetterView

__all__ = [
    "DeadLetterView",
    "DeadLetterFilter",
    "DeadLetterStats",
    "summarize",
    "RedriveRequest",
    "RedriveSelection",
    "RedriveCheckpoint",
    "RedriveLedger",
    "RedrivePlan",
    "RedriveResult",
    "redrive_headers",
    "redrive_record",
]
