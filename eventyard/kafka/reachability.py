"""Fail fast when no bootstrap server can be reached.

kafka-python tries for about 30 s before it gives up on a dead address, and then
says little about which setting is wrong. Every command that needs Kafka (`run`,
`topics`, `dlq`, `replay`) first opens a TCP connection to the bootstrap servers,
within `kafka.connect_timeout` (5 s by default) in all, and otherwise stops with
one message naming the addresses and the settings to change (issue 16).

Reaching one server is enough: the client learns the rest of the cluster from it.
This checks the network path only; TLS, SASL and the protocol are the client's.
"""

from __future__ import annotations

import socket
import time

from eventyard.config import KafkaSettings
from eventyard.core.errors import KafkaUnavailableError

__all__ = ["require_reachable", "split_address"]

_DEFAULT_PORT = 9092


def split_address(address: str) -> tuple[str, int]:
    """`host:port`, `[v6]:port` or `host` (port 9092)."""
    address = address.strip()
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = address.rpartition(":") if address.count(":") == 1 else (address, "", "")
    try:
        return host, int(port) if port else _DEFAULT_PORT
    except ValueError:
        raise KafkaUnavailableError(
            f"kafka.bootstrap_servers [EVENTYARD_KAFKA__BOOTSTRAP_SERVERS]: {address!r} is not host:port") from None


def require_reachable(settings: KafkaSettings) -> None:
    """Return once any bootstrap server accepts a TCP connection; raise after the timeout."""
    timeout = settings.connect_timeout.total_seconds()
    deadline = time.monotonic() + timeout
    addresses = [a for a in settings.bootstrap_servers.split(",") if a.strip()]
    failures: list[str] = []
    for address in addresses:
        host, port = split_address(address)
        left = deadline - time.monotonic()
        if left <= 0:
            failures.append(f"{address.strip()}: not tried, time was up")
            continue
        try:
            socket.create_connection((host, port), timeout=left).close()
            return
        except socket.timeout:
            failures.append(f"{address.strip()}: no answer within {timeout:g}s")
        except OSError as exc:  # refused, unreachable, unknown host
            failures.append(f"{address.strip()}: {exc.strerror or exc}")
    raise KafkaUnavailableError(
        f"cannot reach Kafka at {settings.bootstrap_servers} ({'; '.join(failures)}). Check "
        "kafka.bootstrap_servers [EVENTYARD_KAFKA__BOOTSTRAP_SERVERS]; on a slow network raise "
        f"kafka.connect_timeout [EVENTYARD_KAFKA__CONNECT_TIMEOUT] (now {timeout:g}s)")
