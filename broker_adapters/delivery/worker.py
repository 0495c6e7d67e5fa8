"""The delivery component: a consumer group on ``hub.outbound`` and the retry tiers that hands
each routed message to its receiver's endpoint, exactly once where the endpoint allows it.

Per batch, inside one Kafka transaction: deliver (or park) every consumed
record, then produce the Kafka-endpoint records, retry records, events,
statuses, rejections, X99 AppRecs and backlog changes together with the
consumed offsets. A failing receiver never holds a partition: its message moves
to a retry tier and its later messages queue behind it (see
:mod:`~broker_adapters.delivery.backlog`), while every other receiver is served
at once. After ``max_attempts`` attempts or ``max_age_s`` the message is given
up: one ``RejectedMessage``, one ``delivery_failed`` event, and (where the
standard wants one) one X99 AppRec routed back to the sender.

Endpoint calls run on a bounded pool (:mod:`~broker_adapters.delivery.calls`),
one receiver's messages in order, different receivers at once; a batch waits
for answers at most ``answer_wait_s``, so a slow receiver delays no one else's
messages longer than that.

This loop is its own rather than :class:`~kafka_io.TransactionalLoop`
because a tier record that is not yet due must be left unconsumed and its
partition paused, which needs the consumer between records.
"""

import functools
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from prometheus_client import CollectorRegistry

from access.principals import Principals
from addressregister.index import RegisterIndex
from addressregister.model import Endpoint as Address
from addressregister.model import EndpointKind
from broker_adapters.delivery.amqp import AmqpEndpoint
from broker_adapters.delivery.apprec import (
    AppRecLedger,
    NoLedger,
    StoreAppRecLedger,
    not_delivered_apprec,
)
from broker_adapters.delivery.backlog import Backlog, Pending
from broker_adapters.delivery.base import Attempt, Delivered, Endpoint, Failed, Handover
from broker_adapters.delivery.breaker import Breakers
from broker_adapters.delivery.calls import Calls
from broker_adapters.delivery.kafka_topic import KafkaTopicEndpoint
from broker_adapters.delivery.mailbox import MailboxEndpoint
from broker_adapters.delivery.mailbox_store import MailboxStore
from broker_adapters.delivery.outbox import FileOutboxEndpoint
from broker_adapters.delivery.outcomes import delivery_status
from broker_adapters.delivery.payloads import PayloadFetcher, PayloadUnavailableError
from broker_adapters.delivery.retry import DueGate, RetryState, delivery_topics, retry_state
from broker_adapters.delivery.settings import DeliverySettings
from broker_adapters.delivery.webhook import WebhookEndpoint
from broker_adapters.delivery.webhook_keys import WebhookKeys
from hubcore.errors import describe
from kafka_io import (
    OutRecord,
    client_config,
    consumer_config,
    ensure_topics,
    producer_config,
)
from kafka_io.settings import KafkaSettings
from kafka_io.transactional import (
    FatalTransactionError,
    commit_batch,
    next_batch,
    rewind_to_committed,
)
from metrics.delivery import AttemptResult, DeliveryMetrics
from routing.events import apprec_routed_event, delivery_event, given_up, unreadable_record
from routing.outputs import OutputBuilder
from routing.settings import RoutingSettings
from schemas.avro_errors import AvroDecodeError
from schemas.records import (
    DeliveryOutcome,
    RoutedMessage,
    decode,
    encode,
)

log = structlog.get_logger(__name__)

RegisterView = Callable[[], RegisterIndex]

_REPORT_INTERVAL_S = 5.0
_IN_FLIGHT = "no answer within the batch's wait; the call goes on until its deadline"


@dataclass(frozen=True, slots=True)
class _Item:
    """One consumed record of a batch, decoded."""

    consumed: Message
    message: RoutedMessage
    raw: bytes
    partition: int
    tier: int | None
    state: RetryState


