"""Kafka ingress: raw documents from native producers copied to hub.inbound exactly once."""

import uuid
from collections.abc import Sequence

import pytest
from confluent_kafka import Producer

from access.principals import Principal, Principals
from access.principals_file import PrincipalsFile
from addressregister.live import StaticRegister
from broker_adapters.ingress import IngressGate, IngressSettings
from broker_adapters.ingress.kafka import KafkaIngress
from kafka_io import ensure_topics
from kafka_io.settings import TopicSpec
from meldingshub.settings import Settings
from schemas.records import (
    RejectedMessage,
    RejectStage,
    decode,
)
from schemas.vocabulary import AppRecErrorCode
from tests.broker_adapters.ingress.support import (
    inbound_meta,
    msghead_samples,
    sender_ids,
    sender_organisation,
    with_new_msg_id,
)
from tests.support.corpus_register import Sample
from tests.support.hub import TopicFactory, isolated_settings
from tests.support.kafka import read_all
from tests.support.waiting import running

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def produce(bootstrap: str, records: Sequence[tuple[str, bytes, str | None]]) -> None:
    """``(topic, value, principal header)``: the header is what a producer could forge."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for topic, value, claimed in records:
        headers: list[tuple[str, str | bytes | None]] = (
            [("principal", claimed.encode())] if claimed else []
        )
        producer.produce(topic, value=value, headers=headers)
    assert producer.flush(30) == 0


def test_records_are_copied_once_and_refusals_dead_lettered(
    kafka_bootstrap: str,
    topic_factory: TopicFactory,
    samples: list[Sample],
    register_view: StaticRegister,
) -> None:
    settings: Settings = isolated_settings(kafka_bootstrap)
    prefix = f"ingress-{uuid.uuid4().hex[:8]}."
    ingress = IngressSettings(
        kafka_topic_prefix=prefix,
        kafka_group_id=f"ingress-{uuid.uuid4().hex[:8]}",
        kafka_discovery_s=1.0,
    )
    epj = Principal("epj", frozenset(sender_ids(samples)), kafka_principal="User:epj")
    other = Principal("other", frozenset({999_999_001}), kafka_principal="User:other")
    no_kafka = Principal("no-kafka", frozenset(sender_ids(samples)))
    source = PrincipalsFile.fixed(Principals([epj, other, no_kafka]))
    ensure_topics(
        {"bootstrap.servers": kafka_bootstrap},
        [
            TopicSpec(name=prefix + name, partitions=2)
            for name in ("epj", "other", "nobody", "no-kafka")
        ],
    )
    template = msghead_samples(samples)[0].raw
    good = [with_new_msg_id(template)[0] for _ in range(10)]
    produce(
        kafka_bootstrap,
        [(epj.kafka_topic(prefix), doc, None) for doc in good]
        + [
            (prefix + "nobody", template, "epj"),  # a topic no principal owns
            (epj.kafka_topic(prefix), b"not xml at all", None),
            (other.kafka_topic(prefix), template, "epj"),  # a header claiming epj proves nothing
            (no_kafka.kafka_topic(prefix), template, None),  # a principal not allowed Kafka
        ],
    )
    gate = IngressGate.create(settings.kafka, kafka_bootstrap, ingress, register_view)

    def adapter() -> KafkaIngress:
        return KafkaIngress(gate, source, settings.kafka, kafka_bootstrap, ingress)

    topics = settings.kafka.topics
    try:
        with running(adapter(), until_ready=True):
            copied = read_all(kafka_bootstrap, topics.inbound.name, len(good), 30)
            rejected = read_all(kafka_bootstrap, topics.rejected.name, 4, 30)
        # A second run of the same group starts after the committed offsets: no second copy.
        with running(adapter(), until_ready=True):
            again = read_all(kafka_bootstrap, topics.inbound.name, len(good), 10)
    finally:
        gate.close()

    assert sorted(r.value() or b"" for r in copied) == sorted(good)
    assert len(again) == len(good)
    for record in copied:
        meta = inbound_meta(record)
        assert record.key() == str(sender_organisation(record.value())).encode()
        assert (meta.adapter, meta.principal) == ("kafka", "epj")
        assert meta.transport_message_id
        assert meta.transport_message_id.startswith(epj.kafka_topic(prefix))
    dead = sorted(
        (decode(r.value() or b"", RejectedMessage) for r in rejected), key=lambda m: m.reason
    )
    assert {m.stage for m in dead} == {RejectStage.INGRESS}
    assert {(m.code, m.payload) for m in dead} == {
        (
            AppRecErrorCode.X99,
            template,
        ),  # unknown topic owner, no Kafka rights, spoofing by "other"
        (AppRecErrorCode.T01, b"not xml at all"),
    }
    assert len(dead) == 4
    assert sorted(str(m.ingress.principal) for m in dead) == ["None", "None", "epj", "other"]
