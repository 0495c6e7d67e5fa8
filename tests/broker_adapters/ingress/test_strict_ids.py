"""A ``fromHerId`` header or a receiver id in Unicode digits never stops a running adapter."""

import pytest
from prometheus_client import CollectorRegistry

from addressregister.live import StaticRegister
from broker_adapters.ingress import IngressGate, IngressSettings
from broker_adapters.ingress.amqp import AmqpIngress
from kafka_io.settings import KafkaSettings
from metrics.ingress import IngressMetrics
from tests.broker_adapters.ingress.support import (
    inbound_meta,
    msghead_samples,
    with_new_msg_id,
)
from tests.broker_adapters.ingress.test_amqp import (
    RABBITMQ,
    Queues,
    drain,
    principals,
    publish,
    queues,
    ready_count,
)
from tests.support.corpus_register import Sample
from tests.support.kafka import read_all
from tests.support.waiting import running, wait_for

pytestmark = pytest.mark.integration
__all__ = ["queues"]  # the fixture, imported so this module can use it


def test_odd_from_her_id_headers_go_to_the_error_queue_and_the_next_message_is_written(
    kafka_settings: KafkaSettings,
    kafka_bootstrap: str,
    topic_factory: object,
    samples: list[Sample],
    register_view: StaticRegister,
    queues: Queues,
) -> None:
    inbound_topic = topic_factory("inbound", partitions=1)  # type: ignore[operator]
    topics = kafka_settings.topics.model_copy(
        update={"inbound": kafka_settings.topics.inbound.model_copy(update={"name": inbound_topic})}
    )
    kafka = kafka_settings.model_copy(update={"topics": topics})
    template = msghead_samples(samples)[0]
    sender = str(template.envelope.sender.organisation_her_id)
    odd = {f"odd-{i}": value for i, value in enumerate([sender + "²", "١٢٣", b"\xff\xfe", "12_3"])}
    good = with_new_msg_id(template.raw)[0]
    publish(
        queues.inbound,
        [(mid, template.raw, {"fromHerId": value}) for mid, value in odd.items()]
        + [("good", good, {"fromHerId": sender})],
    )
    registry = CollectorRegistry()
    gate = IngressGate.create(
        kafka, kafka_bootstrap, IngressSettings(), register_view, IngressMetrics(registry)
    )
    try:
        with running(AmqpIngress(gate, principals(samples, queues), RABBITMQ, prefetch=8)):
            records = read_all(kafka_bootstrap, inbound_topic, 1, 30)
            wait_for(lambda: ready_count(queues.error) == len(odd), 15, "odd headers not refused")
            wait_for(lambda: ready_count(queues.inbound) == 0, 15, "inbound queue not drained")
    finally:
        gate.close()
    assert [inbound_meta(r).transport_message_id for r in records] == ["good"]
    errors = {props.message_id: props for props, _body in drain(queues.error)}
    assert set(errors) == set(odd)
    for props in errors.values():
        assert props.headers["errorCondition"] == "transport:invalid-field-value"
        assert "fromHerId" in props.headers["errorDescription"]
    assert registry.get_sample_value(
        "meldingshub_ingress_refused_total", {"adapter": "amqp", "reason": "bad_request"}
    ) == len(odd)
