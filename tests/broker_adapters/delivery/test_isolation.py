"""Receiver isolation and every endpoint kind against its real counterpart: 50 receivers over
AMQP queues, the HTTP mailbox, webhooks, Kafka topics and file outboxes each get exactly
their own messages."""

import time
import uuid
from collections import defaultdict
from pathlib import Path

import pika
import pytest
from confluent_kafka import Message
from fastapi import FastAPI
from fastapi.testclient import TestClient

from access.principals import Principal, Principals
from access.principals_file import PrincipalsFile
from access.tokens import token_hash
from addressregister.index import RegisterIndex
from addressregister.model import CommunicationParty, EndpointKind
from broker_adapters.delivery.mailbox_api import mailbox_router
from broker_adapters.delivery.mailbox_store import MailboxStore
from schemas.records import MessageEvent, RoutedMessage, decode
from schemas.vocabulary import EventType
from tests.broker_adapters.delivery.support import (
    SENDER,
    DripServer,
    WebhookReceiver,
    component,
    hub_topics,
    party,
    produce,
    read_many,
    routed,
)
from tests.support.kafka import read_all
from tests.support.waiting import running, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
KINDS = [
    EndpointKind.AMQP,
    EndpointKind.MAILBOX,
    EndpointKind.WEBHOOK,
    EndpointKind.KAFKA,
    EndpointKind.FILE,
]
PER_RECEIVER = 3


