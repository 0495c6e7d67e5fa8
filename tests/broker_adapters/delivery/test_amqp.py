"""The AMQP endpoint against the real RabbitMQ: the AMQP profile's queue and properties,
persistence with confirms, and failures that are retried."""

import uuid
from collections.abc import Iterator

import pika
import pytest
from pika.adapters.blocking_connection import BlockingChannel

from broker_adapters.delivery.amqp import AmqpEndpoint, async_queue
from broker_adapters.delivery.base import Failed, HandedOver, Handover
from tests.broker_adapters.delivery.support import SENDER, routed

pytestmark = pytest.mark.integration

URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


@pytest.fixture
def channel() -> Iterator[BlockingChannel]:
    connection = pika.BlockingConnection(pika.URLParameters(URL))
    yield connection.channel()
    connection.close()


def test_publishes_persistently_to_the_receivers_async_queue(channel: BlockingChannel) -> None:
    her_id = 9_700_000 + uuid.uuid4().int % 99_999
    queue = f"{uuid.uuid4().hex[:8]}-{async_queue(her_id)}"
    endpoint = AmqpEndpoint(URL, declare_queues=True)
    message = routed(her_id, 1)
    try:
        assert endpoint.deliver(Handover(message, queue, 1)) == HandedOver()
        assert endpoint.deliver(Handover(routed(her_id, 2), queue, 1)) == HandedOver()
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        assert method is not None and body == message.payload
        assert properties.delivery_mode == 2
        assert properties.message_id == message.msg_id
        assert properties.headers == {
            "fromHerId": str(SENDER),
            "toHerId": str(her_id),
            "hubMessageId": str(message.hub_message_id),
            "idempotencyKey": f"{message.hub_message_id}:{her_id}",
        }
        assert channel.queue_declare(queue, passive=True).method.message_count == 1
    finally:
        endpoint.close()
        channel.queue_delete(queue)


def test_a_missing_queue_and_an_unreachable_broker_are_retried() -> None:
    endpoint = AmqpEndpoint(URL, declare_queues=False)
    missing = f"{uuid.uuid4().hex}_async"
    try:
        result = endpoint.deliver(Handover(routed(9_700_001, 1), missing, 1))
    finally:
        endpoint.close()
    assert result == Failed(f"AMQP queue {missing} does not exist")
    down = AmqpEndpoint("amqp://guest:guest@127.0.0.1:9/%2F", timeout_s=1)
    result = down.deliver(Handover(routed(9_700_001, 1), "", 1))
    assert isinstance(result, Failed) and not result.permanent
    assert result.reason.startswith("AMQP broker unavailable")
