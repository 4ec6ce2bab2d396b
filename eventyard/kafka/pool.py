"""Producers shared by every sink partition of a process, closed with the last one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from eventyard.config import KafkaSettings

__all__ = ["SharedClients"]

T = TypeVar("T")


class SharedClients(Generic[T]):
    """One client per settings value in this process, reference counted.

    One producer per process batches best; closing it when the last sink partition
    closes releases its connections (a worker exits anyway; tests and embedders do not).
    """

    def __init__(self, create: Callable[[KafkaSettings], T], close: Callable[[T], None]) -> None:
        self._create = create
        self._close = close
        self._lock = threading.Lock()
        self._clients: dict[str, tuple[T, int]] = {}

    def acquire(self, settings: KafkaSettings) -> T:
        key = settings.model_dump_json()
        with self._lock:
            client, users = self._clients.get(key) or (self._create(settings), 0)
            self._clients[key] = (client, users + 1)
            return client

    def release(self, settings: KafkaSettings) -> None:
        key = settings.model_dump_json()
        with self._lock:
            client, users = self._clients.pop(key)
            if users > 1:
                self._clients[key] = (client, users - 1)
                return
        self._close(client)
