"""One poison message on any path is settled with a code; the running hub goes on (issue 15).

A fault is planted where no input should reach (the gate's envelope reading raises
for a marked document) so these tests hold whatever the parsers learn to refuse:
HTTP answers a 4xx problem, the file lands in ``failed/`` with its ``.error.json``,
AMQP puts it on the error queue, the Kafka copy dead-letters it, and messages after
it still go through. A ``hub.inbound`` record with a principal header that is not
UTF-8 is rejected, and the router routes what follows.
"""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import httpx
import pytest
from confluent_kafka import KafkaError, Message, Producer
from lxml import etree

import broker_adapters.ingress.gate as gate_module
from addressregister.index import RegisterIndex
from broker_adapters.delivery.worker import DeliveryComponent
from kafka_io import headers_of
from meldingshub.openapi import COMMITTED
from schemas import envelope as envelope_module
from schemas.catalogue import Catalogue
from schemas.envelope import EnvelopeReading
from schemas.records import (
    INBOUND_HEADER,
    InboundMessage,
    MessageEvent,
    RejectedMessage,
    RejectStage,
    RoutedMessage,
    decode,
    encode,
)
from tests.broker_adapters.ingress.support import (
    msghead_samples,
    with_new_msg_id,
)
from tests.support.corpus_register import Sample
from tests.support.hub import inbound_for
from tests.support.kafka import ProducedHeaders, read_all
from tests.support.running_hub import KAFKA_PRINCIPAL, PRINCIPAL, RunningHub, running_hub
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POISON = b"<!--poison-->"


def poisoned(raw: bytes) -> bytes:
    """``raw`` with the marker comment before its root element (still well-formed XML)."""
    if raw.startswith(b"<?xml"):
        end = raw.index(b"?>") + 2
        return raw[:end] + POISON + raw[end:]
    return POISON + raw


@pytest.fixture(scope="module")
def hub(
    kafka_bootstrap: str, register: RegisterIndex, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningHub]:
    def read_envelope(root: etree._Element, catalogue: Catalogue) -> EnvelopeReading:
        if any(node.text == "poison" for node in root.itersiblings(preceding=True)):
            raise ValueError("planted fault")
        return envelope_module.read_envelope(root, catalogue)

    process = DeliveryComponent._read

    def deliver(self: DeliveryComponent, consumed: Message, *args: Any) -> Any:
        if POISON in (consumed.value() or b""):
            raise ValueError("planted fault")
        return process(self, consumed, *args)

    patch = pytest.MonkeyPatch()
    patch.setattr(gate_module, "read_envelope", read_envelope)
    patch.setattr(DeliveryComponent, "_read", deliver)
    try:
        with running_hub(kafka_bootstrap, tmp_path_factory.mktemp("hub"), register) as running:
            yield running
    finally:
        patch.undo()


@pytest.fixture(scope="module")
def document(samples: list[Sample]) -> bytes:
    return msghead_samples(samples)[0].raw


def fresh(raw: bytes) -> bytes:
    return with_new_msg_id(raw)[0]


def drop_file(inbox: Path, raw: bytes) -> str:
    """Write then rename, as senders do; return the file's name."""
    name = f"{uuid.uuid4().hex}.xml"
    partial = inbox / f".{name}.part"
    partial.write_bytes(raw)
    partial.rename(inbox / name)
    return name


def assert_hub_well(hub: RunningHub) -> None:
    assert hub.alive(), "the hub process stopped"
    assert hub.restarts() == 0
    assert hub.readyz().status_code == 200


def test_http_answers_a_problem_and_takes_the_next_message(
    hub: RunningHub, document: bytes
) -> None:
    response = hub.post(poisoned(fresh(document)))
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "urn:meldingshub:problem:unprocessable"
    assert "planted" not in response.text
    assert hub.post(fresh(document)).status_code == 202
    assert_hub_well(hub)