@dataclass(frozen=True, slots=True)
class _Call:
    """An endpoint call a record needs: what to hand over, and where."""

    item: _Item
    address: Address
    kind: str
    handover: Handover


def build_endpoints(
    delivery: DeliverySettings,
    kafka: KafkaSettings,
    bootstrap_servers: str,
    mailbox: MailboxStore,
    outbox_root: Path,
) -> dict[EndpointKind, Endpoint]:
    """One endpoint per kind, configured from the settings (nothing connects yet)."""
    return {
        EndpointKind.AMQP: AmqpEndpoint(
            delivery.amqp_url.get_secret_value(),
            declare_queues=delivery.amqp_declare_queues,
            timeout_s=min(delivery.amqp_timeout_s, delivery.call_timeout_s),
        ),
        EndpointKind.MAILBOX: MailboxEndpoint(mailbox),
        EndpointKind.WEBHOOK: WebhookEndpoint(
            WebhookKeys(delivery.webhook_keys_file),
            delivery.call_timeout_s,
            delivery.max_response_bytes,
        ),
        EndpointKind.KAFKA: KafkaTopicEndpoint(
            client_config(kafka, bootstrap_servers),
            delivery.kafka_topic_prefix,
            delivery.kafka_topic_partitions,
        ),
        EndpointKind.FILE: FileOutboxEndpoint(outbox_root),
    }


