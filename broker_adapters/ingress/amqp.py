"""AMQP ingress (RabbitMQ): one inbound queue per principal, acked only after the durable write.

Each principal that names an ``amqp_inbound_queue`` sends there (RabbitMQ's own
credentials and permissions decide who may publish to which queue, so the queue
identifies the principal). Deliveries are screened and written to ``hub.inbound``
in the background, many at once (up to the prefetch); each is acked only when
the broker confirmed its write. Transport-level errors go to the principal's
error queue with an ``errorCondition`` header, as the health network's AMQP
profile does, and are acked only once that publish is confirmed: nothing is
dropped. When Kafka cannot take writes, deliveries are returned to the queue and
consumption pauses for ``retry_after_s``.

The queue set is read when (re)connecting; a principal added later is served
after the next reconnect or restart.
"""

import functools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pika
import pika.exceptions
import structlog
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

from access.principals import Principal, Principals
from access.principals_file import PrincipalsFile
from broker_adapters.ingress.base import (
    Accepted,
    IngressAdapter,
    Outcome,
    RefusalReason,
    Refused,
    Submission,
)
from broker_adapters.ingress.gate import IngressGate
from hubcore.errors import describe
from schemas.identifiers import parse_her_id

log = structlog.get_logger(__name__)

ERROR_CONDITIONS: dict[RefusalReason, str] = {
    RefusalReason.NOT_XML: "transport:not-well-formed-xml",
    RefusalReason.SENDER_NOT_ALLOWED: "abuse:spoofing-attack",
    RefusalReason.TOO_LARGE: "transport:unsupported-message",
    RefusalReason.UNSUPPORTED_MEDIA_TYPE: "transport:unsupported-message",
    RefusalReason.BAD_REQUEST: "transport:invalid-field-value",
    RefusalReason.UNAUTHENTICATED: "abuse:spoofing-attack",
    RefusalReason.UNPROCESSABLE: "transport:unsupported-message",
}
"""``errorCondition`` values of the AMQP profile for each permanent refusal (as
Helsenorge.Messaging spells them: ``transport:`` for faults of form, ``abuse:`` for
spoofing; a bad header field such as ``fromHerId`` is ``transport:invalid-field-value``).
The router's later refusals: :mod:`broker_adapters.ingress.amqp_errors`."""

FROM_HER_ID = "fromHerId"
_MAX_RECONNECT_BACKOFF_S = 30.0


def error_queue_for(principal: Principal) -> str | None:
    """The principal's error queue: configured, or ``<HerId>_async`` → ``<HerId>_error``."""
    if principal.amqp_error_queue:
        return principal.amqp_error_queue
    inbound = principal.amqp_inbound_queue
    if not inbound:
        return None
    stem = inbound.removesuffix("_async")
    return f"{stem}_error"


@dataclass(frozen=True, slots=True)
class _Delivery:
    principal: Principal
    delivery_tag: int
    properties: pika.BasicProperties
    body: bytes = field(repr=False)
    generation: int


