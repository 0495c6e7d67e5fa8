"""The gate every ingress adapter goes through: the cheap checks, then the durable write.

Checks are only those that say a submission is not a message at all, or not
one this principal may send: size, XML well-formedness through the hardened
parser, and sender authorisation (:func:`routing.authorisation.authorise_sender`
on the sender the register resolves, the same decision the router makes).
Validation and routing are the router's job. The write puts the raw bytes on
``hub.inbound`` (key: the sender's organisation, so one organisation's messages
share a partition and meet one de-duplication state in the router; header: the
encoded :class:`~schemas.records.InboundMessage`) and reports success only when
the broker confirmed it with acks=all.

Whatever happens inside, every submission is settled exactly once: an unexpected
error while screening refuses it as ``unprocessable``, a record the broker refuses
for what it is (too large, invalid) is refused permanently, and a write whose
report never comes is failed at a deadline.
"""

import functools
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from confluent_kafka import KafkaError, KafkaException, Message

from addressregister.live import RegisterView
from broker_adapters.ingress.base import Accepted, Outcome, RefusalReason, Refused, Submission
from broker_adapters.ingress.budget import ByteBudget
from broker_adapters.ingress.deadlines import Deadlines
from broker_adapters.ingress.settings import IngressSettings
from hubcore.errors import describe
from kafka_io import (
    DurableProducer,
    OutRecord,
    producer_config,
)
from kafka_io.classify import PermanentKind, permanent_kind
from kafka_io.errors import DeliveryFailedError, RecordRefusedError
from kafka_io.settings import KafkaSettings
from metrics.ingress import IngressMetrics
from routing.authorisation import NotAuthorised, authorise_sender
from schemas.catalogue import Catalogue, default_catalogue
from schemas.envelope import read_envelope
from schemas.errors import MessageRejectedError
from schemas.records import INBOUND_HEADER, InboundMessage, encode
from schemas.xmlparse import ParseLimits, parse_message

log = structlog.get_logger(__name__)

Done = Callable[[Outcome], None]
ErrorCallback = Callable[[KafkaError], None]
ProducerFactory = Callable[[ErrorCallback], DurableProducer]
"""Builds a durable producer that reports client errors to the given callback."""

_UNAVAILABLE = "the hub cannot store the message right now; nothing was accepted, send it again"
_CONFIRM_MARGIN_S = 2.0
"""Extra wait beyond librdkafka's own delivery timeout before giving up on a report."""


def ingress_producer_config(
    kafka: KafkaSettings, bootstrap_servers: str, ingress: IngressSettings
) -> dict[str, Any]:
    """The durable producer's configuration with a delivery timeout as short as the sender waits.

    librdkafka then fails a record it could not write before the sender is told 503
    (or the AMQP delivery is returned), instead of writing it minutes later.
    """
    config = producer_config(kafka, bootstrap_servers)
    config["message.timeout.ms"] = int(ingress.write_timeout_s * 1000)
    return config


class _Once:
    """Lets exactly one of several parties (report callback, timed-out waiter) settle a write."""

    def __init__(self, done: Done) -> None:
        self._done = done
        self._claimed = False
        self._lock = threading.Lock()

    def claim(self) -> bool:
        """True for the first caller only."""
        with self._lock:
            if self._claimed:
                return False
            self._claimed = True
            return True

    def __call__(self, outcome: Outcome) -> None:
        # Let go of the caller's callback (it may hold the message's bytes): the write
        # deadline keeps this object until it expires.
        done, self._done = self._done, _settled
        done(outcome)


def _settled(_outcome: Outcome) -> None:
    """What a settled :class:`_Once` calls if called again: nothing."""