def test_fifty_receivers_over_every_endpoint_kind_get_only_their_own(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    mailbox = MailboxStore.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    outbox = tmp_path / "outbox"
    run = uuid.uuid4().hex[:8]
    with hub_topics(kafka_bootstrap) as hub, WebhookReceiver() as webhooks:
        receivers: dict[int, CommunicationParty] = {}
        for number in range(50):
            her_id = 9_200_000 + number
            kind = KINDS[number % len(KINDS)]
            address = {
                EndpointKind.AMQP: f"{run}-{her_id}_async",
                EndpointKind.MAILBOX: f"mailbox-{her_id}",
                EndpointKind.WEBHOOK: webhooks.url(f"/hook/{her_id}"),
                EndpointKind.KAFKA: f"{hub.prefix}.deliver.{her_id}",
                EndpointKind.FILE: str(her_id),
            }[kind]
            receivers[her_id] = party(her_id, kind, address)
        register = RegisterIndex([*receivers.values(), party(SENDER, EndpointKind.FILE, "sender")])
        hub.delivery.amqp_declare_queues = True
        sent: dict[int, list[RoutedMessage]] = defaultdict(list)
        for n in range(PER_RECEIVER):
            for her_id in receivers:
                sent[her_id].append(routed(her_id, n))
        total = sum(len(messages) for messages in sent.values())
        amqp = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        channel = amqp.channel()
        try:
            worker = component(hub, kafka_bootstrap, register, mailbox, outbox)
            with running(worker, until_ready=True):
                produce(kafka_bootstrap, hub.outbound, [m for ms in sent.values() for m in ms])
                events = read_all(kafka_bootstrap, hub.events, total, timeout_s=60)
            delivered = [decode(e.value() or b"", MessageEvent) for e in events]
            assert len(delivered) == total
            assert {e.event_type for e in delivered} == {EventType.DELIVERED}
            kafka_topics = _read_topics(
                kafka_bootstrap,
                [
                    r.endpoint.address
                    for r in receivers.values()
                    if r.endpoint and r.endpoint.kind is EndpointKind.KAFKA
                ],
            )
            by_kind = {party.endpoint.kind for party in receivers.values() if party.endpoint}
            assert by_kind == set(KINDS)
            for her_id, receiver in receivers.items():
                assert receiver.endpoint is not None
                inbox = _inbox(receiver, channel, webhooks, mailbox, outbox, kafka_topics)
                expected = sorted(m.payload for m in sent[her_id])
                assert sorted(inbox) == expected, (receiver.endpoint.kind, her_id)
        finally:
            for receiver in receivers.values():
                if receiver.endpoint and receiver.endpoint.kind is EndpointKind.AMQP:
                    channel.queue_delete(receiver.endpoint.address)
            amqp.close()


def _inbox(
    receiver: CommunicationParty,
    channel: pika.adapters.blocking_connection.BlockingChannel,
    webhooks: WebhookReceiver,
    mailbox: MailboxStore,
    outbox: Path,
    kafka_topics: dict[str, list[Message]],
) -> list[bytes]:
    """What the receiver's own system finds, read back through its own transport."""
    assert receiver.endpoint is not None
    kind, address, her_id = receiver.endpoint.kind, receiver.endpoint.address, receiver.her_id
    if kind is EndpointKind.AMQP:
        bodies: list[bytes] = []
        while True:
            method, properties, body = channel.basic_get(address, auto_ack=True)
            if method is None:
                return bodies
            assert properties.headers["toHerId"] == str(her_id)
            assert properties.headers["fromHerId"] == str(SENDER)
            assert properties.delivery_mode == 2
            bodies.append(body)
    if kind is EndpointKind.WEBHOOK:
        received = webhooks.delivered(f"/hook/{her_id}")
        assert all(r.headers["X-Meldingshub-To-Her-Id"] == str(her_id) for r in received)
        return [r.body for r in received]
    if kind is EndpointKind.KAFKA:
        records = kafka_topics[address]
        assert {dict(r.headers() or [])["toHerId"] for r in records} == {str(her_id).encode()}
        return [r.value() or b"" for r in records]
    if kind is EndpointKind.FILE:
        return [path.read_bytes() for path in (outbox / address).glob("*.xml")]
    return _mailbox_over_http(mailbox, her_id)


def _read_topics(bootstrap: str, topics: list[str]) -> dict[str, list[Message]]:
    """Every committed record of the receivers' topics, read at once."""
    found: dict[str, list[Message]] = defaultdict(list)
    expected = PER_RECEIVER * len(topics)
    for record in read_many(bootstrap, topics, expected):
        found[record.topic() or ""].append(record)
    return found


def _mailbox_over_http(mailbox: MailboxStore, her_id: int) -> list[bytes]:
    token = f"token-{her_id}"
    principals = Principals(
        [Principal(f"p{her_id}", frozenset({her_id}), token_hashes=frozenset({token_hash(token)}))]
    )
    app = FastAPI()
    app.include_router(mailbox_router(mailbox, PrincipalsFile.fixed(principals)))
    client = TestClient(app)
    auth = {"Authorization": f"Bearer {token}"}
    listing = client.get("/v1/mailbox/messages", params={"receiverHerId": her_id}, headers=auth)
    assert listing.status_code == 200, listing.text
    bodies = []
    for item in listing.json()["messages"]:
        assert item["receiverHerId"] == her_id
        raw = client.get(
            f"/v1/mailbox/messages/{item['id']}", headers={**auth, "Accept": "application/xml"}
        )
        assert raw.status_code == 200
        bodies.append(raw.content)
    return bodies


def test_a_dripping_and_a_refusing_receiver_never_hold_up_a_healthy_one(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The issue's measurement: one webhook answers a byte a second, one refuses connections,
    one file outbox is healthy; with the default deadline (10 s) and answer wait, every healthy
    message is in its outbox within 10 s of being sent, throughout."""
    drip_her_id, refusing_her_id, healthy_her_id = 9_600_001, 9_600_002, 9_600_003
    mailbox = MailboxStore.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    outbox = tmp_path / "outbox"
    with hub_topics(kafka_bootstrap) as hub, DripServer(interval_s=1.0) as drip:
        register = RegisterIndex(
            [
                party(drip_her_id, EndpointKind.WEBHOOK, drip.url("/drip")),
                party(refusing_her_id, EndpointKind.WEBHOOK, "http://127.0.0.1:9/refuse"),
                party(healthy_her_id, EndpointKind.FILE, "healthy"),
                party(SENDER, EndpointKind.FILE, "sender"),
            ]
        )
        sent_at: dict[str, float] = {}
        seen_at: dict[str, float] = {}
        healthy_dir = outbox / "healthy"

        def look() -> None:
            for path in healthy_dir.glob("*.xml") if healthy_dir.exists() else ():
                seen_at.setdefault(path.stem, time.monotonic())

        worker = component(hub, kafka_bootstrap, register, mailbox, outbox)
        with running(worker, until_ready=True):
            for n in range(25):
                batch = [routed(r, n) for r in (drip_her_id, refusing_her_id, healthy_her_id)]
                produce(kafka_bootstrap, hub.outbound, batch)
                sent_at[batch[2].msg_id or ""] = time.monotonic()
                round_ends = time.monotonic() + 1.0
                while time.monotonic() < round_ends:
                    look()
                    time.sleep(0.05)

            def all_seen() -> bool:
                look()
                return seen_at.keys() >= sent_at.keys()

            wait_for(all_seen, 20, "healthy ones")
        late = {
            msg_id: round(seen_at[msg_id] - at, 1)
            for msg_id, at in sent_at.items()
            if seen_at[msg_id] - at > 10.0
        }
        assert not late, late
        assert drip.accepted >= 1  # the dripping receiver was really being called
