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

This module is the thin loop: it gathers the facts about each record, asks
:mod:`~broker_adapters.delivery.decision` what to do, runs the endpoint calls and
lets :mod:`~broker_adapters.delivery.effects` apply the decisions. Endpoint calls
run on a bounded pool (:mod:`~broker_adapters.delivery.calls`), one receiver's
messages in order, different receivers at once; a batch waits for answers at most
``answer_wait_s``, so a slow receiver delays no one else's messages longer than that.

The loop is the hub's one :class:`~kafka_io.TransactionalLoop`, with this component as
its :class:`~kafka_io.transactional.BatchStage`: a tier record that is not yet due is
left unsettled and its partition paused (which needs the consumer between records),
and a batch's records are handled together (lanes per receiver), not one by one.
"""

import functools
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import structlog
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from prometheus_client import CollectorRegistry

from access.principals import Principals
from addressregister.index import Snapshots
from addressregister.model import Endpoint as Address
from addressregister.model import EndpointKind
from broker_adapters.delivery.apprec import AppRecLedger, NoLedger, StoreAppRecLedger
from broker_adapters.delivery.backlog import Backlog, Pending
from broker_adapters.delivery.base import Attempt, DeliveryEndpoint, Failed, HandedOver, Handover
from broker_adapters.delivery.breaker import Breakers
from broker_adapters.delivery.calls import Calls
from broker_adapters.delivery.decision import (
    Call,
    Decision,
    GiveUp,
    Queue,
    Receiver,
    left_in_flight,
    place,
    requeue,
    settle,
    turn,
)
from broker_adapters.delivery.effects import Effects, Item
from broker_adapters.delivery.endpoints import build_endpoints
from broker_adapters.delivery.mailbox_store import MailboxStore
from broker_adapters.delivery.payloads import PayloadFetcher, PayloadUnavailableError
from broker_adapters.delivery.retry import DueGate, RetryState, delivery_topics, retry_state
from broker_adapters.delivery.settings import DeliverySettings
from hubcore.errors import describe
from hubstats.breakers import publish_breakers
from kafka_io import (
    OutRecord,
    TransactionalLoop,
    client_config,
    consumer_config,
    ensure_topics,
    producer_config,
)
from kafka_io.errors import RecordRefusedError
from kafka_io.settings import KafkaSettings
from kafka_io.transactional import Batch, BatchStage
from metrics.delivery import AttemptResult, DeliveryMetrics
from routing.outputs import OutputBuilder
from routing.settings import RoutingSettings
from schemas.avro_errors import AvroDecodeError
from schemas.records import RoutedMessage, decode

__all__ = ["DeliveryComponent", "build_endpoints"]

log = structlog.get_logger(__name__)


_REPORT_INTERVAL_S = 5.0


@dataclass(frozen=True, slots=True)
class _Call:
    """An endpoint call a record needs: what to hand over, and where."""

    item: Item
    address: Address
    kind: str
    handover: Handover


class DeliveryComponent(BatchStage):
    """Consumer group on ``hub.outbound`` + retry tiers; delivers, retries, gives up."""

    name = "delivery"

    def __init__(
        self,
        delivery: DeliverySettings,
        kafka: KafkaSettings,
        routing: RoutingSettings,
        bootstrap_servers: str,
        register: Snapshots,
        endpoints: Mapping[EndpointKind, DeliveryEndpoint],
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
        self._register = register
        self._mailbox = mailbox
        self._endpoints = dict(endpoints)
        self._metrics = metrics or DeliveryMetrics(
            CollectorRegistry(), [tier.name for tier in delivery.retry_tiers]
        )
        self._outbound = kafka.topics.outbound.name
        self._tier_topics = [delivery.retry_topic(t) for t in range(len(delivery.retry_tiers))]
        self._tier_of = {topic: tier for tier, topic in enumerate(self._tier_topics)}
        self._admin_config = client_config(kafka, bootstrap_servers)
        self._loop = TransactionalLoop(
            name=self.name,
            consumer_config={
                **consumer_config(kafka, bootstrap_servers, delivery.group_id),
                # co-partitioned topics: partition p of every topic goes to the same worker
                "partition.assignment.strategy": "range",
            },
            producer_config=producer_config(
                kafka, bootstrap_servers, f"{delivery.group_id}-{kafka.instance_id}"
            ),
            topics=[self._outbound, *self._tier_topics],
            process=self,
            batch_size=delivery.batch_size,
            poll_timeout_s=delivery.poll_timeout_s,
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            consume_while=register_usable,
        )
        self._backlog = Backlog(self._admin_config, delivery.backlog_topic)
        self._payloads = PayloadFetcher(
            consumer_config(kafka, bootstrap_servers, f"{delivery.group_id}.payloads"),
            kafka.topics.inbound.name,
            delivery.call_timeout_s,
        )
        self._effects = Effects(
            delivery,
            kafka,
            routing,
            backlog=self._backlog,
            metrics=self._metrics,
            payloads=self._payloads,
            builder=OutputBuilder(routing, Principals()),
            register=register,
            ledger=ledger
            or (StoreAppRecLedger(mailbox.engine) if mailbox is not None else NoLedger()),
        )
        self._breakers = Breakers(delivery.breaker)
        self._calls = Calls(delivery.call_workers)
        self._gate = DueGate()
        self._last_report = 0.0
        self._last_prune = 0.0
        self._last_breakers = 0.0
        self._worker_id = f"{delivery.group_id}-{kafka.instance_id}"

    # -- component ----------------------------------------------------------------------------

    def ready(self) -> bool:
        """Ready once the group gave this worker partitions and their backlog is restored."""
        return self._loop.assigned.is_set()

    @property
    def committed_batches(self) -> int:
        """Transactions committed so far."""
        return self._loop.committed_batches

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set; no transaction is left open when it returns."""
        ensure_topics(
            self._admin_config,
            delivery_topics(self._delivery, self._kafka.topics.outbound.partitions),
        )
        if self._calls.closed:  # run again after a stop (the embedded broker's checkpoint)
            self._calls = Calls(self._delivery.call_workers)
        try:
            self._loop.run(stop)
        finally:
            if stop.is_set():  # not after a failure: the supervisor runs this worker again
                self._calls.close()
                self._payloads.close()
                for endpoint in self._endpoints.values():
                    endpoint.close()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        restored = self._backlog.restore({tp.partition for tp in partitions})
        log.info("delivery backlog restored", partitions=len(partitions), backlog=restored)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._gate.forget(consumer, partitions)
        self._backlog.drop({tp.partition for tp in partitions})

    # -- the batch stage ----------------------------------------------------------------------

    def poll_timeout_s(self, consumer: Consumer, longest_s: float) -> float:
        """Resume the retry partitions whose head is due; wait no longer than the next one."""
        now_ms = int(time.time() * 1000)
        self._gate.release_due(consumer, now_ms)
        return max(self._gate.wait_s(now_ms, longest_s), 0.01)

    def aborted(self, consumer: Consumer) -> None:
        """The batch is read again: its pauses and backlog changes are dropped."""
        self._gate.forget(consumer, consumer.assignment())
        self._backlog.restore(self._backlog.held())

    def idle(self) -> None:
        self._housekeeping()

    def refused(self, message: Message, error: RecordRefusedError) -> list[OutRecord]:
        """The broker refuses what delivering ``message`` wrote (a receiver's topic that takes
        smaller records, say): it is given up with the reason, not tried for ever."""
        now = datetime.now(UTC)
        tier = self._tier_of.get(message.topic() or "")
        try:
            item = self._read(
                message, tier, retry_state(message) if tier is not None else None, now
            )
            if not isinstance(item, Item):
                return item
            reason = f"the broker refuses the delivered record ({error.kind})"
            decision = GiveUp(reason, kind=None, attempts=item.state.attempts)
            return [*self._effects.apply(item, decision, now), *self._backlog.flush()]
        except Exception as exc:
            log.error("delivery failed on a refused record", error=describe(exc))
            return self._effects.dead_letter(message, "the broker refuses its output", now)

    def process_batch(self, consumer: Consumer, messages: list[Message]) -> Batch:
        """Deliver or park every record; a not-yet-due retry record stops its partition."""
        self._settle_late_calls()
        outputs: list[OutRecord] = []
        positions: dict[tuple[str, int], int] = {}
        stopped: set[tuple[str, int]] = set()
        lanes: dict[int, deque[Item]] = {}
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
                item = self._effects.dead_letter(message, reason, now)
            positions[key] = offset + 1
            if isinstance(item, Item):
                lanes.setdefault(item.message.receiver_her_id, deque()).append(item)
            else:
                outputs.extend(item)
        outputs.extend(self._run_lanes(lanes))
        outputs.extend(self._backlog.flush())
        return Batch(outputs, positions)

    def _run_lanes(self, lanes: Mapping[int, deque[Item]]) -> list[OutRecord]:
        """Each receiver's records in order, receivers at once; wait ``answer_wait_s`` at most.

        A call still running at the end is left in flight: its message goes to the retry
        path and the receiver's later records of this batch wait behind it.
        """
        outputs: list[OutRecord] = []
        running: dict[Future[Attempt], tuple[_Call, deque[Item]]] = {}

        def advance(lane: deque[Item], may_call: bool) -> None:
            while lane:
                step = self._step(lane.popleft())
                if isinstance(step, list):
                    outputs.extend(step)
                elif not may_call:  # cannot happen: the receiver waits behind its call
                    now = datetime.now(UTC)
                    decision = requeue(step.item.state, now, self._delivery)
                    outputs.extend(self._effects.apply(step.item, decision, now))
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

    # -- one record ---------------------------------------------------------------------------

    def _read(
        self, consumed: Message, tier: int | None, state: RetryState | None, now: datetime
    ) -> Item | list[OutRecord]:
        """Decode a record; what delivery cannot read is dead-lettered."""
        raw = consumed.value() or b""
        try:
            message = decode(raw, RoutedMessage)
        except AvroDecodeError as exc:
            return self._effects.dead_letter(consumed, f"undecodable routed message ({exc})", now)
        if tier is None:
            state = RetryState(seq=consumed.offset() or 0, attempts=0, tier=-1, due_ms=_ms(now))
        elif state is None:
            return self._effects.dead_letter(consumed, "retry record without its retry state", now)
        return Item(consumed, message, raw, consumed.partition() or 0, tier, state)

    def _step(self, item: Item) -> list[OutRecord] | _Call:
        """Decide a record's fate up to the endpoint call, which the caller runs."""
        message, partition, state = item.message, item.partition, item.state
        receiver = message.receiver_her_id
        now = datetime.now(UTC)
        try:
            decision = self._decide(item, now)
            if isinstance(decision, _Call):
                return decision
            return self._effects.apply(item, decision, now)
        except Exception as exc:  # a bug: park the record, free the receiver, keep going
            log.exception("delivery failed internally", message_id=str(message.hub_message_id))
            self._backlog.remove(partition, receiver, state.seq)
            return self._effects.dead_letter(
                item.consumed, f"internal error in delivery ({type(exc).__name__})", now
            )

    def _decide(self, item: Item, now: datetime) -> Decision | _Call:
        """Gather the facts :mod:`~broker_adapters.delivery.decision` needs, and ask it."""
        message, partition, state = item.message, item.partition, item.state
        receiver, fresh = message.receiver_her_id, item.tier is None
        queue = Queue(
            waiting=self._backlog.count(partition, receiver),
            ahead=self._backlog.before(partition, receiver, state.seq),
            calling=self._calls.busy(receiver),
        )
        placed = place(message, state, queue, now, self._delivery, fresh=fresh)
        adopt = item.tier is not None and not isinstance(placed, GiveUp)  # not too old
        if adopt and self._backlog.find(partition, receiver, state.seq) is None:
            # written before its backlog entry was (should not happen): adopt it in order
            self._backlog.put(partition, receiver, Pending(state.seq, item.tier or 0, state.due_ms))
        if placed is not None:
            return placed
        party = self._register().receiving_party(receiver)
        endpoint = party.endpoint if party is not None else None
        key = f"{message.hub_message_id}:{receiver}"
        facts = Receiver(
            kind=endpoint.kind.value if endpoint is not None else None,
            late=self._calls.late_result(key),
            calling=self._calls.running(key),
            breaker_open=endpoint is not None and not self._breakers.permits(endpoint),
        )
        decided = turn(message, state, facts, now, self._delivery)
        if not isinstance(decided, Call):
            return decided
        assert endpoint is not None  # a call is only decided for a receiver with an endpoint
        self._breakers.allow(endpoint)  # the call is the half-open breaker's probe, if any
        return _Call(
            item, endpoint, decided.kind, Handover(message, endpoint.address, decided.attempt)
        )

    def _answered(self, call: _Call, result: Attempt) -> list[OutRecord]:
        """The endpoint answered (or ran out its deadline, which is a failure too)."""
        self._judge(call.address, call.kind, result)
        now = datetime.now(UTC)
        item = call.item
        decision = settle(
            item.message, item.state, call.kind, call.handover.attempt, result, now, self._delivery
        )
        return self._effects.apply(item, decision, now)

    def _judge(self, address: Address, kind: str, result: Attempt) -> None:
        if isinstance(result, HandedOver) or result.permanent:
            self._breakers.succeeded(address)  # the endpoint answered
        else:
            self._breakers.failed(address)
        self._metrics.attempt(kind, _result_of(result))

    def _left_in_flight(self, call: _Call, future: Future[Attempt]) -> list[OutRecord]:
        """Stop waiting for a slow call: its message waits in the retry path meanwhile."""
        item = call.item
        self._calls.leave(
            call.handover.idempotency_key, item.message.receiver_her_id, call.address, future
        )
        now = datetime.now(UTC)
        decision = left_in_flight(item.state, call.kind, call.handover.attempt, now, self._delivery)
        return self._effects.apply(item, decision, now)

    def _settle_late_calls(self) -> None:
        """Tell the breakers how the calls left in flight ended (slowness counts as failure)."""
        for settled in self._calls.settled():
            self._judge(settled.address, settled.address.kind.value, settled.result)

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

    # -- housekeeping -------------------------------------------------------------------------

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_report >= _REPORT_INTERVAL_S:
            self._last_report = now
            self._metrics.breaker_states(
                {(kind, state.value): n for (kind, state), n in self._breakers.counts().items()}
            )
            self._metrics.depth(self._tier_depths(), self._backlog.size())
        if self._mailbox is not None and now - self._last_breakers >= _REPORT_INTERVAL_S:
            self._last_breakers = now
            try:  # the console's view only: delivery goes on without it
                publish_breakers(self._mailbox.engine, self._worker_id, self._breakers.held())
            except Exception as exc:
                log.warning("breaker states not published", error=type(exc).__name__)
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
    if isinstance(result, HandedOver):
        return AttemptResult.SUCCESS
    return AttemptResult.PERMANENT if result.permanent else AttemptResult.RETRIABLE


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
