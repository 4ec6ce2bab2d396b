"""One malformed message per dead-letter reason the decoder detects."""

from __future__ import annotations

from dataclasses import replace

import orjson

from eventyard.demo.traffic import envelope_record
from eventyard.core.records import OutRecord

__all__ = ["bad_messages"]


def bad_messages(prefix: str = "bad", oversized_bytes: int = 600 * 1024) -> dict[str, OutRecord]:
    """reason -> a record that must be dead-lettered with that reason."""
    valid = envelope_record("orders", "OrderPlaced", f"{prefix}-1", {
        "customer_id": "c", "amount": 1, "currency": "EUR", "items": [{"sku": "s", "quantity": 1}],
    }, f"{prefix}-placed")
    envelope = orjson.loads(valid.value or b"")
    return {
        "invalid_json": replace(valid, value=b'{"event_id": "x", not json',
                                headers=(("origin", b"demo"),)),
        "schema_violation": replace(valid, value=orjson.dumps(
            {**envelope, "event_id": f"{prefix}-schema", "payload": {"customer_id": "c"}})),
        "unknown_type": replace(valid, value=orjson.dumps(
            {**envelope, "event_id": f"{prefix}-unknown", "type": "OrderTeleported"})),
        "missing_key": replace(valid, key=None, value=orjson.dumps(
            {**envelope, "event_id": f"{prefix}-nokey"})),
        "oversized": replace(valid, value=orjson.dumps(
            {**envelope, "event_id": f"{prefix}-big", "padding": "x" * oversized_bytes})),
        "loop_detected": replace(valid, value=orjson.dumps(
            {**envelope, "event_id": f"{prefix}-loop", "hops": 99})),
    }
