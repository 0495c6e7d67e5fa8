"""AMQP endpoint: publish to the receiver's ``<HerId>_async`` queue on RabbitMQ.

The queue layout of the health network's AMQP profile: one ``_async`` queue
per communication party, application properties ``fromHerId`` and ``toHerId``,
the MsgId as the AMQP message id. Messages are persistent and the channel uses
publisher confirms, so a publish counts as delivered only once the broker has
taken responsibility for it. The publish is outside the Kafka transaction: a
crash between confirm and commit re-publishes the same message with the same
``idempotencyKey`` header.
"""

import threading

import pika
import structlog
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError, NackError, UnroutableError

from addressregister.model import EndpointKind
from broker_adapters.delivery.base import Attempt, DeliveryEndpoint, Failed, HandedOver, Handover

log = structlog.get_logger(__name__)


def async_queue(her_id: int) -> str:
    """The AMQP profile's asynchronous inbound queue of a party."""
    return f"{her_id}_async"


class AmqpEndpoint(DeliveryEndpoint):
    """Publishes with confirms over one lazily opened connection, reopened after an error."""

    kind = EndpointKind.AMQP

    def __init__(self, url: str, *, declare_queues: bool = False, timeout_s: float = 10.0) -> None:
        self._parameters = pika.URLParameters(url)
        self._parameters.socket_timeout = timeout_s
        self._parameters.blocked_connection_timeout = timeout_s
        self._declare = declare_queues
        self._declared: set[str] = set()
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._lock = threading.Lock()

    def deliver(self, handover: Handover) -> Attempt:
        """Publish once; on a broken connection reconnect and publish once more.

        Calls come from the delivery pool; pika's connection is not thread-safe, so they
        take turns (one hub broker, not a receiver's system, answers them all)."""
        with self._lock:
            return self._deliver(handover)

    def _deliver(self, handover: Handover) -> Attempt:
        queue = handover.address or async_queue(handover.receiver_her_id)
        try:
            return self._publish(queue, handover)
        except UnroutableError:
            return Failed(f"AMQP queue {queue} does not exist")
        except NackError:
            return Failed(f"AMQP broker refused the message for queue {queue}")
        except AMQPError as first:
            self.close()
            log.info("AMQP connection lost; reconnecting", error=type(first).__name__)
            try:
                return self._publish(queue, handover)
            except UnroutableError:
                return Failed(f"AMQP queue {queue} does not exist")
            except AMQPError as exc:
                self.close()
                return Failed(f"AMQP broker unavailable ({type(exc).__name__})")

    def _publish(self, queue: str, handover: Handover) -> HandedOver:
        channel = self._open()
        if self._declare and queue not in self._declared:
            channel.queue_declare(queue, durable=True)
            self._declared.add(queue)
        message = handover.message
        headers: dict[str, str] = {
            "toHerId": str(handover.receiver_her_id),
            "hubMessageId": str(message.hub_message_id),
            "idempotencyKey": handover.idempotency_key,
        }
        if message.sender_her_id is not None:
            headers["fromHerId"] = str(message.sender_her_id)
        channel.basic_publish(
            exchange="",
            routing_key=queue,
            body=message.payload,
            properties=pika.BasicProperties(
                delivery_mode=pika.DeliveryMode.Persistent,
                message_id=handover.message_id,
                content_type="application/xml",
                headers=headers,
            ),
            mandatory=True,
        )
        return HandedOver()

    def _open(self) -> BlockingChannel:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        self.close()
        self._connection = pika.BlockingConnection(self._parameters)
        channel = self._connection.channel()
        channel.confirm_delivery()
        self._channel = channel
        return channel

    def close(self) -> None:
        """Close the connection (the next delivery opens a new one)."""
        connection, self._connection, self._channel = self._connection, None, None
        self._declared.clear()
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except AMQPError:
                log.debug("AMQP connection was already broken")
