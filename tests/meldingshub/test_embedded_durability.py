"""The embedded hub keeps what it accepted across a stop, and across its broker's checkpoints.

``meldingshub run`` with the embedded broker (a child process, as a user runs it):
messages accepted over HTTP wait for a receiver whose AMQP queue does not exist yet;
the hub is stopped, the queue created, the hub started again, and every message
reaches the queue exactly once. The second test lets the broker reach its checkpoint
size while running and checks that routing and delivery go on through it.
"""

import re
import time
import urllib.request
import uuid
from pathlib import Path

import httpx
import pika
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from access.principals import Principal, Principals
from access.tokens import token_hash
from addressregister.fileformat import write_register_file
from addressregister.kinds import EndpointKind
from kafka_io import readable
from meldingshub.embedded_broker import free_port
from schemas.reader import MessageReader
from schemas.settings import SchemaSettings
from schemas.vocabulary import Family
from tests.broker_adapters.ingress.support import msghead_samples, with_new_msg_id
from tests.support.corpus_register import accepted_samples, consistent, register_for
from tests.support.hub_process import HubProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/%2F"
MSG_ID = re.compile(rb"<(?:\w+:)?MsgId>([^<]+)</")


class _Hub:
    """What the tests need to start the same embedded hub again and again."""

    def __init__(self, tmp_path: Path, endpoint_kind: EndpointKind, **env: str) -> None:
        samples = consistent(accepted_samples(MessageReader(SchemaSettings())))
        self.template = next(
            s
            for s in msghead_samples(samples)
            if s.envelope.family is Family.DIALOG and not s.envelope.copy_receivers
        )
        sender = self.template.envelope.sender.organisation_her_id
        receiver = self.template.envelope.receiver.organisation_her_id
        assert sender is not None and receiver is not None
        self.queue = f"{receiver}_async"
        snapshot = tmp_path / "register.json"
        write_register_file(snapshot, list(register_for(samples, endpoint_kind)))
        self.token = f"token-{uuid.uuid4().hex}"
        principal = Principal(
            "epj", frozenset({sender}), token_hashes=frozenset({token_hash(self.token)})
        )
        (tmp_path / "principals.toml").write_text(
            Principals([principal]).to_toml(), encoding="utf-8"
        )
        self.api = f"127.0.0.1:{free_port()}"
        self.tmp_path = tmp_path
        self.env = {
            "MELDINGSHUB_ADDRESS_REGISTER__SNAPSHOT": str(snapshot),
            "MELDINGSHUB_ACCESS__PRINCIPALS_FILE": str(tmp_path / "principals.toml"),
            "MELDINGSHUB_AMQP__URL": RABBITMQ,
            "MELDINGSHUB_STORE__DSN": f"sqlite:///{tmp_path / 'store.sqlite3'}",
            "MELDINGSHUB_HTTP__API_BIND": self.api,
            **env,
        }

    def start(self) -> HubProcess:
        return HubProcess(self.tmp_path, **self.env)

    def send(self, count: int) -> list[str]:
        """Post ``count`` new messages; their MsgIds, each accepted (202)."""
        sent = []
        for _ in range(count):
            raw, msg_id = with_new_msg_id(self.template.raw)
            self.send_document(raw)
            sent.append(msg_id)
        return sent

    def send_document(self, raw: bytes) -> None:
        """Post ``raw`` as it is; accepted (202)."""
        with httpx.Client(timeout=30) as client:
            answer = self._post(client, raw)
        assert answer.status_code == 202, answer.text

    def _post(self, client: httpx.Client, raw: bytes) -> httpx.Response:
        """As a sender does: send the same document again while the API is away (it restarts
        with a checkpoint); one that was taken after all is a duplicate the router drops."""
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = client.post(
                    f"http://{self.api}/v1/messages",
                    content=raw,
                    headers={
                        "Content-Type": "application/xml",
                        "Authorization": f"Bearer {self.token}",
                    },
                )
                if answer.status_code != 503 or time.monotonic() > deadline:
                    return answer
            except httpx.TransportError:  # refused, or reset as the server stopped
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)


def _queue(name: str, *, exists: bool) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ))
    try:
        channel = connection.channel()
        if exists:
            channel.queue_declare(name, durable=True)
        else:
            channel.queue_delete(name)
    finally:
        connection.close()


def _drain(name: str, want: int, timeout_s: float) -> list[bytes]:
    """Bodies on queue ``name`` once ``want`` have arrived (or the time is up)."""
    bodies: list[bytes] = []
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ))
    try:
        channel = connection.channel()
        deadline = time.monotonic() + timeout_s
        while len(bodies) < want and time.monotonic() < deadline:
            _method, _properties, body = channel.basic_get(name, auto_ack=True)
            if body is None:
                connection.sleep(0.2)
                continue
            bodies.append(body)
    finally:
        connection.close()
    return bodies


def _metric(hub: HubProcess, name: str, **labels: str) -> float:
    with urllib.request.urlopen(
        f"http://{hub.env['MELDINGSHUB_HTTP__OPS_BIND']}/metrics", timeout=5
    ) as answer:
        text = answer.read().decode()
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if series == (f"{name}{{{wanted}}}" if labels else name):
            return float(value)
    return 0.0


def _stop(hub: HubProcess) -> None:
    hub.process.terminate()
    assert hub.process.wait(90) == 0


