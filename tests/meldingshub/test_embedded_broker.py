"""The embedded broker: clear errors when it cannot start, and it answers when it can."""

import socket

import pytest

from kafka_io import BrokerUnreachableError, wait_until_reachable
from meldingshub.embedded_broker import EmbeddedBroker, EmbeddedBrokerError, free_port


def test_missing_binary_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALF_TANSU_BIN", "/nonexistent/tansu")
    with pytest.raises(EmbeddedBrokerError) as excinfo:
        EmbeddedBroker(port=free_port()).start()
    message = str(excinfo.value)
    assert "CALF_TANSU_BIN" in message
    assert "MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS" in message


def test_port_taken_says_what_to_set() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(EmbeddedBrokerError) as excinfo:
            EmbeddedBroker(port=port).start()
    message = str(excinfo.value)
    assert f"127.0.0.1:{port}" in message
    assert "MELDINGSHUB_KAFKA__EMBEDDED_PORT" in message


def test_unreachable_broker_error_names_the_setting() -> None:
    with pytest.raises(BrokerUnreachableError, match="MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS"):
        wait_until_reachable(f"127.0.0.1:{free_port()}", timeout_s=1.0)


@pytest.mark.integration
def test_broker_starts_answers_and_stops() -> None:
    broker = EmbeddedBroker(port=free_port())
    with broker:
        started = broker.pid  # a local, so mypy does not keep the narrowing past ``with``
        assert started is not None
        wait_until_reachable(broker.bootstrap_servers, timeout_s=5)
    assert broker.pid is None
    with pytest.raises(BrokerUnreachableError):
        wait_until_reachable(broker.bootstrap_servers, timeout_s=1.0)
