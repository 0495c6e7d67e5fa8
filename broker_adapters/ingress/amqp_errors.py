"""The AMQP error-queue message for a message the router refused, sent to the AMQP sender.

The NHN AMQP profile (Helsenorge.Messaging) tells a sender about a transport-level
fault — a document that is not well-formed or does not validate, a message
format the receiver does not support, a spoofed sender — on the sender's own
error queue, besides the negative AppRec; faults of content (an unknown
receiver, a bad patient id) get the AppRec alone. The AMQP ingress already does
so for what it refuses itself. This module does it for what the router refuses
later (T01, T02, T10, T99, and X99 for spoofing) of a message that came in over
AMQP, so an AMQP sender hears of those faults the same way wherever the hub
found them.

Why here and not in the router or delivery: the router knows nothing about
transports and commits in Kafka transactions that a RabbitMQ publish cannot
join; delivery sends the AppRec to wherever the sender *receives* (its register
endpoint, maybe not AMQP at all) and its AppRec record no longer carries the
original's transport. ``hub.rejected`` carries everything needed — the ingress
adapter, the principal, the transport message id, the code and the safe reason —
and the error queue belongs to the principal, which the AMQP adapter's
principals file names. So a small consumer of ``hub.rejected`` beside the AMQP
ingress publishes the error message (publisher confirms) and only then commits
its offsets: at least once, and a repeat carries the same ``message_id``.

Like the profile's error message, it is the original's transport message
without the payload: ``fromHerId``/``toHerId`` turned round, ``originalMessageId``,
``receiverTimeStamp``, ``errorCondition``, ``errorDescription`` and
``errorConditionData`` (the AppRec code, so the sender can match the AppRec).
"""

import contextlib
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pika
import pika.exceptions
import structlog
from confluent_kafka import Consumer, Message, TopicPartition
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

from access.principals_file import PrincipalsFile
from broker_adapters.ingress.amqp import error_queue_for
from kafka_io import consumer_config, readable
from kafka_io.settings import KafkaSettings
from kafka_io.transactional import rewind_to_committed
from schemas.records import RejectedMessage, RejectStage, decode
from schemas.vocabulary import SPOOFING_REASON_PREFIX, AppRecErrorCode

log = structlog.get_logger(__name__)

NOT_WELL_FORMED = "transport:not-well-formed-xml"
UNSUPPORTED = "transport:unsupported-message"
INVALID_FIELD = "transport:invalid-field-value"
SPOOFING = "abuse:spoofing-attack"
"""``errorCondition`` values of the profile."""

ROUTER_CONDITIONS: dict[AppRecErrorCode, str] = {
    AppRecErrorCode.T01: NOT_WELL_FORMED,
    AppRecErrorCode.T02: NOT_WELL_FORMED,  # the profile reports schema validation this way too
    AppRecErrorCode.T10: UNSUPPORTED,
    AppRecErrorCode.T99: UNSUPPORTED,
}
"""The router's format rejections that are transport-level faults; the other codes are
faults of content, answered by the AppRec alone."""

GROUP_ID = "hub.ingress-amqp.rejections"
MAX_AGE = timedelta(hours=24)
"""A rejection older than this is not reported any more (a group starting afresh must not
flood error queues with history)."""
_BATCH = 100
_MAX_BACKOFF_S = 30.0


def error_condition(rejected: RejectedMessage) -> str | None:
    """The profile's ``errorCondition`` for a router rejection of an AMQP message, or None
    when the sender is told by AppRec alone (or the message did not come over AMQP)."""
    if rejected.stage is not RejectStage.ROUTER or rejected.ingress.adapter != "amqp":
        return None
    if rejected.reason.startswith(SPOOFING_REASON_PREFIX):
        return SPOOFING
    return ROUTER_CONDITIONS.get(rejected.code)


