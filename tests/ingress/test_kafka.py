"""Kafka ingress: raw documents from native producers copied to hub.inbound exactly once."""

import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest
from confluent_kafka import Producer

from broker_adapters.ingress import IngressGate, IngressSettings
from broker_adapters.ingress.kafka import KafkaIngress
from meldingshub.settings import Settings
from routing.principals import Principal, Principals, PrincipalsFile
from schemas.records import (
    RejectedMessage,
    RejectStage,
    decode,
)
from schemas.vocabulary import AppRecError
from tests.ingress.support import (
    inbound_meta,
    msghead_samples,
    sender_ids,
    wait_for,
    with_new_msg_id,
)
from tests.support.corpus_register import Sample
from tests.support.hub import TopicFactory, isolated_settings
from tests.support.kafka import read_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@contextmanager
def running(adapter: KafkaIngress) -> Iterator[KafkaIngress]:
    stop = threading.Event()
    thread = threading.Thread(target=adapter.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(adapter.ready, 30, "the Kafka ingress did not get its partitions")
        yield adapter
    finally:
        stop.set()
        thread.join(30)
        assert not thread.is_alive()


def produce(bootstrap: str, topic: str, records: Sequence[tuple[bytes, str | None]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for value, principal in records:
        headers: list[tuple[str, str | bytes | None]] = (
            [("principal", principal.encode())] if principal else []
        )
        producer.produce(topic, value=value, headers=headers)
    assert producer.flush(30) == 0


def test_records_are_copied_once_and_refusals_dead_lettered(
    kafka_bootstrap: str, topic_factory: TopicFactory, samples: list[Sample]
) -> None:
    settings: Settings = isolated_settings(kafka_bootstrap)
    ingress_topic = topic_factory("ingress", partitions=2)
    ingress = IngressSettings(
        kafka_topic=ingress_topic, kafka_group_id=f"ingress-{uuid.uuid4().hex[:8]}"
    )
    source = PrincipalsFile.fixed(
        Principals(
            [
                Principal("epj", frozenset(sender_ids(samples)), kafka_principal="User:epj"),
                Principal("other", frozenset({999_999_001}), kafka_principal="User:other"),
            ]
        )
    )
    template = msghead_samples(samples)[0].raw
    good = [with_new_msg_id(template)[0] for _ in range(10)]
    produce(
        kafka_bootstrap,
        ingress_topic,
        [(doc, "User:epj") for doc in good]
        + [(template, "User:nobody"), (b"not xml at all", "User:epj"), (template, "User:other")],
    )
    gate = IngressGate.create(settings.kafka, kafka_bootstrap, ingress)

    def adapter() -> KafkaIngress:
        return KafkaIngress(gate, source, settings.kafka, kafka_bootstrap, ingress, "test")

    topics = settings.kafka.topics
    try:
        with running(adapter()):
            copied = read_all(kafka_bootstrap, topics.inbound.name, len(good), 30)
            rejected = read_all(kafka_bootstrap, topics.rejected.name, 3, 30)
        # A second run of the same group starts after the committed offsets: no second copy.
        with running(adapter()):
            again = read_all(kafka_bootstrap, topics.inbound.name, len(good), 10)
    finally:
        gate.close()

    assert sorted(r.value() or b"" for r in copied) == sorted(good)
    assert len(again) == len(good)
    for record in copied:
        meta = inbound_meta(record)
        assert record.key() == b"epj"
        assert (meta.adapter, meta.principal) == ("kafka", "epj")
        assert meta.transport_message_id and meta.transport_message_id.startswith(ingress_topic)
    dead = sorted(
        (decode(r.value() or b"", RejectedMessage) for r in rejected), key=lambda m: m.reason
    )
    assert {m.stage for m in dead} == {RejectStage.INGRESS}
    assert {(m.code, m.payload) for m in dead} == {
        (AppRecError.X99, template),  # unknown Kafka principal, and spoofing by "other"
        (AppRecError.T01, b"not xml at all"),
    }
    assert len(dead) == 3
    assert {m.ingress.principal for m in dead} == {None, "epj", "other"}
