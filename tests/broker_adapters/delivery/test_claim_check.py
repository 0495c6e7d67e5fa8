"""Claim checks through a real delivery worker: each receiver gets the whole document, which
the router wrote once; a document that cannot be read is given up with its reason."""

import dataclasses
from pathlib import Path

import pytest
from confluent_kafka import Message, Producer

from addressregister.index import RegisterIndex
from addressregister.model import EndpointKind
from broker_adapters.delivery import payloads
from broker_adapters.delivery.mailbox_store import MailboxStore, mailbox_id
from schemas.records import MessageEvent, PayloadRef, RejectedMessage, decode
from schemas.vocabulary import EventType
from tests.broker_adapters.delivery.support import (
    SENDER,
    component,
    hub_topics,
    party,
    produce,
    routed,
)
from tests.support.kafka import read_all
from tests.support.waiting import running, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TO_FILE, TO_MAILBOX = 9_400_001, 9_400_002


def _write_inbound(bootstrap: str, topic: str, document: bytes) -> PayloadRef:
    """The document on the inbound topic, as the gate writes it; where it landed."""
    landed: list[Message] = []
    producer = Producer(
        {"bootstrap.servers": bootstrap, "acks": "all", "message.max.bytes": 8 << 20}
    )
    producer.produce(
        topic,
        value=document,
        on_delivery=lambda err, msg: landed.append(msg) if err is None else None,
    )
    assert producer.flush(30) == 0
    where = landed[0]
    landed_topic, partition, offset = where.topic(), where.partition(), where.offset()
    assert landed_topic is not None and partition is not None and offset is not None
    return PayloadRef(landed_topic, partition, offset)


def test_each_receiver_gets_the_whole_document_its_claim_check_names(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    document = b'<?xml version="1.0"?><Test>' + b"x" * (2 * 1024 * 1024) + b"</Test>"
    mailbox = MailboxStore.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    outbox = tmp_path / "outbox"
    with hub_topics(kafka_bootstrap, max_attempts=1) as hub:
        register = RegisterIndex(
            [
                party(TO_FILE, EndpointKind.FILE, "file"),
                party(TO_MAILBOX, EndpointKind.MAILBOX, "mailbox"),
                party(SENDER, EndpointKind.FILE, "sender"),
            ]
        )
        where = _write_inbound(kafka_bootstrap, hub.kafka.topics.inbound.name, document)
        claims = [
            dataclasses.replace(routed(receiver, 0), payload=b"", payload_ref=where)
            for receiver in (TO_FILE, TO_MAILBOX)
        ]
        gone = dataclasses.replace(
            routed(TO_FILE, 1),
            payload=b"",
            payload_ref=dataclasses.replace(where, topic=hub.outbound),  # forged: not a document
        )
        produce(kafka_bootstrap, hub.outbound, [*claims, gone])
        worker = component(hub, kafka_bootstrap, register, mailbox, outbox)
        with running(worker, until_ready=True):
            events = [
                decode(r.value() or b"", MessageEvent)
                for r in read_all(kafka_bootstrap, hub.events, 5, 60)
            ]
            wait_for(lambda: any((outbox / "file").glob("*.xml")), 30, "the file delivery")
        delivered = {e.hub_message_id for e in events if e.event_type is EventType.DELIVERED}
        assert {c.hub_message_id for c in claims} <= delivered
        assert gone.hub_message_id not in delivered
        assert [p.read_bytes() for p in (outbox / "file").glob("*.xml")] == [document]
        found = mailbox.get(mailbox_id(claims[1].hub_message_id, TO_MAILBOX))
        assert found is not None and found.payload == document
        failed = [e for e in events if e.event_type is EventType.DELIVERY_FAILED]
        assert [e.hub_message_id for e in failed] == [gone.hub_message_id]
        letters = [
            decode(r.value() or b"", RejectedMessage)
            for r in read_all(kafka_bootstrap, hub.rejected, 1, 30)
        ]
        assert [letter.hub_message_id for letter in letters] == [gone.hub_message_id]
        assert "may name only" in letters[0].reason


def test_a_failing_client_is_a_retriable_unavailability_never_an_exception(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever the Kafka client raises, delivery gets a Failed it can settle, and a fresh
    client on the next read."""
    made: list[object] = []

    class Broken:
        def __init__(self, _config: object) -> None:
            made.append(self)

        def list_topics(self, *_args: object, **_kwargs: object) -> object:
            raise RuntimeError("client bug")

        def close(self) -> None:
            return None

    monkeypatch.setattr(payloads, "Consumer", Broken)
    fetcher = payloads.PayloadFetcher({}, "hub.inbound", timeout_s=1)
    for _ in range(2):
        with pytest.raises(payloads.PayloadUnavailableError) as failed:
            fetcher.read(PayloadRef("hub.inbound", 0, 7))
        assert not failed.value.permanent
    assert len(made) == 2  # the broken client was dropped