class IngressGate:
    """Screens and durably writes submissions; thread-safe, one per process."""

    def __init__(
        self,
        producer_factory: ProducerFactory,
        topic: str,
        settings: IngressSettings,
        register: RegisterView,
        metrics: IngressMetrics | None = None,
        catalogue: Catalogue | None = None,
        limits: ParseLimits | None = None,
    ) -> None:
        self._register = register
        self._lock = threading.Lock()
        self._factory = producer_factory
        self._broken: DurableProducer | None = None
        self._producer = self._new_producer()
        self._topic = topic
        self._settings = settings
        self._metrics = metrics
        self._catalogue = catalogue or default_catalogue()
        # The reader's limits (size, depth, attributes), so nothing passes here that it refuses.
        self._limits = limits or ParseLimits()
        self._last_failure = float("-inf")
        self._deadlines = Deadlines()
        self.bodies = ByteBudget(settings.in_flight_bytes)
        """Request bodies the HTTP APIs of this process hold at once (the ingress budget)."""

    @classmethod
    def create(
        cls,
        kafka: KafkaSettings,
        bootstrap_servers: str,
        settings: IngressSettings,
        register: RegisterView,
        metrics: IngressMetrics | None = None,
        limits: ParseLimits | None = None,
    ) -> "IngressGate":
        """A gate with its own durable producer to ``kafka.topics.inbound``."""
        config = ingress_producer_config(kafka, bootstrap_servers, settings)

        def factory(on_error: ErrorCallback) -> DurableProducer:
            return DurableProducer({**config, "error_cb": on_error})

        return cls(factory, kafka.topics.inbound.name, settings, register, metrics, limits=limits)

    @property
    def settings(self) -> IngressSettings:
        """The ingress settings the gate enforces."""
        return self._settings

    @property
    def limits(self) -> ParseLimits:
        """What the gate lets through: the reader's own limits (size, depth, attributes;
        ``MELDINGSHUB_SCHEMAS__*``), for every adapter and API to hold documents to."""
        return self._limits

    def amqp_prefetch(self) -> int:
        """Unacknowledged AMQP deliveries in flight: the byte budget in largest documents
        (RabbitMQ counts deliveries, not bytes)."""
        return max(1, min(1000, self._settings.in_flight_bytes // self._limits.max_bytes))

    def close(self) -> None:
        """Flush outstanding writes and stop the producer."""
        self._producer.close(self._settings.write_timeout_s)
        self._deadlines.close()

    # -- the producer, replaced when it fails fatally ---------------------------------------

    def _new_producer(self) -> DurableProducer:
        built: list[DurableProducer] = []

        def on_error(error: KafkaError) -> None:
            """librdkafka's error callback (its poll thread): note fatal errors, log the rest."""
            if error.fatal() and built:
                log.error("ingress producer failed fatally; it will be replaced", error=str(error))
                self._mark_broken(built[0])
            else:
                log.debug("kafka client error", error=str(error))

        built.append(self._factory(on_error))
        return built[0]

    def _current(self) -> DurableProducer:
        """The producer to write with; a fatally failed one is replaced first.

        An idempotent producer fails fatally when the broker lost its producer state
        (say a broker restarted without its data); a new producer starts afresh.
        """
        with self._lock:
            broken, self._broken = self._broken, None
            if broken is not None and broken is self._producer:
                self._producer = self._new_producer()
                threading.Thread(
                    target=broken.close, args=(1.0,), name="producer-close", daemon=True
                ).start()
            return self._producer

    def _mark_broken(self, producer: DurableProducer) -> None:
        with self._lock:
            self._broken = producer

    def renew_producer(self) -> None:
        """Write with a new producer from now on: the broker restarted without the old
        one's producer state (the embedded broker after a checkpoint)."""
        with self._lock:
            current = self._producer
        self._replace(current)

    def _replace(self, producer: DurableProducer) -> DurableProducer:
        self._mark_broken(producer)
        return self._current()

    def ready(self) -> bool:
        """False for ``retry_after_s`` after a write the broker did not take."""
        return time.monotonic() - self._last_failure >= self._settings.retry_after_s

    # -- checks ---------------------------------------------------------------------------

    def screen(self, submission: Submission) -> Refused | None:
        """The cheap checks; ``None`` when the submission may be written. Never raises."""
        screened = self._screen_safely(submission)
        return screened if isinstance(screened, Refused) else None

    def screen_for_copy(self, submission: Submission) -> Refused | bytes:
        """For adapters that write ``hub.inbound`` themselves: a refusal, or the record's key."""
        screened = self._screen_safely(submission)
        if isinstance(screened, Refused):
            return screened
        return _key_of(submission, screened)

    def _screen_safely(self, submission: Submission) -> Refused | int | None:
        try:
            return self._screen(submission)
        except Exception as exc:  # a bug or an input nobody foresaw: refuse it, keep going
            log.error(
                "screening failed unexpectedly; message refused",
                adapter=submission.adapter,
                principal=submission.principal.name,
                error=describe(exc),
            )
            return Refused(
                RefusalReason.UNPROCESSABLE,
                f"the hub could not screen this document ({type(exc).__name__}); "
                "it was not accepted",
            )

    def _screen(self, submission: Submission) -> Refused | int | None:
        """A refusal, or the sender's organisation HER-id (None: the document names none)."""
        raw = submission.raw
        if len(raw) > self._limits.max_bytes:
            return Refused(
                RefusalReason.TOO_LARGE,
                f"the document is {len(raw)} bytes; the limit is {self._limits.max_bytes} bytes",
            )
        try:
            root = parse_message(raw, self._limits)
        except MessageRejectedError as exc:
            return Refused(RefusalReason.NOT_XML, f"not an XML message: {exc.reason}")
        sender = read_envelope(root, self._catalogue).envelope.sender
        named = (sender.organisation_her_id, sender.service_her_id, sender.person_her_id)
        claimed = submission.claimed_sender_her_id
        if claimed is not None and claimed not in named:
            return Refused(
                RefusalReason.SENDER_NOT_ALLOWED,
                f"the transport names sender {claimed}, the document another sender",
            )
        if not self._register.loaded.is_set():
            return Refused(
                RefusalReason.BROKER_UNAVAILABLE,
                "the hub has not loaded the address register yet; send it again shortly",
            )
        party = authorise_sender(submission.principal, sender, self._register.snapshot())
        if isinstance(party, NotAuthorised):
            # A document without any sender is the router's to reject with its reader's code.
            return (
                None if party.unnamed else Refused(RefusalReason.SENDER_NOT_ALLOWED, party.reason)
            )
        return party.organisation_her_id

    # -- writing --------------------------------------------------------------------------

    def record_for(
        self, submission: Submission, organisation_her_id: int | None = None
    ) -> tuple[InboundMessage, OutRecord]:
        """The ``hub.inbound`` record of a submission, with a new hub message id."""
        inbound = InboundMessage(
            hub_message_id=uuid.uuid4(),
            adapter=submission.adapter,
            principal=submission.principal.name,
            received_at=submission.received_at,
            size_bytes=len(submission.raw),
            transport_message_id=submission.transport_message_id,
            content_type=submission.content_type,
            source_system=submission.source_system,
        )
        record = OutRecord(
            topic=self._topic,
            key=_key_of(submission, organisation_her_id),
            value=submission.raw,
            headers=((INBOUND_HEADER, encode(inbound)),),
        )
        return inbound, record

    def submit(self, submission: Submission) -> Outcome:
        """Screen, then write and wait for the broker's confirmation (blocking)."""
        result: list[Outcome] = []
        arrived = threading.Event()

        def done(outcome: Outcome) -> None:
            result.append(outcome)
            arrived.set()

        self._write(submission, _Once(done))
        # Settled by the report or at the write deadline; the extra bound is belt and braces.
        if arrived.wait(self._settings.write_timeout_s + 2 * _CONFIRM_MARGIN_S):
            return result[0]
        return Refused(RefusalReason.BROKER_UNAVAILABLE, _UNAVAILABLE)

    def submit_async(self, submission: Submission, done: Done) -> None:
        """Screen now; write in the background and tell ``done`` the outcome (from another thread).

        ``done`` is called once, within the write timeout; at once (in this thread) for
        refusals.
        """
        self._write(submission, _Once(done))

    def _write(self, submission: Submission, done: "_Once") -> DurableProducer | None:
        """Screen and queue the write; return the producer that took it (None if settled)."""
        try:
            return self._queue(submission, done)
        except Exception as exc:  # nothing may leave a submission unsettled
            log.error("ingress write failed unexpectedly", error=describe(exc))
            if done.claim():
                done(self._unprocessable(submission, type(exc).__name__))
            return None

    def _queue(self, submission: Submission, done: "_Once") -> DurableProducer | None:
        screened = self._begin(submission)
        if isinstance(screened, Refused):
            if done.claim():
                done(screened)
            return None
        inbound, record = self.record_for(submission, screened)
        started = time.perf_counter()

        def report(error: KafkaError | None, message: Message) -> None:
            if not done.claim():
                return  # the waiting sender was already told it failed
            kind = permanent_kind(error)
            if kind is not None:
                done(self._refused_by_broker(submission, kind))
            elif error is not None:
                if error.fatal():
                    self._mark_broken(producer)
                done(self._failed(submission, f"broker did not accept the write: {error}"))
            else:
                partition, offset = message.partition(), message.offset()
                done(self._accepted(submission, inbound, partition or 0, offset or 0, started))

        timeout_s = self._settings.write_timeout_s
        producer = self._current()
        try:
            try:
                producer.send(record, report, timeout_s)
            except RecordRefusedError:
                raise
            except KafkaException:  # refused before queueing (fatal producer): safe to retry
                producer = self._replace(producer)
                producer.send(record, report, timeout_s)
        except RecordRefusedError as exc:
            if done.claim():
                done(self._refused_by_broker(submission, exc.kind))
            return None
        except (KafkaException, DeliveryFailedError) as exc:
            if done.claim():
                done(self._failed(submission, str(exc)))
            return None
        self._deadlines.add(
            timeout_s + _CONFIRM_MARGIN_S,
            functools.partial(self._expire, done, producer, submission.adapter),
        )
        return producer

    def _expire(self, done: "_Once", producer: DurableProducer, adapter: str) -> None:
        """No report by the deadline: the producer is broken; replace it, fail the write."""
        if not done.claim():
            return
        self._replace(producer)
        with self._lock:
            self._last_failure = time.monotonic()
        log.warning("no delivery report by the deadline; the producer was replaced")
        refused = Refused(RefusalReason.BROKER_UNAVAILABLE, _UNAVAILABLE)
        self.count_refused(adapter, refused)
        done(refused)

    def flush(self, timeout_s: float) -> int:
        """Wait for outstanding background writes; return how many are still pending."""
        return self._current().flush(timeout_s)

    def _begin(self, submission: Submission) -> Refused | int | None:
        if self._metrics is not None:
            self._metrics.observe_received(submission.adapter)
        screened = self._screen_safely(submission)
        if isinstance(screened, Refused):
            self.count_refused(submission.adapter, screened)
            if screened.reason is RefusalReason.SENDER_NOT_ALLOWED:
                log.warning(
                    "spoofing attempt refused",
                    adapter=submission.adapter,
                    principal=submission.principal.name,
                    reason=screened.detail,
                )
        return screened

    def count_refused(self, adapter: str, refused: Refused) -> None:
        """Count a refusal (adapters call it for refusals they decide themselves)."""
        if self._metrics is not None:
            self._metrics.observe_refused(adapter, refused.reason.value)

    def count_accepted(self, adapter: str, size_bytes: int) -> None:
        """Count a message an adapter wrote itself (the Kafka copy, inside its transaction)."""
        if self._metrics is not None:
            self._metrics.observe_accepted(adapter, size_bytes)

    def count_received(self, adapter: str) -> None:
        """Count a message refused before it reached the gate (e.g. no credentials)."""
        if self._metrics is not None:
            self._metrics.observe_received(adapter)

    def _accepted(
        self,
        submission: Submission,
        inbound: InboundMessage,
        partition: int,
        offset: int,
        started: float,
    ) -> Accepted:
        if self._metrics is not None:
            self._metrics.observe_accepted(
                submission.adapter, len(submission.raw), time.perf_counter() - started
            )
        return Accepted(inbound.hub_message_id, partition, offset)

    def _failed(self, submission: Submission, why: str) -> Refused:
        with self._lock:
            self._last_failure = time.monotonic()
        log.warning(
            "durable write failed; sender not acknowledged",
            adapter=submission.adapter,
            principal=submission.principal.name,
            error=why,
        )
        refused = Refused(RefusalReason.BROKER_UNAVAILABLE, _UNAVAILABLE)
        self.count_refused(submission.adapter, refused)
        return refused

    def _refused_by_broker(self, submission: Submission, kind: PermanentKind) -> Refused:
        """The broker will never take this record: refuse it for good, do not retry."""
        log.warning(
            "broker refused the record; message refused", adapter=submission.adapter, kind=kind
        )
        if kind == "too_large":
            refused = Refused(
                RefusalReason.TOO_LARGE, "the message is larger than the broker accepts"
            )
        else:
            refused = Refused(RefusalReason.UNPROCESSABLE, "the broker refused the record")
        self.count_refused(submission.adapter, refused)
        return refused

    def _unprocessable(self, submission: Submission, what: str) -> Refused:
        refused = Refused(
            RefusalReason.UNPROCESSABLE,
            f"the hub could not take this document ({what}); it was not accepted",
        )
        self.count_refused(submission.adapter, refused)
        return refused


def _key_of(submission: Submission, organisation_her_id: int | None) -> bytes:
    """One organisation's messages share a partition, so the router's de-duplication state
    for that partition sees all of them, whichever principal or adapter sent them."""
    if organisation_her_id is not None:
        return str(organisation_her_id).encode()
    return submission.principal.name.encode("utf-8")
