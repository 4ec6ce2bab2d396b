"""Free loopback ports for the embedded broker and for bytewax cluster addresses."""

from __future__ import annotations

import socket

__all__ = ["free_ports"]


def free_ports(count: int = 1) -> list[int]:
    """Ports free right now (bound together, so they are distinct)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()
