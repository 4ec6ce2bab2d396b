"""Dead-letter records exactly as the pipeline writes them, without a broker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from eventyard.core.deadletter import DeadLetterRecord, Reason
from eventyard.demo.traffic import envelope_record
from eventyard.dlq.view import DeadLetterView
from eventyard.core.records import Headers, SourceMessage

FAILED_AT = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def dead_letter() -> Callable[..., DeadLetterView]:
    """A DeadLetterView of an OrderPlaced (or of `value`) dead-lettered with `reason`."""

    def make(reason: Reason = Reason.HANDLER_ERROR, *, order_id: str = "o-1", value: bytes | None = None,
             key: bytes | None = None, headers: Headers = (), failed_at: datetime = FAILED_AT,
             partition: int = 0, offset: int = 0, source_topic: str = "orders",
             message: str = "ValueError('boom')") -> DeadLetterView:
        placed = envelope_record("orders", "OrderPlaced", order_id, {"customer_id": "c"}, f"{order_id}-placed")
        source = SourceMessage(source_topic, 2, 17, key if key is not None else placed.key,
                               value if value is not None else placed.value, headers, 0)
        record = DeadLetterRecord(reason=reason, message=message, pipeline="order_saga", step="workflow",
                                  source=source, error_class="ValueError", failed_at=failed_at)
        out = record.to_record("order_saga.dlq")
        written = int(failed_at.timestamp() * 1000)
        return DeadLetterView.from_message(
            SourceMessage(out.topic, partition, offset, out.key, out.value, out.headers, written))

    return make
