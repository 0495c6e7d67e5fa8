"""Helpers of the delivery tests: routed messages, register entries, a webhook receiver on
loopback, uuid-named hub topics and a delivery worker running in a thread."""

import contextlib
import http.server
import json
import socketserver
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Consumer, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from addressregister.index import RegisterIndex
from addressregister.model import (
    CommunicationParty,
    Endpoint,
    EndpointKind,
    MessageProfile,
    PartyKind,
)
from broker_adapters.delivery.mailbox_store import MailboxStore
from broker_adapters.delivery.settings import BreakerSettings, DeliverySettings, RetryTier
from broker_adapters.delivery.worker import DeliveryComponent, build_endpoints
from broker_adapters.settings import AmqpSettings
from kafka_io import ensure_topics
from kafka_io.settings import KafkaSettings, TopicSettings, TopicSpec
from routing.settings import RoutingSettings
from schemas.records import InboundMessage, RoutedMessage, encode
from schemas.vocabulary import AddressingMode, Category, Family

SENDER = 8_100_001
"""The sending organisation of every test message (its AppRecs go to a file outbox)."""
HUB = 8_888_801


def party(her_id: int, kind: EndpointKind, address: str) -> CommunicationParty:
    """An organisation that receives dialog messages and AppRecs at ``address``."""
    return CommunicationParty(
        her_id=her_id,
        kind=PartyKind.ORGANISATION,
        name=f"Testmottaker {her_id}",
        business_type="102",
        receives=(MessageProfile("DIALOG_NOTAT"), MessageProfile("APPREC")),
        endpoint=Endpoint(kind, address),
    )


def routed(
    receiver: int, n: int, *, sender: int = SENDER, payload: bytes | None = None
) -> RoutedMessage:
    """Message number ``n`` to ``receiver``; the payload names both, so misdelivery shows."""
    hub_id = uuid.uuid4()
    now = datetime.now(UTC)
    body = payload or f'<?xml version="1.0"?><Test to="{receiver}" n="{n}"/>'.encode()
    return RoutedMessage(
        hub_message_id=hub_id,
        family=Family.DIALOG,
        message_type="DIALOG_NOTAT",
        message_version="1.1",
        msg_id=str(uuid.uuid4()),
        receiver_her_id=receiver,
        receiver_organisation_her_id=receiver,
        sender_her_id=sender,
        sender_category=Category.FASTLEGE,
        receiver_category=Category.KOMMUNE,
        addressing_mode=AddressingMode.ORGANISATION,
        apprec_version="1.1",
        ingress=InboundMessage(
            hub_message_id=hub_id, adapter="http", received_at=now, size_bytes=len(body)
        ),
        routed_at=now,
        size_bytes=len(body),
        payload=body,
    )


def produce(bootstrap: str, topic: str, messages: list[RoutedMessage]) -> None:
    """Write routed messages to ``topic`` keyed by receiver, as the router does."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for message in messages:
        producer.produce(topic, key=str(message.receiver_her_id).encode(), value=encode(message))
    assert producer.flush(30) == 0


def read_many(
    bootstrap: str, topics: list[str], expected: int, timeout_s: float = 30
) -> list[Message]:
    """Committed records of several single-partition topics until ``expected`` (plus 1 s more,
    so that extra records would show)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "reader",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "log_level": 3,
        }
    )
    consumer.assign([TopicPartition(topic, 0, 0) for topic in topics])
    records: list[Message] = []
    deadline, settle = time.monotonic() + timeout_s, None
    try:
        while time.monotonic() < deadline and (settle is None or time.monotonic() < settle):
            records.extend(m for m in consumer.consume(1000, 0.2) if m.error() is None)
            if settle is None and len(records) >= expected:
                settle = time.monotonic() + 1.0
    finally:
        consumer.close()
    return records


@dataclass
class Hub:
    """The settings of one test's hub: uuid-named topics, fast retry tiers."""

    kafka: KafkaSettings
    delivery: DeliverySettings
    routing: RoutingSettings
    prefix: str

    @property
    def outbound(self) -> str:
        return self.kafka.topics.outbound.name

    @property
    def events(self) -> str:
        return self.kafka.topics.events.name

    @property
    def rejected(self) -> str:
        return self.kafka.topics.rejected.name


