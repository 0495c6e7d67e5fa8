"""Request bodies share one byte budget per process (``ingress.in_flight_bytes``), across
both HTTP APIs: a request holds what it has sent, so past the budget a sender is told 503
``busy`` with Retry-After at once, and slow or idle uploads hold next to nothing."""

import socket
from collections.abc import Iterator

import pytest

from addressregister.index import RegisterIndex
from tests.broker_adapters.ingress.support import msghead_samples, with_new_msg_id
from tests.support.corpus_register import Sample
from tests.support.running_hub import RunningHub, running_hub
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BUDGET = 4 * 1024 * 1024
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def hub(
    kafka_bootstrap: str, register: RegisterIndex, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningHub]:
    data_dir = tmp_path_factory.mktemp("budget")
    with running_hub(kafka_bootstrap, data_dir, register, in_flight_bytes=BUDGET) as running:
        yield running


def _upload(hub: RunningHub, path: str, declared: int, sent: int) -> socket.socket:
    """A JSON upload that declares ``declared`` bytes and sends ``sent`` of them, then waits."""
    host, port = hub.api.removeprefix("http://").rsplit(":", 1)
    upload = socket.create_connection((host, int(port)), timeout=30)
    upload.sendall(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {hub.token}\r\n"
        "api-version: 2\r\nnhn-source-system: budget-test 1.0\r\n"
        f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n".encode()
        + b"{"
        + b" " * (sent - 1)
    )
    return upload


def _answer(upload: socket.socket, within_s: float) -> bytes:
    """The answer's head if one starts within ``within_s`` (empty: none yet)."""
    upload.settimeout(within_s)
    try:
        answer = upload.recv(65536)
        while answer and b"\r\n\r\n" not in answer:
            answer += upload.recv(65536)
    except (TimeoutError, ConnectionResetError):
        return b""
    return answer


def _first_answer(
    hub: RunningHub, path: str, declared: int, sent: int, held: list[socket.socket]
) -> bytes:
    """Send uploads until the hub answers one (the ones it keeps reading are ``held``)."""
    for _ in range(8):
        probe = _upload(hub, path, declared, sent)
        held.append(probe)
        answer = _answer(probe, 5)
        if answer:
            return answer
    return b""


def test_past_the_budget_a_sender_is_told_busy_and_the_bytes_come_back(
    hub: RunningHub, samples: list[Sample]
) -> None:
    document = msghead_samples(samples)[0].raw
    held = [_upload(hub, "/v1/messages", 3 * MIB + 1, 3 * MIB)]  # holds 3 of the 4 MiB
    try:
        # Uploads that never finish: the only answer one can get is "busy".
        busy = _first_answer(hub, "/v1/messages", 2 * MIB + 1, 2 * MIB, held)
        assert busy.startswith(b"HTTP/1.1 503"), busy[:300]
        assert b"retry-after:" in busy.lower()
        msh = _first_answer(hub, "/Messages", 2 * MIB + 1, 2 * MIB, held)
        assert msh.startswith(b"HTTP/1.1 503"), msh[:300]
        assert b"retry-after:" in msh.lower()
    finally:
        for upload in held:
            upload.close()
    # What the dropped uploads held is given back: a document is taken again.
    wait_for(lambda: hub.post(with_new_msg_id(document)[0]).status_code == 202, 30, "budget back")
    assert hub.metric("meldingshub_ingress_refused_total", adapter="http", reason="busy") >= 2


def test_idle_uploads_do_not_keep_the_budget_from_other_senders(
    hub: RunningHub, samples: list[Sample]
) -> None:
    """Uploads that declare far more than the budget and send one byte hold one byte each."""
    document = msghead_samples(samples)[0].raw
    idle = [_upload(hub, "/v1/messages", 40 * MIB, 1) for _ in range(10)]
    idle += [_upload(hub, "/Messages", 40 * MIB, 1) for _ in range(5)]
    try:
        answers = [hub.post(with_new_msg_id(document)[0]).status_code for _ in range(10)]
    finally:
        for upload in idle:
            upload.close()
    assert set(answers) == {202}, answers
