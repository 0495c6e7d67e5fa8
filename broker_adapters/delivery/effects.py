"""What a delivery decision does: the backlog change, the metrics and log lines, and the
records written in the batch's transaction.

:mod:`~broker_adapters.delivery.decision` says what happens to a message; this
module makes it so. A wait or a retry writes the record to its retry tier (and
its backlog entry); an outcome writes its event and ``DeliveryStatus``; giving up
writes the dead letter and, where the standard wants one, the hub's X99 AppRec to
the sender. Events and dead letters come from :mod:`routing.events`.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from confluent_kafka import Message

from addressregister.index import Snapshots
from broker_adapters.delivery.apprec import AppRecLedger, not_delivered_apprec
from broker_adapters.delivery.backlog import Backlog, Pending
from broker_adapters.delivery.decision import Decision, Delivered, GiveUp, Retry, WaitBehind
from broker_adapters.delivery.outcomes import delivery_status
from broker_adapters.delivery.payloads import PayloadFetcher, PayloadUnavailableError
from broker_adapters.delivery.retry import RetryState
from broker_adapters.delivery.settings import DeliverySettings
from kafka_io import OutRecord
from kafka_io.settings import KafkaSettings
from metrics.delivery import DeliveryMetrics
from routing.events import apprec_routed_event, delivery_event, given_up, unreadable_record
from routing.outputs import OutputBuilder
from routing.settings import RoutingSettings
from schemas.records import DeliveryOutcome, RoutedMessage, encode

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Item:
    """One consumed record of a batch, decoded."""

    consumed: Message
    message: RoutedMessage
    raw: bytes
    partition: int
    tier: int | None
    """The retry tier it was consumed from; None for ``hub.outbound``."""
    state: RetryState


def position(consumed: Message) -> str:
    """``<topic>/<partition>/<offset>``: names a consumed record in logs, ids and labels."""
    return f"{consumed.topic()}/{consumed.partition()}/{consumed.offset()}"


class Effects:
    """Applies decisions for one worker: owns nothing, changes the backlog it is given."""

    def __init__(
        self,
        delivery: DeliverySettings,
        kafka: KafkaSettings,
        routing: RoutingSettings,
        *,
        backlog: Backlog,
        metrics: DeliveryMetrics,
        payloads: PayloadFetcher,
        builder: OutputBuilder,
        register: Snapshots,
        ledger: AppRecLedger,
    ) -> None:
        self._delivery = delivery
        self._topics = kafka.topics
        self._hub_her_id = routing.hub_her_id
        self._backlog = backlog
        self._metrics = metrics
        self._payloads = payloads
        self._builder = builder
        self._register = register
        self._ledger = ledger
        self._tier_topics = [delivery.retry_topic(t) for t in range(len(delivery.retry_tiers))]

    def apply(self, item: Item, decision: Decision, now: datetime) -> list[OutRecord]:
        """Make ``decision`` about ``item`` so: change the backlog, count, log, write."""
        if isinstance(decision, WaitBehind):
            return self._wait(item, decision)
        if isinstance(decision, Retry | GiveUp) and decision.counted is not None:
            self._metrics.attempt(decision.kind or "none", decision.counted)
        if isinstance(decision, Delivered):
            return self._delivered(item, decision, now)
        if isinstance(decision, Retry):
            return self._retry(item, decision, now)
        return self._give_up(item, decision, now)

    def dead_letter(self, consumed: Message, reason: str, now: datetime) -> list[OutRecord]:
        """A record delivery cannot read: park it on ``hub.rejected`` for a look and a replay."""
        where = position(consumed)
        log.error("delivery dead-lettered a record", record=where, reason=reason)
        rejected = unreadable_record(where, consumed.value() or b"", reason, now)
        return [OutRecord(topic=self._topics.rejected.name, key=None, value=encode(rejected))]

    # -- per decision -------------------------------------------------------------------------

    def _wait(self, item: Item, decision: WaitBehind) -> list[OutRecord]:
        receiver, state = item.message.receiver_her_id, item.state
        self._backlog.put(
            item.partition, receiver, Pending(state.seq, decision.tier, decision.due_ms)
        )
        return [self._retry_record(item, decision.state(state))]

    def _delivered(self, item: Item, decision: Delivered, now: datetime) -> list[OutRecord]:
        message, kind, attempts = item.message, decision.kind, decision.attempts
        self._backlog.remove(item.partition, message.receiver_her_id, item.state.seq)
        self._metrics.outcome(kind, DeliveryOutcome.DELIVERED)
        self._metrics.delivered_after(kind, (now - message.ingress.received_at).total_seconds())
        log.debug(
            "delivered",
            message_id=str(message.hub_message_id),
            endpoint_kind=kind,
            attempt=attempts,
        )
        outcome = DeliveryOutcome.DELIVERED
        return [
            *decision.records,
            self._event(message, outcome, now, kind, attempts),
            self._status(message, outcome, now, kind, attempts),
        ]

    def _retry(self, item: Item, decision: Retry, now: datetime) -> list[OutRecord]:
        message, state, kind = item.message, item.state, decision.kind
        receiver, attempts, reason = message.receiver_her_id, decision.attempts, decision.reason
        self._backlog.put(
            item.partition, receiver, Pending(state.seq, decision.tier, decision.due_ms)
        )
        self._metrics.outcome(kind, DeliveryOutcome.RETRIED)
        log.info(
            "delivery failed; retrying",
            message_id=str(message.hub_message_id),
            receiver=receiver,
            endpoint_kind=kind,
            attempt=attempts,
            tier=self._delivery.retry_tiers[decision.tier].name,
            reason=reason,
        )
        outcome = DeliveryOutcome.RETRIED
        return [
            self._retry_record(item, decision.state(state)),
            self._event(
                message,
                outcome,
                now,
                kind,
                attempts,
                reason,
                position(item.consumed),
                datetime.fromtimestamp(decision.due_ms / 1000, UTC),
            ),
            self._status(message, outcome, now, kind, attempts, reason, decision.due_ms),
        ]

    def _give_up(self, item: Item, decision: GiveUp, now: datetime) -> list[OutRecord]:
        message, kind, attempts, reason = (
            item.message,
            decision.kind,
            decision.attempts,
            decision.reason,
        )
        self._backlog.remove(item.partition, message.receiver_her_id, item.state.seq)
        kind_label = kind or "none"
        self._metrics.outcome(kind_label, DeliveryOutcome.FAILED)
        log.warning(
            "delivery given up",
            message_id=str(message.hub_message_id),
            receiver=message.receiver_her_id,
            endpoint_kind=kind_label,
            attempts=attempts,
            reason=reason,
        )
        message = self._self_contained(message)  # the dead letter and AppRec read it
        rejected = given_up(message, reason, now)
        outcome = DeliveryOutcome.FAILED
        records = [
            OutRecord(
                topic=self._topics.rejected.name,
                key=str(message.sender_her_id or "").encode(),
                value=encode(rejected),
            ),
            self._event(message, outcome, now, kind, attempts, reason),
            self._status(message, outcome, now, kind, attempts, reason),
        ]
        apprec = not_delivered_apprec(
            self._builder, self._register(), self._ledger, message, reason, now, self._hub_her_id
        )
        if apprec is not None:
            event = apprec_routed_event(apprec, message, now)
            records.append(
                OutRecord(
                    topic=self._topics.outbound.name,
                    key=str(apprec.receiver_her_id).encode(),
                    value=encode(apprec),
                )
            )
            records.append(
                OutRecord(
                    topic=self._topics.events.name, key=event.event_id.bytes, value=encode(event)
                )
            )
        return records

    def _self_contained(self, message: RoutedMessage) -> RoutedMessage:
        """``message`` with its document, so its dead letter outlives ``hub.inbound``'s
        retention; as it is when the document cannot be read (the reason says why)."""
        try:
            return self._payloads.resolve(message)
        except PayloadUnavailableError as exc:
            log.warning(
                "dead letter without its document",
                message_id=str(message.hub_message_id),
                error=str(exc),
            )
            return message

    # -- records ------------------------------------------------------------------------------

    def _retry_record(self, item: Item, state: RetryState) -> OutRecord:
        return OutRecord(
            topic=self._tier_topics[state.tier],
            key=str(item.message.receiver_her_id).encode(),
            value=item.raw,
            headers=(state.header(),),
            partition=item.partition,
        )

    def _event(
        self,
        message: RoutedMessage,
        outcome: DeliveryOutcome,
        now: datetime,
        kind: str | None,
        attempts: int,
        reason: str | None = None,
        label: str = "",
        next_attempt_at: datetime | None = None,
    ) -> OutRecord:
        event = delivery_event(
            message,
            outcome,
            now,
            endpoint_kind=kind if kind != "none" else None,
            attempt=attempts,
            reason=reason,
            label=label,
            next_attempt_at=next_attempt_at,
        )
        return OutRecord(
            topic=self._topics.events.name, key=event.event_id.bytes, value=encode(event)
        )

    def _status(
        self,
        message: RoutedMessage,
        outcome: DeliveryOutcome,
        now: datetime,
        kind: str | None,
        attempts: int,
        reason: str | None = None,
        next_attempt_ms: int | None = None,
    ) -> OutRecord:
        status = delivery_status(
            message,
            outcome,
            now,
            endpoint_kind=kind,
            attempt=attempts,
            reason=reason,
            next_attempt_ms=next_attempt_ms,
        )
        return OutRecord(
            topic=self._delivery.status_topic,
            key=str(message.hub_message_id).encode(),
            value=encode(status),
        )