def test_file_goes_to_failed_with_its_report_and_the_adapter_goes_on(
    hub: RunningHub, document: bytes
) -> None:
    bad = drop_file(hub.inbox, poisoned(fresh(document)))
    good = drop_file(hub.inbox, fresh(document))
    failed, done = hub.inbox / "failed", hub.inbox / "done"
    wait_for(lambda: (failed / bad).exists() and (done / good).exists(), 30, "files not settled")
    report = json.loads((failed / f"{bad}.error.json").read_text(encoding="utf-8"))
    assert report["reason"] == "unprocessable"
    assert not (hub.inbox / bad).exists() and not (hub.inbox / "processing" / bad).exists()
    assert_hub_well(hub)


def test_amqp_puts_it_on_the_error_queue_and_goes_on(hub: RunningHub, document: bytes) -> None:
    bad = poisoned(fresh(document))
    hub.publish(
        [
            (bad, {}),
            (fresh(document), {"fromHerId": "8094166\u00b2"}),  # '²'.isdigit() is True
            (fresh(document), {"fromHerId": b"\xff\xfe"}),  # not UTF-8
        ]
    )
    wait_for(lambda: hub.queue_depths()[0] == 0, 30, "AMQP deliveries not settled")
    errors = hub.drain_error_queue()
    assert bad in [body for body, _headers in errors]
    assert all(headers.get("errorCondition") for _body, headers in errors)
    hub.publish([(fresh(document), {})])
    wait_for(lambda: hub.queue_depths() == (0, 0), 30, "the next AMQP delivery was not taken")
    assert_hub_well(hub)


def produce(
    hub: RunningHub, topic: str, records: list[tuple[bytes, ProducedHeaders]]
) -> list[Message]:
    """Produce and return the delivered messages (with their positions)."""
    producer = Producer({"bootstrap.servers": hub.bootstrap, "message.max.bytes": 50_000_000})
    delivered: list[Message] = []

    def report(error: KafkaError | None, message: Message) -> None:
        assert error is None, error
        delivered.append(message)

    for value, headers in records:
        producer.produce(topic, value=value, headers=headers, on_delivery=report)
    assert producer.flush(30) == 0
    return delivered


def test_kafka_copy_dead_letters_it_and_goes_on(hub: RunningHub, document: bytes) -> None:
    header: ProducedHeaders = [("principal", KAFKA_PRINCIPAL.encode())]
    bad, good = produce(
        hub, hub.kafka_topic, [(poisoned(fresh(document)), header), (fresh(document), header)]
    )
    topics = hub.settings.kafka.topics
    bad_id = uuid5(NAMESPACE_URL, f"kafka:{bad.topic()}/{bad.partition()}/{bad.offset()}")
    good_id = uuid5(NAMESPACE_URL, f"kafka:{good.topic()}/{good.partition()}/{good.offset()}")

    def rejected_ids() -> set[uuid.UUID]:
        records = read_all(hub.bootstrap, topics.rejected.name, 0, 2)
        return {decode(r.value() or b"", RejectedMessage).hub_message_id for r in records}

    def inbound_ids() -> set[uuid.UUID]:
        records = read_all(hub.bootstrap, topics.inbound.name, 0, 2)
        return {
            decode(dict(headers_of(r))[INBOUND_HEADER], InboundMessage).hub_message_id
            for r in records
            if INBOUND_HEADER in dict(headers_of(r))
        }

    wait_for(lambda: bad_id in rejected_ids(), 60, "the poisoned record was not dead-lettered")
    wait_for(lambda: good_id in inbound_ids(), 60, "the next record was not copied")
    assert_hub_well(hub)


