"""The kafka-python edge helpers: what a clean shutdown logs."""

import logging
import socket

import pytest
from kafka.net.selector import NetworkSelector
from kafka.net.transport import KafkaTCPTransport

import eventyard.kafka.client  # noqa: F401 - installs the filter on kafka-python's transport log


@pytest.fixture
def transport():
    net = NetworkSelector()
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    yield KafkaTCPTransport(net, ours)
    net.close()
    theirs.close()
    ours.close()


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "kafka.net.transport" and r.levelno >= logging.ERROR]


def test_a_read_racing_a_requested_close_logs_no_error(transport, caplog):
    # What kafka-python's network thread does when the close woke its pending read:
    # the transport is closed (no socket) and the read runs anyway.
    transport.close()
    with caplog.at_level(logging.DEBUG, logger="kafka.net.transport"):
        data, err = transport._sock_recv()
    assert data == b"" and err is not None  # kafka-python still ends the read
    assert _errors(caplog) == []


def test_a_receive_error_on_an_open_transport_is_still_logged(transport, caplog):
    transport._sock.close()  # the socket fails under a transport nobody closed
    with caplog.at_level(logging.DEBUG, logger="kafka.net.transport"):
        transport._sock_recv()
    assert any("Error receiving network data" in m for m in _errors(caplog))