@contextlib.contextmanager
def hub_topics(
    bootstrap: str,
    *,
    tiers: tuple[float, ...] = (1.0, 2.0),
    max_attempts: int = 10,
    max_age_s: float = 3600,
    failure_threshold: int = 5,
    open_s: float = 30.0,
    partitions: int = 3,
    batch_size: int = 100,
) -> Iterator[Hub]:
    """Hub topics under a uuid prefix, created now and deleted afterwards."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    names = {
        "inbound": TopicSpec(name=f"{prefix}.inbound", partitions=1),
        "outbound": TopicSpec(name=f"{prefix}.outbound", partitions=partitions),
        "rejected": TopicSpec(name=f"{prefix}.rejected", partitions=1),
        "events": TopicSpec(name=f"{prefix}.events", partitions=1),
        "parties": TopicSpec(name=f"{prefix}.parties", partitions=1),
    }
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topics=TopicSettings(**names))
    delivery = DeliverySettings(
        group_id=f"{prefix}.delivery",
        retry_topic_prefix=f"{prefix}.retry",
        retry_tiers=[RetryTier(name=f"t{i}", delay_s=d) for i, d in enumerate(tiers)],
        backlog_topic=f"{prefix}.backlog",
        status_topic=f"{prefix}.status",
        kafka_topic_prefix=f"{prefix}.deliver",
        max_attempts=max_attempts,
        max_age_s=max_age_s,
        breaker=BreakerSettings(failure_threshold=failure_threshold, open_s=open_s),
        batch_size=batch_size,
        poll_timeout_s=0.05,
    )
    ensure_topics({"bootstrap.servers": bootstrap}, list(names.values()))
    try:
        yield Hub(kafka, delivery, RoutingSettings(hub_her_id=HUB), prefix)
    finally:
        admin = AdminClient({"bootstrap.servers": bootstrap})
        ours = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        if ours:
            for future in admin.delete_topics(ours, operation_timeout=10).values():
                with contextlib.suppress(Exception):
                    future.result(10)


def webhook_key(her_id: int) -> str:
    """The signing key the tests give a webhook receiver."""
    return f"test-key-of-{her_id}-0123456789"


def write_webhook_keys(path: Path, her_ids: Iterable[int]) -> Path:
    """A webhook keys file with :func:`webhook_key` for each receiver."""
    path.write_text(json.dumps({str(her_id): webhook_key(her_id) for her_id in her_ids}))
    return path


def component(
    hub: Hub,
    bootstrap: str,
    register: RegisterIndex,
    mailbox: MailboxStore,
    outbox: Path,
    **kwargs: object,
) -> DeliveryComponent:
    """A delivery worker with every endpoint kind; every webhook receiver has its key."""
    webhooks = [
        p.her_id
        for p in register
        if p.endpoint is not None and p.endpoint.kind is EndpointKind.WEBHOOK
    ]
    keys = outbox.parent / f"webhook-keys-{uuid.uuid4().hex[:8]}.json"
    hub.delivery.webhook_keys_file = write_webhook_keys(keys, webhooks)
    endpoints = build_endpoints(hub.delivery, AmqpSettings(), hub.kafka, bootstrap, mailbox, outbox)
    return DeliveryComponent(
        hub.delivery,
        hub.kafka,
        hub.routing,
        bootstrap,
        lambda: register,
        endpoints,
        mailbox=mailbox,
        **kwargs,  # type: ignore[arg-type]
    )


@dataclass
class Received:
    """One request the webhook receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int


@dataclass
class WebhookReceiver:
    """A real HTTP server on loopback; answers 503 while ``failing(path)`` is true."""

    failing: Callable[[str], bool] = lambda _path: False
    status_for: Callable[[str], int] = lambda _path: 200
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: http.server.ThreadingHTTPServer | None = None

    def url(self, path: str) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def delivered(self, path: str | None = None) -> list[Received]:
        """The requests answered 2xx (to ``path``), in arrival order."""
        with self.lock:
            return [r for r in self.requests if 200 <= r.status < 300 and path in (None, r.path)]

    def attempts(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def __enter__(self) -> "WebhookReceiver":
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:  # the sender died mid-request: nothing was received
                    return
                status = 503 if receiver.failing(self.path) else receiver.status_for(self.path)
                with receiver.lock:
                    receiver.requests.append(
                        Received(self.path, dict(self.headers), body, time.monotonic(), status)
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()


@dataclass
class DripServer:
    """A raw HTTP server on loopback that reads each request, then answers ``head`` (and
    ``body``) one byte every ``interval_s``, never finishing within a sane deadline; or
    answers ``head`` at once and then stalls when ``stall`` is set."""

    head: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    body: bytes = b""
    interval_s: float = 1.0
    stall: bool = False
    accepted: int = 0
    server: socketserver.ThreadingTCPServer | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def __enter__(self) -> "DripServer":
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                owner.accepted += 1
                self.request.settimeout(0.5)
                with contextlib.suppress(OSError):
                    self.request.recv(65_536)  # the request (small in these tests)
                    if owner.stall:
                        self.request.sendall(owner.head + owner.body)
                        owner.stop.wait()
                        return
                    for byte in owner.head + owner.body:
                        if owner.stop.wait(owner.interval_s):
                            return
                        self.request.sendall(bytes([byte]))

        socketserver.ThreadingTCPServer.daemon_threads = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self.server is not None
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