def test_inbound_record_with_a_non_utf8_principal_is_rejected_and_routing_goes_on(
    hub: RunningHub, document: bytes
) -> None:
    inbound = hub.settings.kafka.topics.inbound.name
    after, poisoned_principal = fresh(document), fresh(document)
    delivered = produce(
        hub,
        inbound,
        [
            (poisoned_principal, [("principal", b"\xff\xfe\x00")]),
            # written as ingress writes it: a raw header names no principal the hub trusts
            (after, [(INBOUND_HEADER, encode(inbound_for(after, PRINCIPAL)))]),
        ],
    )
    (bad,) = [m for m in delivered if m.value() == poisoned_principal]  # reports come in any order
    bad_id = uuid5(NAMESPACE_URL, f"kafka:{bad.topic()}/{bad.partition()}/{bad.offset()}")
    topics = hub.settings.kafka.topics

    def event_ids() -> set[uuid.UUID]:
        records = read_all(hub.bootstrap, topics.events.name, 0, 2)
        return {decode(r.value() or b"", MessageEvent).hub_message_id for r in records}

    def routed_payloads() -> list[bytes]:
        records = read_all(hub.bootstrap, topics.outbound.name, 0, 2)
        return [decode(r.value() or b"", RoutedMessage).payload for r in records]

    wait_for(lambda: bad_id in event_ids(), 60, "the record was not settled")
    wait_for(lambda: after in routed_payloads(), 60, "the record after it was not routed")
    assert_hub_well(hub)


def test_delivery_dead_letters_a_record_it_fails_on_and_goes_on(hub: RunningHub) -> None:
    outbound = hub.settings.kafka.topics.outbound.name
    (bad,) = produce(hub, outbound, [(POISON + b" not a routed message", [])])
    bad_id = uuid5(NAMESPACE_URL, f"kafka:{bad.topic()}/{bad.partition()}/{bad.offset()}")
    rejected = hub.settings.kafka.topics.rejected.name

    def dead_letters() -> dict[uuid.UUID, RejectedMessage]:
        records = read_all(hub.bootstrap, rejected, 0, 2)
        found = [decode(r.value() or b"", RejectedMessage) for r in records]
        return {r.hub_message_id: r for r in found}

    wait_for(lambda: bad_id in dead_letters(), 60, "the record was not dead-lettered")
    letter = dead_letters()[bad_id]
    assert letter.stage is RejectStage.DELIVERY
    assert "internal" in letter.reason and "planted" not in letter.reason
    assert_hub_well(hub)


def test_records_with_an_impossible_timestamp_are_settled(hub: RunningHub, document: bytes) -> None:
    """A timestamp no datetime holds: the Kafka copy and the router settle the record anyway."""
    header: ProducedHeaders = [("principal", KAFKA_PRINCIPAL.encode())]
    producer = Producer({"bootstrap.servers": hub.bootstrap})
    delivered: list[Message] = []

    def report(error: KafkaError | None, message: Message) -> None:
        assert error is None, error
        delivered.append(message)

    topics = hub.settings.kafka.topics
    for topic, headers in ((hub.kafka_topic, header), (topics.inbound.name, [])):
        producer.produce(
            topic, value=fresh(document), headers=headers, timestamp=2**62, on_delivery=report
        )
    assert producer.flush(30) == 0
    copied, raw = delivered
    ids = [
        uuid5(NAMESPACE_URL, f"kafka:{m.topic()}/{m.partition()}/{m.offset()}")
        for m in (copied, raw)
    ]

    def rejected_ids() -> set[uuid.UUID]:
        records = read_all(hub.bootstrap, topics.rejected.name, 0, 2)
        return {decode(r.value() or b"", RejectedMessage).hub_message_id for r in records}

    wait_for(lambda: set(ids) <= rejected_ids(), 60, "the records were not settled")
    assert_hub_well(hub)


def test_the_running_hub_serves_the_committed_openapi_document(hub: RunningHub) -> None:
    """One document for every API the hub serves, and it is what the hub serves."""
    served = httpx.get(f"{hub.api}/openapi.json", timeout=10).json()
    assert served == json.loads(COMMITTED.read_text(encoding="utf-8"))
