"""Transport-neutral record values that cross the Kafka edge.

The edge (eventyard.kafka) turns client messages into `SourceMessage` and
`OutRecord` into client sends; nothing past the edge sees a Kafka client type.
"""

from __future__ import annotations

from dataclasses import dataclass

from eventyard.core.values import quick_init

__all__ = ["Headers", "SourceMessage", "OutRecord"]

Headers = tuple[tuple[str, bytes], ...]


@quick_init
@dataclass(frozen=True, slots=True)
class SourceMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    timestamp_ms: int

    # Records cross worker processes (bytewax pickles exchanged items): a plain
    # constructor call pickles at about half the cost of a frozen slots dataclass.
    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return SourceMessage, (self.topic, self.partition, self.offset, self.key, self.value, self.headers,
                               self.timestamp_ms)


@quick_init
@dataclass(frozen=True, slots=True)
class OutRecord:
    """One record to publish: the sink sends it as is. `timestamp_ms` None lets the
    producer stamp it; a re-keyed input keeps its original event time."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers = ()
    timestamp_ms: int | None = None

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return OutRecord, (self.topic, self.key, self.value, self.headers, self.timestamp_ms)

    def to_json(self) -> dict[str, object]:
        return {
            "topic": self.topic,
            "key": None if self.key is None else self.key.hex(),
            "value": None if self.value is None else self.value.hex(),
            "headers": [[k, v.hex()] for k, v in self.headers],
            **({"timestamp_ms": self.timestamp_ms} if self.timestamp_ms is not None else {}),
        }

    @classmethod
    def from_json(cls, obj: dict[str, object]) -> "OutRecord":
        key, value = obj["key"], obj["value"]
        return cls(
            topic=str(obj["topic"]),
            key=None if key is None else bytes.fromhex(str(key)),
            value=None if value is None else bytes.fromhex(str(value)),
            headers=tuple((str(k), bytes.fromhex(v)) for k, v in obj["headers"]),  # type: ignore[attr-defined]
            timestamp_ms=obj.get("timestamp_ms"),  # type: ignore[arg-type]
        )