def _delivered_exactly(hub: HubProcess, queue: str, expected: list[str]) -> None:
    """Every message on ``queue`` once, and no more once delivery has nothing left."""
    bodies = _drain(queue, len(expected), 120)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
        _metric(hub, "meldingshub_delivery_backlog_messages") > 0
        or _metric(hub, "meldingshub_deliveries_total", endpoint_kind="amqp", outcome="delivered")
        < len(expected)
    ):
        time.sleep(0.2)
    bodies += _drain(queue, 1, 0.5)  # anything delivered twice is there by now
    found = [m.group(1).decode() for body in bodies if (m := MSG_ID.search(body))]
    assert sorted(found) == sorted(expected)


def test_messages_in_flight_at_a_stop_are_delivered_once_after_the_restart(
    tmp_path: Path,
) -> None:
    hub = _Hub(tmp_path, EndpointKind.AMQP)
    _queue(hub.queue, exists=False)
    first = hub.start()
    try:
        first.wait_for("hub ready", 90)
        sent = hub.send(12)
        failed = first.wait_for("delivery failed; retrying", 60)
        assert hub.queue in failed["reason"]  # in flight: nowhere to go yet
    finally:
        _stop(first)
    assert (tmp_path / "embedded-broker" / "checkpoint.sqlite").is_file()

    _queue(hub.queue, exists=True)
    second = hub.start()
    try:
        restored = second.wait_for("embedded broker restored from its checkpoint", 60)
        assert restored["records"] > len(sent)
        second.wait_for("hub ready", 90)
        _delivered_exactly(second, hub.queue, sent)
    finally:
        _stop(second)
        _queue(hub.queue, exists=False)
    assert not (tmp_path / "embedded-broker" / "checkpoint.sqlite.partial").exists()


def test_the_hub_routes_and_delivers_through_its_brokers_checkpoints(tmp_path: Path) -> None:
    hub = _Hub(tmp_path, EndpointKind.AMQP, MELDINGSHUB_KAFKA__EMBEDDED_CHECKPOINT_MB="40")
    _queue(hub.queue, exists=True)
    running = hub.start()
    try:
        running.wait_for("hub ready", 90)
        sent: list[str] = []
        checkpointed = None
        while checkpointed is None and len(sent) < 3000:
            sent += hub.send(100)
            try:
                checkpointed = running.wait_for("embedded broker checkpointed", 0.1)
            except AssertionError:
                continue
        assert checkpointed is not None, "the broker never reached 40 MB"
        running.wait_for("embedded broker restored from its checkpoint", 60)
        sent += hub.send(20)  # after the restart
        _delivered_exactly(running, hub.queue, sent)
    finally:
        _stop(running)
        _queue(hub.queue, exists=False)


def _window_records(hub: HubProcess, topic: str) -> list[bytes | None]:
    """What the running hub's embedded broker holds of ``topic`` (fillers skipped)."""
    consumer = Consumer(
        {
            "bootstrap.servers": f"127.0.0.1:{hub.port}",
            "group.id": f"test-{uuid.uuid4().hex}",
            "enable.auto.commit": False,  # a group's offsets would keep the topic in the broker
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions])
        found: list[bytes | None] = []
        ended: set[int] = set()
        while len(ended) < len(metadata.partitions):
            message = consumer.poll(10)
            assert message is not None, f"no end of {topic} within 10 s"
            error = message.error()
            if error is None:
                found.extend(m.value() for m in readable([message]))
            elif error.code() == KafkaError._PARTITION_EOF:
                ended.add(message.partition() or 0)
        return found
    finally:
        consumer.close()


def test_the_windows_outlive_a_restart_on_disk_and_not_in_the_broker(tmp_path: Path) -> None:
    """After a restart the de-duplication and correlation windows are in the cold store on
    disk, not in the broker's memory, and the router still knows a re-send for a duplicate.
    A broker that ended without a checkpoint leaves a cold store nobody can use: dropped."""
    hub = _Hub(tmp_path, EndpointKind.AMQP)
    _queue(hub.queue, exists=True)
    raw, msg_id = with_new_msg_id(hub.template.raw)
    cold = tmp_path / "embedded-broker" / "cold.sqlite"
    first = hub.start()
    try:
        first.wait_for("hub ready", 90)
        hub.send_document(raw)
        _delivered_exactly(first, hub.queue, [msg_id])
        assert _window_records(first, "hub.router.dedup")  # written to the broker while it runs
    finally:
        _stop(first)

    second = hub.start()
    try:
        restored = second.wait_for("embedded broker restored from its checkpoint", 60)
        assert restored["on_disk"] >= 3  # the de-duplication, correlation and status records
        assert cold.is_file() and not (tmp_path / "embedded-broker" / "checkpoint.sqlite").exists()
        second.wait_for("hub ready", 90)
        assert _window_records(second, "hub.router.dedup") == []
        assert _window_records(second, "hub.router.sent") == []
        hub.send_document(raw)
        second.wait_for("duplicate", 60)
        assert _drain(hub.queue, 1, 3) == []
    finally:
        second.process.kill()  # a crash: no checkpoint of this broker
        second.process.wait()
        _queue(hub.queue, exists=False)
    third = hub.start()
    try:
        third.wait_for(
            "embedded broker's cold store dropped: the broker it belonged to ended without "
            "a checkpoint",
            60,
        )
        third.wait_for("hub ready", 90)
        assert not cold.exists()
    finally:
        _stop(third)