def error_headers(
    condition: str,
    description: str,
    original_message_id: str | None,
    now: datetime,
    data: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The application properties of the profile's error message."""
    headers: dict[str, Any] = {
        "errorCondition": condition,
        "errorDescription": description,
        "receiverTimeStamp": now.astimezone(UTC).isoformat(),
    }
    if original_message_id:
        headers["originalMessageId"] = original_message_id
    if data:
        headers["errorConditionData"] = "".join(f"{item};" for item in data)
    return headers


def error_message(
    rejected: RejectedMessage, condition: str, hub_her_id: int, now: datetime
) -> pika.BasicProperties:
    """Properties of the error message for ``rejected`` (it has no body: no payload)."""
    original = rejected.ingress.transport_message_id
    headers = error_headers(
        condition,
        rejected.reason,
        original,
        now,
        (rejected.code.value, str(rejected.hub_message_id)),
    )
    headers["fromHerId"] = hub_her_id
    if rejected.sender_her_id is not None:
        headers["toHerId"] = rejected.sender_her_id
    return pika.BasicProperties(
        message_id=original or str(rejected.hub_message_id),
        correlation_id=original or str(rejected.hub_message_id),
        headers=headers,
        delivery_mode=pika.DeliveryMode.Persistent,
    )


class AmqpRejectionReporter:
    """Reads ``hub.rejected`` and tells AMQP senders of the router's transport-level
    rejections on their error queues; a hub component beside the AMQP ingress."""

    name = "ingress-amqp-rejections"

    def __init__(
        self,
        principals: PrincipalsFile,
        kafka: KafkaSettings,
        bootstrap_servers: str,
        url: str,
        hub_her_id: int,
        group_id: str = GROUP_ID,
    ) -> None:
        self._principals = principals
        self._kafka = kafka
        self._bootstrap = bootstrap_servers
        self._parameters = pika.URLParameters(url)
        self._hub_her_id = hub_her_id
        self._group_id = group_id
        self._ready = threading.Event()
        self._connection: BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    def ready(self) -> bool:
        """Consuming, and RabbitMQ took the last error messages."""
        return self._ready.is_set()

    def run(self, stop: threading.Event) -> None:
        """Report until ``stop`` is set; RabbitMQ down: rewind, back off and try again."""
        consumer = Consumer(consumer_config(self._kafka, self._bootstrap, self._group_id))
        consumer.subscribe([self._kafka.topics.rejected.name])
        backoff = 0.5
        try:
            while not stop.is_set():
                records = readable(consumer.consume(_BATCH, timeout=0.5))
                if not records:
                    self._ready.set()
                    continue
                try:
                    self._report_all(records)
                except pika.exceptions.AMQPError as exc:
                    self._ready.clear()
                    self._disconnect()
                    log.warning(
                        "AMQP error queue unreachable; rejections wait",
                        error=type(exc).__name__,
                        retry_in_s=backoff,
                    )
                    rewind_to_committed(consumer)
                    stop.wait(backoff)
                    backoff = min(backoff * 2, _MAX_BACKOFF_S)
                    continue
                backoff = 0.5
                consumer.commit(offsets=_next_offsets(records), asynchronous=False)
                self._ready.set()
        finally:
            self._ready.clear()
            consumer.close()
            self._disconnect()

    def _report_all(self, records: list[Message]) -> None:
        now = datetime.now(UTC)
        for record in records:
            if record.error() is not None or record.value() is None:
                continue
            try:
                rejected = decode(record.value() or b"", RejectedMessage)
            except Exception as exc:  # not ours to repair: hub.rejected's own readers say so
                log.warning("unreadable rejection skipped", error=type(exc).__name__)
                continue
            condition = error_condition(rejected)
            if condition is None or now - rejected.rejected_at > MAX_AGE:
                continue
            self._report(rejected, condition, now)

    def _report(self, rejected: RejectedMessage, condition: str, now: datetime) -> None:
        principal = self._principals.current().get(rejected.ingress.principal)
        queue = error_queue_for(principal) if principal is not None else None
        if queue is None:
            log.warning(
                "no error queue for a rejected AMQP message; the AppRec alone tells the sender",
                message_id=str(rejected.hub_message_id),
            )
            return
        channel = self._open_channel()
        channel.queue_declare(queue, durable=True)
        properties = error_message(rejected, condition, self._hub_her_id, now)
        channel.basic_publish("", queue, b"", properties, mandatory=True)
        log.info(
            "router rejection reported to the error queue",
            message_id=str(rejected.hub_message_id),
            code=rejected.code.value,
            error_condition=condition,
        )

    def _open_channel(self) -> BlockingChannel:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        self._disconnect()
        self._connection = BlockingConnection(self._parameters)
        channel = self._connection.channel()
        channel.confirm_delivery()
        self._channel = channel
        return channel

    def _disconnect(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError):  # going away anyway
                connection.close()


def _next_offsets(records: list[Message]) -> list[TopicPartition]:
    """The offsets to commit after ``records``: one past the last of each partition."""
    last: dict[tuple[str, int], int] = {}
    for record in records:
        topic, partition, offset = record.topic(), record.partition(), record.offset()
        if topic is None or partition is None or offset is None:
            continue
        key = (topic, partition)
        last[key] = max(last.get(key, -1), offset)
    return [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]
