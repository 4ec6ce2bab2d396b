"""Publish redriven records; `flush()` is the point where they are confirmed."""

from __future__ import annotations

from types import TracebackType

from kafka import KafkaProducer
from kafka.errors import KafkaError

from eventyard.config import KafkaSettings
from eventyard.core.errors import DeadLetterError
from eventyard.core.records import OutRecord

__all__ = ["RecordPublisher"]


class RecordPublisher:
    def __init__(self, settings: KafkaSettings) -> None:
        # Same delivery settings as the pipeline's sink: durable, per-key order kept.
        self._producer = KafkaProducer(
            **settings.client_options(),
            acks="all",
            linger_ms=5,
            max_request_size=4 * 1024 * 1024,
            retries=2**31 - 1,
            max_in_flight_requests_per_connection=1,
        )
        self._failure: BaseException | None = None

    def _failed(self, exc: BaseException) -> None:
        self._failure = self._failure or exc

    def send(self, record: OutRecord) -> None:
        try:
            future = self._producer.send(record.topic, key=record.key, value=record.value,
                                         headers=list(record.headers))
        except KafkaError as exc:
            raise DeadLetterError(f"publishing to {record.topic!r} failed: {exc!r}") from exc
        future.add_errback(self._failed)

    def flush(self) -> None:
        """Wait for every record sent so far; raise if any of them failed."""
        self._producer.flush()
        if self._failure is not None:
            raise DeadLetterError(
                f"publishing failed: {self._failure!r}; records after the last checkpoint "
                "may be published again when the redrive is resumed"
            )

    def close(self) -> None:
        self._producer.close()

    def __enter__(self) -> "RecordPublisher":
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