class AmqpIngress(IngressAdapter):
    """Consumes every principal's inbound queue on one connection."""

    name = "ingress-amqp"
    transport = "amqp"

    def __init__(
        self,
        gate: IngressGate,
        principals: PrincipalsFile,
        url: str,
        prefetch: int = 200,
    ) -> None:
        self._gate = gate
        self._principals = principals
        self._parameters = pika.URLParameters(url)
        self._prefetch = prefetch
        self._retry_after_s = gate.settings.retry_after_s
        self._ready = threading.Event()
        self._settled: deque[tuple[_Delivery, Outcome]] = deque()
        self._in_flight = 0
        self._generation = 0
        self._resume_at = 0.0
        self._consumer_tags: list[str] = []
        self._queues: dict[str, Principal] = {}
        self._bound: Principals | None = None

    def ready(self) -> bool:
        """Connected, consuming, and Kafka took the last writes."""
        return self._ready.is_set()

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set, reconnecting with backoff when RabbitMQ goes away."""
        backoff = 0.5
        while not stop.is_set():
            try:
                self._serve(stop)
                backoff = 0.5
            except pika.exceptions.AMQPError as exc:
                self._ready.clear()
                log.warning(
                    "AMQP connection lost; reconnecting",
                    error=type(exc).__name__,
                    retry_in_s=backoff,
                )
                stop.wait(backoff)
                backoff = min(backoff * 2, _MAX_RECONNECT_BACKOFF_S)

    # -- one connection -----------------------------------------------------------------

    def _serve(self, stop: threading.Event) -> None:
        connection = BlockingConnection(self._parameters)
        self._generation += 1
        self._settled.clear()
        self._in_flight = 0
        try:
            consumer = connection.channel()
            consumer.basic_qos(prefetch_count=self._prefetch)
            publisher = connection.channel()
            publisher.confirm_delivery()
            self._declare(consumer)
            self._consume(connection, consumer)
            while not stop.is_set():
                connection.process_data_events(time_limit=0.2)
                self._drain(consumer, publisher)
                self._rebind(connection, consumer)
                self._pace(connection, consumer)
            self._shutdown(connection, consumer, publisher)
        finally:
            self._ready.clear()
            self._consumer_tags = []
            if connection.is_open:
                connection.close()

    def _declare(self, channel: BlockingChannel) -> None:
        self._bound = self._principals.current()
        self._queues = {p.amqp_inbound_queue: p for p in self._bound if p.amqp_inbound_queue}
        if not self._queues:
            log.warning("no principal has an amqp_inbound_queue; the AMQP adapter is idle")
        for queue, principal in self._queues.items():
            channel.queue_declare(queue, durable=True)
            error_queue = error_queue_for(principal)
            if error_queue:
                channel.queue_declare(error_queue, durable=True)
        log.info("AMQP ingress consuming", queues=len(self._queues))

    def _rebind(self, connection: BlockingConnection, channel: BlockingChannel) -> None:
        """Follow the principals file: a revoked principal's queue stops being consumed (its
        messages stay queued, unacknowledged ones are returned), a new one's starts."""
        current = self._principals.current()
        if current is self._bound:  # the file object changes only when it was re-read
            return
        wanted = {p.amqp_inbound_queue: p for p in current if p.amqp_inbound_queue}
        if wanted == self._queues:
            self._bound = current
            return
        paused = not self._consumer_tags
        for tag in self._consumer_tags:
            channel.basic_cancel(tag)
        self._consumer_tags = []
        self._declare(channel)
        if not paused:
            self._consume(connection, channel)

    def _consume(self, connection: BlockingConnection, channel: BlockingChannel) -> None:
        generation = self._generation
        self._consumer_tags = [
            channel.basic_consume(
                queue,
                functools.partial(self._on_message, connection, principal, generation),
                auto_ack=False,
            )
            for queue, principal in self._queues.items()
        ]
        self._ready.set()

    def _pace(self, connection: BlockingConnection, channel: BlockingChannel) -> None:
        """Pause consuming while Kafka refuses writes; resume after ``retry_after_s``."""
        now = time.monotonic()
        if self._consumer_tags and now < self._resume_at:
            self._ready.clear()
            for tag in self._consumer_tags:
                channel.basic_cancel(tag)
            self._consumer_tags = []
            log.warning("AMQP consumption paused: Kafka does not take writes")
        elif not self._consumer_tags and now >= self._resume_at:
            self._consume(connection, channel)

    def _shutdown(
        self, connection: BlockingConnection, consumer: BlockingChannel, publisher: BlockingChannel
    ) -> None:
        """Stop taking deliveries, then settle the writes still in flight."""
        for tag in self._consumer_tags:
            consumer.basic_cancel(tag)
        self._consumer_tags = []
        deadline = time.monotonic() + self._gate.settings.write_timeout_s + 2.0
        while self._in_flight and time.monotonic() < deadline:
            connection.process_data_events(time_limit=0.1)
            self._drain(consumer, publisher)

    # -- deliveries -----------------------------------------------------------------------

    def _on_message(
        self,
        connection: BlockingConnection,
        principal: Principal,
        generation: int,
        _channel: BlockingChannel,
        method: Any,
        properties: pika.BasicProperties,
        body: bytes,
    ) -> None:
        current = self._principals.current().get(principal.name)
        if current is None or current.amqp_inbound_queue != principal.amqp_inbound_queue:
            # Revoked since the queue was bound: not accepted, back to its queue until rebound.
            _channel.basic_nack(method.delivery_tag, requeue=True)
            return
        delivery = _Delivery(current, method.delivery_tag, properties, body, generation)
        self._in_flight += 1

        def done(outcome: Outcome) -> None:
            # Runs on the producer's thread: hand the outcome to the connection's thread.
            try:
                connection.add_callback_threadsafe(
                    functools.partial(self._settled.append, (delivery, outcome))
                )
            except Exception as exc:  # connection gone: RabbitMQ requeues the delivery
                log.warning("AMQP outcome dropped: connection closed", error=type(exc).__name__)

        try:
            headers = properties.headers or {}
            claimed = headers.get(FROM_HER_ID)
            claimed_her_id = parse_her_id(claimed)
            if claimed is not None and claimed_her_id is None:
                self._in_flight -= 1  # _refuse_header counts it in flight itself
                self._refuse_header(delivery)
                return
            submission = Submission(
                raw=body,
                principal=current,
                adapter="amqp",
                received_at=datetime.now(UTC),
                transport_message_id=properties.message_id,
                content_type=properties.content_type,
                claimed_sender_her_id=claimed_her_id,
            )
            self._gate.submit_async(submission, done)
        except Exception as exc:  # settle it to the error queue; the adapter goes on
            log.error("AMQP delivery could not be submitted", error=describe(exc))
            self._gate.count_received("amqp")
            refused = Refused(
                RefusalReason.UNPROCESSABLE,
                f"the hub could not take this message ({type(exc).__name__})",
            )
            self._gate.count_refused("amqp", refused)
            self._settled.append((delivery, refused))

    def _refuse_header(self, delivery: _Delivery) -> None:
        """A ``fromHerId`` that is no HER-id: refused to the error queue like any bad input."""
        refused = Refused(
            RefusalReason.BAD_REQUEST, f"the {FROM_HER_ID} header is not a HER-id (1-9 digits)"
        )
        self._gate.count_received("amqp")
        self._gate.count_refused("amqp", refused)
        self._in_flight += 1
        self._settled.append((delivery, refused))

    def _drain(self, consumer: BlockingChannel, publisher: BlockingChannel) -> None:
        while self._settled:
            delivery, outcome = self._settled.popleft()
            self._in_flight -= 1
            if delivery.generation != self._generation:
                continue  # its channel is gone; RabbitMQ has requeued it
            if not (consumer.is_open and publisher.is_open):
                continue  # closed under us: RabbitMQ requeues it; the reconnect follows
            try:
                self._settle(consumer, publisher, delivery, outcome)
            except pika.exceptions.AMQPError as exc:
                # A channel closed mid-settle: RabbitMQ requeues what was not acked.
                log.warning("AMQP settle failed; delivery requeued", error=type(exc).__name__)

    def _settle(
        self,
        consumer: BlockingChannel,
        publisher: BlockingChannel,
        delivery: _Delivery,
        outcome: Outcome,
    ) -> None:
        tag = delivery.delivery_tag
        if isinstance(outcome, Accepted):
            consumer.basic_ack(tag)
            return
        if outcome.transient:
            consumer.basic_nack(tag, requeue=True)
            self._resume_at = time.monotonic() + self._retry_after_s
            return
        if self._to_error_queue(publisher, delivery, outcome):
            consumer.basic_ack(tag)
        else:
            consumer.basic_nack(tag, requeue=True)
            self._resume_at = time.monotonic() + self._retry_after_s

    def _to_error_queue(
        self, publisher: BlockingChannel, delivery: _Delivery, refused: Refused
    ) -> bool:
        queue = error_queue_for(delivery.principal)
        condition = ERROR_CONDITIONS.get(refused.reason, "unsupported-message")
        if queue is None:
            log.error("no error queue for principal", principal=delivery.principal.name)
            return False
        original = delivery.properties
        headers = dict(original.headers or {})
        headers.update({"errorCondition": condition, "errorDescription": refused.detail})
        properties = pika.BasicProperties(
            content_type=original.content_type,
            message_id=original.message_id,
            correlation_id=original.correlation_id,
            headers=headers,
            delivery_mode=pika.DeliveryMode.Persistent,
        )
        try:
            try:
                publisher.basic_publish("", queue, delivery.body, properties, mandatory=True)
            except (TypeError, ValueError, pika.exceptions.UnsupportedAMQPFieldException):
                # Original headers pika cannot send back: the error headers alone.
                properties.headers = {k: headers[k] for k in ("errorCondition", "errorDescription")}
                publisher.basic_publish("", queue, delivery.body, properties, mandatory=True)
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as exc:
            log.error("error queue did not take the message", queue=queue, error=type(exc).__name__)
            return False
        log.info(
            "message refused to the error queue",
            principal=delivery.principal.name,
            error_condition=condition,
            # No transport message id: the sender chooses it and may put anything in it.
        )
        return True