class DeliveryComponent:
    """Consumer group on ``hub.outbound`` + retry tiers; delivers, retries, gives up."""

    name = "delivery"

    def __init__(
        self,
        delivery: DeliverySettings,
        kafka: KafkaSettings,
        routing: RoutingSettings,
        bootstrap_servers: str,
        register: RegisterView,
        endpoints: Mapping[EndpointKind, Endpoint],
        *,
        mailbox: MailboxStore | None = None,
        ledger: AppRecLedger | None = None,
        metrics: DeliveryMetrics | None = None,
        register_usable: Callable[[], bool] = lambda: True,
    ) -> None:
        """``mailbox`` is pruned by this worker; ``ledger`` defaults to the mailbox's database
        (where the statistics aggregator records receivers' AppRecs). Nothing is consumed
        while ``register_usable()`` is false (not loaded yet, or its follower is down)."""
        self._delivery = delivery
        self._register_usable = register_usable
        self._kafka = kafka
        self._routing = routing
        self._register = register
        self._mailbox = mailbox
        self._endpoints = dict(endpoints)
        self._ledger: AppRecLedger = ledger or (
            StoreAppRecLedger(mailbox.engine) if mailbox is not None else NoLedger()
        )
        self._metrics = metrics or DeliveryMetrics(
            CollectorRegistry(), [tier.name for tier in delivery.retry_tiers]
        )
        self._builder = OutputBuilder(routing, Principals())
        self._outbound = kafka.topics.outbound.name
        self._tier_topics = [delivery.retry_topic(t) for t in range(len(delivery.retry_tiers))]
        self._tier_of = {topic: tier for tier, topic in enumerate(self._tier_topics)}
        self._delays_ms = [int(tier.delay_s * 1000) for tier in delivery.retry_tiers]
        self._admin_config = client_config(kafka, bootstrap_servers)
        self._consumer_config = {
            **consumer_config(kafka, bootstrap_servers, delivery.group_id),
            # co-partitioned topics: partition p of every topic goes to the same worker
            "partition.assignment.strategy": "range",
        }
        self._producer_config = producer_config(
            kafka, bootstrap_servers, f"{delivery.group_id}-{delivery.instance_id}"
        )
        self._backlog = Backlog(self._admin_config, delivery.backlog_topic)
        self._payloads = PayloadFetcher(
            consumer_config(kafka, bootstrap_servers, f"{delivery.group_id}.payloads"),
            kafka.topics.inbound.name,
            delivery.call_timeout_s,
        )
        self._breakers = Breakers(delivery.breaker)
        self._calls = Calls(delivery.call_workers)
        self._gate = DueGate()
        self._ready = threading.Event()
        self._last_report = 0.0
        self._last_prune = 0.0
        self.committed_batches = 0

    # -- component ----------------------------------------------------------------------------

    def ready(self) -> bool:
        """Ready once the group gave this worker partitions and their backlog is restored."""
        return self._ready.is_set()

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set; no transaction is left open when it returns."""
        ensure_topics(
            self._admin_config,
            delivery_topics(self._delivery, self._kafka.topics.outbound.partitions),
        )
        consumer = Consumer(self._consumer_config)
        producer = Producer(self._producer_config)
        producer.init_transactions(30)
        consumer.subscribe(
            [self._outbound, *self._tier_topics],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
        )
        log.info("delivery started", topics=[self._outbound, *self._tier_topics])
        try:
            while not stop.is_set():
                if not self._register_usable():
                    stop.wait(0.2)
                    continue
                now_ms = _now_ms()
                self._gate.release_due(consumer, now_ms)
                wait = self._gate.wait_s(now_ms, self._delivery.poll_timeout_s)
                messages = next_batch(consumer, self._delivery.batch_size, max(wait, 0.01))
                if messages:
                    self._handle_batch(consumer, producer, messages)
                self._housekeeping()
        finally:
            consumer.close()
            producer.flush(5)
            if stop.is_set():  # not after a failure: the supervisor runs this worker again
                self._calls.close()
                self._payloads.close()
                for endpoint in self._endpoints.values():
                    endpoint.close()
            log.info("delivery stopped", batches=self.committed_batches)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        numbers = {tp.partition for tp in partitions}
        restored = self._backlog.restore(numbers)
        log.info("partitions assigned", count=len(partitions), backlog=restored)
        self._ready.set()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("partitions revoked", count=len(partitions))
        self._gate.forget(consumer, partitions)
        self._backlog.drop({tp.partition for tp in partitions})

    # -- the batch ----------------------------------------------------------------------------

    def _handle_batch(
        self, consumer: Consumer, producer: Producer, messages: list[Message]
    ) -> None:
        member = consumer.memberid()
        self._settle_late_calls()
        outputs: list[OutRecord] = []
        positions: dict[tuple[str, int], int] = {}
        stopped: set[tuple[str, int]] = set()
        lanes: dict[int, deque[_Item]] = {}
        for message in messages:
            error = message.error()
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            if error is not None or topic is None or partition is None or offset is None:
                if error is not None and error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consume error", error=str(error))
                continue
            key = (topic, partition)
            if key in stopped:
                continue
            now = datetime.now(UTC)
            tier = self._tier_of.get(topic)
            try:
                state = retry_state(message) if tier is not None else None
                if state is not None and state.due_ms > _ms(now):
                    self._gate.hold(consumer, message, state.due_ms)
                    stopped.add(key)
                    continue
                item = self._read(message, tier, state, now)
            except Exception as exc:  # settle the record (dead letter); the partition goes on
                log.error("delivery failed on a record", error=describe(exc))
                reason = f"internal error in delivery ({type(exc).__name__})"
                item = self._dead_letter(message, reason, now)
            positions[key] = offset + 1
            if isinstance(item, _Item):
                lanes.setdefault(item.message.receiver_her_id, deque()).append(item)
            else:
                outputs.extend(item)
        outputs.extend(self._run_lanes(lanes))
        outputs.extend(self._backlog.flush())
        if not positions:
            return
        try:
            commit_batch(consumer, producer, outputs, positions, member)
            self.committed_batches += 1
        except KafkaException as exc:
            self._recover(consumer, producer, exc)

    def _run_lanes(self, lanes: Mapping[int, deque[_Item]]) -> list[OutRecord]:
        """Each receiver's records in order, receivers at once; wait ``answer_wait_s`` at most.

        A call still running at the end is left in flight: its message goes to the retry
        path and the receiver's later records of this batch wait behind it.
        """
        outputs: list[OutRecord] = []
        running: dict[Future[Attempt], tuple[_Call, deque[_Item]]] = {}

        def advance(lane: deque[_Item], may_call: bool) -> None:
            while lane:
                step = self._step(lane.popleft())
                if isinstance(step, list):
                    outputs.extend(step)
                elif not may_call:  # cannot happen: the receiver waits behind its call
                    outputs.extend(self._requeue(step.item, datetime.now(UTC)))
                else:
                    future = self._calls.start(functools.partial(self._hand_over, step))
                    running[future] = (step, lane)
                    return

        for lane in lanes.values():
            advance(lane, True)
        deadline = time.monotonic() + self._delivery.answer_wait_s
        while running:
            left = deadline - time.monotonic()
            done, _ = wait(running, timeout=max(left, 0.0), return_when=FIRST_COMPLETED)
            if not done:
                break
            for future in done:
                call, lane = running.pop(future)
                outputs.extend(self._answered(call, future.result()))
                advance(lane, True)
        for future, (call, lane) in list(running.items()):
            outputs.extend(self._left_in_flight(call, future))
            advance(lane, False)
        return outputs

    def _recover(self, consumer: Consumer, producer: Producer, exc: KafkaException) -> None:
        error: KafkaError = exc.args[0]
        if error.fatal():
            raise FatalTransactionError(f"{self.name}: {error}") from exc
        log.warning("delivery transaction aborted, rewinding", error=str(error))
        producer.abort_transaction(30)
        self._gate.forget(consumer, consumer.assignment())
        rewind_to_committed(consumer)
        self._backlog.restore(self._backlog.held())

    # -- one record ---------------------------------------------------------------------------

    def _read(
        self, consumed: Message, tier: int | None, state: RetryState | None, now: datetime
    ) -> _Item | list[OutRecord]:
        """Decode a record; what delivery cannot read is dead-lettered."""
        raw = consumed.value() or b""
        try:
            message = decode(raw, RoutedMessage)
        except AvroDecodeError as exc:
            return self._dead_letter(consumed, f"undecodable routed message ({exc})", now)
        if tier is None:
            state = RetryState(seq=consumed.offset() or 0, attempts=0, tier=-1, due_ms=_ms(now))
        elif state is None:
            return self._dead_letter(consumed, "retry record without its retry state", now)
        return _Item(consumed, message, raw, consumed.partition() or 0, tier, state)

    def _step(self, item: _Item) -> list[OutRecord] | _Call:
        """Decide a record's fate up to the endpoint call, which the caller runs."""
        message, partition, state = item.message, item.partition, item.state
        receiver = message.receiver_her_id
        now = datetime.now(UTC)
        try:
            if item.tier is None:
                if self._backlog.blocked(partition, receiver) or self._calls.busy(receiver):
                    if self._backlog.count(partition, receiver) >= self._delivery.backlog_cap:
                        reason = (
                            f"the receiver has {self._delivery.backlog_cap} messages waiting "
                            "already (the hub's cap per receiver)"
                        )
                        return self._give_up(message, partition, state, reason, None, 0, now)
                    return self._wait_behind(message, item.raw, partition, state, now)
                return self._prepare(item, now)
            if now - message.routed_at > timedelta(seconds=self._delivery.max_age_s):
                return self._give_up(
                    message, partition, state, self._too_old(), None, state.attempts, now
                )
            if self._backlog.find(partition, receiver, state.seq) is None:
                # written before its backlog entry was (should not happen): adopt it in order
                self._backlog.put(partition, receiver, Pending(state.seq, item.tier, state.due_ms))
            if self._backlog.before(partition, receiver, state.seq) is not None:
                return self._wait_behind(message, item.raw, partition, state, now)
            return self._prepare(item, now)
        except Exception as exc:  # a bug: park the record, free the receiver, keep going
            log.exception("delivery failed internally", message_id=str(message.hub_message_id))
            self._backlog.remove(partition, receiver, state.seq)
            return self._dead_letter(
                item.consumed, f"internal error in delivery ({type(exc).__name__})", now
            )

    def _wait_behind(
        self, message: RoutedMessage, raw: bytes, partition: int, state: RetryState, now: datetime
    ) -> list[OutRecord]:
        """Queue behind the receiver's older pending message: same tier, same due time."""
        receiver = message.receiver_her_id
        ahead = self._backlog.before(partition, receiver, state.seq)
        tier = ahead.tier if ahead is not None else 0
        due_ms = ahead.due_ms if ahead is not None else 0
        if due_ms <= _ms(now):  # the older one is elsewhere in flight: wait a tier's delay
            due_ms = _ms(now) + self._delays_ms[tier]
        self._backlog.put(partition, receiver, Pending(state.seq, tier, due_ms))
        waiting = RetryState(state.seq, state.attempts, tier, due_ms)
        return [self._retry_record(raw, receiver, partition, waiting)]

    def _prepare(self, item: _Item, now: datetime) -> list[OutRecord] | _Call:
        """The call to make, or the outcome when no call can or need be made."""
        message, state = item.message, item.state
        party = self._register().receiving_party(message.receiver_her_id)
        endpoint = party.endpoint if party is not None else None
        kind = endpoint.kind.value if endpoint is not None else "none"
        key = f"{message.hub_message_id}:{message.receiver_her_id}"
        late = self._calls.late_result(key)
        if isinstance(late, Delivered):  # the call left in flight got through after all
            return self._outcome(item, kind, state.attempts, late, now)
        if self._calls.running(key):  # still in flight: wait again, no new call
            return self._requeue(item, now)
        if endpoint is None:
            self._metrics.attempt(kind, AttemptResult.RETRIABLE)
            failed = Failed("the receiver has no endpoint in the address register")
            return self._outcome(item, kind, state.attempts + 1, failed, now)
        if not self._breakers.allow(endpoint):
            self._metrics.attempt(kind, AttemptResult.SKIPPED)
            failed = Failed(f"circuit breaker of the receiver's {kind} endpoint is open")
            return self._outcome(item, kind, state.attempts, failed, now)
        handover = Handover(message, endpoint.address, state.attempts + 1)
        return _Call(item, endpoint, kind, handover)

    def _answered(self, call: _Call, result: Attempt) -> list[OutRecord]:
        """The endpoint answered (or ran out its deadline, which is a failure too)."""
        self._judge(call.address, call.kind, result)
        return self._outcome(call.item, call.kind, call.handover.attempt, result, datetime.now(UTC))

    def _judge(self, address: Address, kind: str, result: Attempt) -> None:
        if isinstance(result, Delivered) or result.permanent:
            self._breakers.succeeded(address)  # the endpoint answered
        else:
            self._breakers.failed(address)
        self._metrics.attempt(kind, _result_of(result))

    def _left_in_flight(self, call: _Call, future: Future[Attempt]) -> list[OutRecord]:
        """Stop waiting for a slow call: its message waits in the retry path meanwhile."""
        message, item = call.item.message, call.item
        self._calls.leave(
            call.handover.idempotency_key, message.receiver_her_id, call.address, future
        )
        return self._retry(
            message,
            item.raw,
            item.partition,
            item.state,
            call.kind,
            call.handover.attempt,
            _IN_FLIGHT,
            datetime.now(UTC),
            item.consumed,
        )

    def _settle_late_calls(self) -> None:
        """Tell the breakers how the calls left in flight ended (slowness counts as failure)."""
        for settled in self._calls.settled():
            self._judge(settled.address, settled.address.kind.value, settled.result)

    def _requeue(self, item: _Item, now: datetime) -> list[OutRecord]:
        """Wait one more tier delay in the same tier, without an attempt."""
        state, receiver = item.state, item.message.receiver_her_id
        tier = max(state.tier, 0)
        due_ms = _ms(now) + self._delays_ms[tier]
        self._backlog.put(item.partition, receiver, Pending(state.seq, tier, due_ms))
        waiting = RetryState(state.seq, state.attempts, tier, due_ms)
        return [self._retry_record(item.raw, receiver, item.partition, waiting)]

    def _outcome(
        self, item: _Item, kind: str, attempts: int, result: Attempt, now: datetime
    ) -> list[OutRecord]:
        message, raw, partition, state = item.message, item.raw, item.partition, item.state
        if isinstance(result, Delivered):
            return self._delivered(message, partition, state, kind, attempts, result, now)
        too_old = now - message.routed_at > timedelta(seconds=self._delivery.max_age_s)
        if result.permanent or attempts >= self._delivery.max_attempts or too_old:
            reason = result.reason if not too_old else f"{self._too_old()}; last: {result.reason}"
            return self._give_up(message, partition, state, reason, kind, attempts, now)
        return self._retry(
            message, raw, partition, state, kind, attempts, result.reason, now, item.consumed
        )

    def _hand_over(self, call: _Call) -> Attempt:
        """Runs on the pool: one endpoint call; an endpoint must not raise."""
        kind = call.kind
        endpoint = self._endpoints.get(EndpointKind(kind))
        if endpoint is None:
            return Failed(f"no {kind} endpoint is configured in this hub")
        try:
            message = self._payloads.resolve(call.handover.message)
        except PayloadUnavailableError as exc:
            return Failed(str(exc), permanent=exc.permanent)
        try:
            return endpoint.deliver(replace(call.handover, message=message))
        except Exception as exc:  # an endpoint must not raise; treat it as a failed attempt
            log.exception("endpoint raised", endpoint_kind=kind)
            return Failed(f"internal error in the {kind} endpoint ({type(exc).__name__})")

    def _delivered(
        self,
        message: RoutedMessage,
        partition: int,
        state: RetryState,
        kind: str,
        attempts: int,
        result: Delivered,
        now: datetime,
    ) -> list[OutRecord]:
        self._backlog.remove(partition, message.receiver_her_id, state.seq)
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
            *result.records,
            self._event(message, outcome, now, kind, attempts),
            self._status(message, outcome, now, kind, attempts),
        ]

    def _retry(
        self,
        message: RoutedMessage,
        raw: bytes,
        partition: int,
        state: RetryState,
        kind: str,
        attempts: int,
        reason: str,
        now: datetime,
        consumed: Message,
    ) -> list[OutRecord]:
        receiver = message.receiver_her_id
        tier = min(state.tier + 1, len(self._delays_ms) - 1)
        due_ms = _ms(now) + self._delays_ms[tier]
        self._backlog.put(partition, receiver, Pending(state.seq, tier, due_ms))
        self._metrics.outcome(kind, DeliveryOutcome.RETRIED)
        log.info(
            "delivery failed; retrying",
            message_id=str(message.hub_message_id),
            receiver=receiver,
            endpoint_kind=kind,
            attempt=attempts,
            tier=self._delivery.retry_tiers[tier].name,
            reason=reason,
        )
        outcome = DeliveryOutcome.RETRIED
        label = f"{consumed.topic()}/{consumed.partition()}/{consumed.offset()}"
        return [
            self._retry_record(
                raw, receiver, partition, RetryState(state.seq, attempts, tier, due_ms)
            ),
            self._event(message, outcome, now, kind, attempts, reason, label),
            self._status(message, outcome, now, kind, attempts, reason, due_ms),
        ]

    def _give_up(
        self,
        message: RoutedMessage,
        partition: int,
        state: RetryState,
        reason: str,
        kind: str | None,
        attempts: int,
        now: datetime,
    ) -> list[OutRecord]:
        self._backlog.remove(partition, message.receiver_her_id, state.seq)
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
        topics = self._kafka.topics
        message = self._self_contained(message)  # the dead letter and AppRec read it
        rejected = given_up(message, reason, now)
        outcome = DeliveryOutcome.FAILED
        records = [
            OutRecord(
                topic=topics.rejected.name,
                key=str(message.sender_her_id or "").encode(),
                value=encode(rejected),
            ),
            self._event(message, outcome, now, kind, attempts, reason),
            self._status(message, outcome, now, kind, attempts, reason),
        ]
        apprec = not_delivered_apprec(
            self._builder,
            self._register(),
            self._ledger,
            message,
            reason,
            now,
            self._routing.hub_her_id,
        )
        if apprec is not None:
            event = apprec_routed_event(apprec, message, now)
            records.append(
                OutRecord(
                    topic=self._outbound,
                    key=str(apprec.receiver_her_id).encode(),
                    value=encode(apprec),
                )
            )
            records.append(
                OutRecord(topic=topics.events.name, key=event.event_id.bytes, value=encode(event))
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

    def _dead_letter(self, consumed: Message, reason: str, now: datetime) -> list[OutRecord]:
        """A record delivery cannot read: park it on ``hub.rejected`` for a look and a replay."""
        where = f"{consumed.topic()}/{consumed.partition()}/{consumed.offset()}"
        log.error("delivery dead-lettered a record", record=where, reason=reason)
        rejected = unreadable_record(where, consumed.value() or b"", reason, now)
        return [OutRecord(topic=self._kafka.topics.rejected.name, key=None, value=encode(rejected))]

    # -- records ------------------------------------------------------------------------------

    def _retry_record(
        self, raw: bytes, receiver: int, partition: int, state: RetryState
    ) -> OutRecord:
        return OutRecord(
            topic=self._tier_topics[state.tier],
            key=str(receiver).encode(),
            value=raw,
            headers=(state.header(),),
            partition=partition,
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
    ) -> OutRecord:
        event = delivery_event(
            message,
            outcome,
            now,
            endpoint_kind=kind if kind != "none" else None,
            attempt=attempts,
            reason=reason,
            label=label,
        )
        return OutRecord(
            topic=self._kafka.topics.events.name,
            key=event.event_id.bytes,
            value=encode(event),
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

    def _too_old(self) -> str:
        return f"not delivered within {self._delivery.max_age_s:g} s"

    # -- housekeeping -------------------------------------------------------------------------

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_report >= _REPORT_INTERVAL_S:
            self._last_report = now
            self._metrics.breaker_states(
                {(kind, state.value): n for (kind, state), n in self._breakers.counts().items()}
            )
            self._metrics.depth(self._tier_depths(), self._backlog.size())
        if self._mailbox is not None and now - self._last_prune >= (
            self._delivery.mailbox_prune_interval_s
        ):
            self._last_prune = now
            try:
                pruned = self._mailbox.prune(timedelta(days=self._delivery.mailbox_retention_days))
            except Exception as exc:
                log.warning("mailbox pruning failed", error=type(exc).__name__)
            else:
                if pruned:
                    log.info("mailbox pruned", messages=pruned)

    def _tier_depths(self) -> dict[str, int]:
        """Messages waiting per tier: every pending backlog entry is one record in its tier
        (counted from memory; asking the broker for watermarks would stall the loop)."""
        names = [tier.name for tier in self._delivery.retry_tiers]
        return {names[tier]: count for tier, count in self._backlog.by_tier().items()}


def _result_of(result: Attempt) -> AttemptResult:
    if isinstance(result, Delivered):
        return AttemptResult.SUCCESS
    return AttemptResult.PERMANENT if result.permanent else AttemptResult.RETRIABLE


def _now_ms() -> int:
    return int(time.time() * 1000)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
