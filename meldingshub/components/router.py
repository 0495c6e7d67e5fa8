"""The router component: the thin Kafka loop around the pure routing pipeline.

Per inbound record, inside one Kafka transaction: read the envelope, decide,
and write routed messages (``hub.outbound``, keyed by receiver HER-id), the
rejection (``hub.rejected``) and the hub's negative AppRec, one event per
outcome (``hub.events``), the de-duplication entry (changelog of the input
partition) and the correlation entry for AppRecs (``hub.router.sent``), then
commit the consumed offsets with them.
"""

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import NAMESPACE_URL, uuid5

import structlog
from confluent_kafka import Consumer, Message, TopicPartition

from access.principals import Principals
from addressregister.index import Snapshots
from hubcore.errors import describe
from kafka_io import (
    OutRecord,
    TransactionalLoop,
    client_config,
    consumer_config,
    headers_of,
    producer_config,
)
from kafka_io.changelog import ChangelogState
from kafka_io.cold import ColdRecords
from kafka_io.errors import RecordRefusedError
from kafka_io.settings import KafkaSettings, TopicSpec
from kafka_io.table import TimedTable
from routing.decision import Duplicate, Rejected, Routed
from routing.events import internal_error
from routing.outputs import OutputBuilder, Outputs, SentRecord
from routing.pipeline import decide
from routing.settings import RoutingSettings
from schemas import shown
from schemas.avro_errors import AvroDecodeError
from schemas.reader import MessageReader
from schemas.records import (
    INBOUND_HEADER,
    InboundMessage,
    MessageEvent,
    PayloadRef,
    decode,
    encode,
)
from schemas.vocabulary import AppRecErrorCode, Family

log = structlog.get_logger(__name__)

EventObserver = Callable[[MessageEvent], None]


def router_topics(routing: RoutingSettings, inbound_partitions: int) -> list[TopicSpec]:
    """The router's own state topics: de-duplication partitioned like ``hub.inbound``.

    Compacted, and deleted after the window they serve, so they stay as small as the state.
    """
    return [
        TopicSpec(
            name=routing.dedup_topic,
            partitions=inbound_partitions,
            config={
                "cleanup.policy": "compact,delete",
                "retention.ms": str(routing.dedup_window_ms),
            },
        ),
        TopicSpec(
            name=routing.sent_topic,
            partitions=3,
            config={
                "cleanup.policy": "compact,delete",
                "retention.ms": str(routing.correlation_window_ms),
            },
        ),
    ]


def inbound_metadata(message: Message) -> InboundMessage:
    """The ingress metadata of a record: its header, or derived from a raw record."""
    header = dict(headers_of(message)).get(INBOUND_HEADER)
    if header is not None:
        try:
            return decode(header, InboundMessage)
        except AvroDecodeError:
            log.warning("unreadable inbound metadata header; treating record as raw")
    # A raw record names no principal: a header its producer wrote proves nothing, so only an
    # open (embedded demo) hub routes it.
    timestamp_ms = message.timestamp()[1]
    received = (
        datetime.fromtimestamp(timestamp_ms / 1000, UTC) if timestamp_ms > 0 else datetime.now(UTC)
    )
    return fallback_metadata(message, received)


def fallback_metadata(message: Message, received_at: datetime | None = None) -> InboundMessage:
    """Metadata from the record's position alone (no principal), which cannot fail: a raw
    record's, or that of a record whose own metadata cannot be read at all. The hub id is
    derived from the position, so a re-run gives the same id."""
    position = f"{message.topic()}/{message.partition()}/{message.offset()}"
    return InboundMessage(
        hub_message_id=uuid5(NAMESPACE_URL, f"kafka:{position}"),
        adapter="kafka",
        principal=None,
        received_at=received_at or datetime.now(UTC),
        size_bytes=len(message.value() or b""),
        transport_message_id=position,
    )


class RouterComponent:
    """Consumer group on ``hub.inbound``; exactly once into outbound, rejected and events."""

    name = "router"

    def __init__(
        self,
        kafka: KafkaSettings,
        routing: RoutingSettings,
        state_dir: Path,
        bootstrap_servers: str,
        register: Snapshots,
        reader: MessageReader,
        principals: Principals | Callable[[], Principals],
        observe: EventObserver | None = None,
        register_usable: Callable[[], bool] = lambda: True,
        cold: ColdRecords | None = None,
    ) -> None:
        """Nothing is consumed while ``register_usable()`` is false (before the register is
        loaded, or while its follower is down): a decision on a stale or empty register would
        reject good messages and remember them as duplicates. ``state_dir`` holds the local
        files of the de-duplication and correlation state; ``cold`` the part of their topics
        kept off the embedded broker, read before the topics."""
        self._topics = kafka.topics
        self._register = register
        self._reader = reader
        self._principals = principals if callable(principals) else (lambda: principals)
        self._observe = observe
        self._builder = OutputBuilder(routing, Principals())
        self._state_args = (client_config(kafka, bootstrap_servers), routing, state_dir, cold)
        self._dedup, self._sent = self._open_state()
        self._remembered: tuple[PayloadRef, int, str] | None = None
        """Where the last record that was remembered for de-duplication came from, and its key."""
        self._running = threading.Event()
        self._sent_topic = routing.sent_topic
        self._loop = TransactionalLoop(
            name=self.name,
            consumer_config=consumer_config(kafka, bootstrap_servers, routing.group_id),
            producer_config=producer_config(
                kafka, bootstrap_servers, f"{routing.group_id}-{kafka.instance_id}"
            ),
            topics=[kafka.topics.inbound.name],
            process=self.process,
            on_error=self.dead_letter,
            on_assign=self._restore,
            consume_while=register_usable,
        )

    def _open_state(self) -> tuple[ChangelogState, TimedTable]:
        """Millions of keys at national rates: kept in local files, not in memory."""
        base, routing, state, cold = self._state_args
        dedup = ChangelogState(base, routing.dedup_topic, routing.dedup_window_ms, state, cold)
        sent = TimedTable(
            base, routing.sent_topic, _sent_entry, routing.correlation_window_ms, state, cold=cold
        )
        return dedup, sent

    def run(self, stop: threading.Event) -> None:
        """Route until stopped; runs again after a failure (the supervisor restarts it) or
        a checkpoint of the embedded broker, with the state it had, read on from there."""
        self._running.set()
        try:
            self._sent.start()
            self._loop.run(stop)
        finally:
            self._sent.stop()
            self._running.clear()

    def close(self) -> None:
        """Release the state's local files (the process is done with this router); left to
        the process's end while a run that did not stop still uses them."""
        if self._running.is_set():
            return
        self._sent.close()
        self._dedup.close()

    @property
    def holding(self) -> threading.Event:
        """Set while consumption is held (the register is not usable)."""
        return self._loop.holding

    @property
    def committed_batches(self) -> int:
        """Transactions committed so far."""
        return self._loop.committed_batches

    def ready(self) -> bool:
        """Ready once the group gave this router partitions and the correlation view is loaded."""
        return self._loop.assigned.is_set() and self._sent.loaded.is_set()

    def _forget_remembered(self, message: Message) -> None:
        """The record is parked instead of routed, so what processing it put in the local
        de-duplication state (not in the changelog: that transaction was aborted) must not
        make a corrected re-send a duplicate; the state outlives the run, nothing re-reads it."""
        position = PayloadRef(
            message.topic() or "", message.partition() or 0, message.offset() or 0
        )
        if self._remembered is not None and self._remembered[0] == position:
            _where, partition, key = self._remembered
            self._dedup.forget(partition, key)
        self._remembered = None

    def _restore(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        restored = self._dedup.restore(p.partition for p in partitions)
        log.info("de-duplication state restored", partitions=len(partitions), entries=restored)

    def process(self, message: Message) -> list[OutRecord]:
        """Decide one inbound record and return every record it produces."""
        raw = message.value() or b""
        partition = message.partition() or 0
        inbound = inbound_metadata(message)
        now = datetime.now(UTC)
        now_ms = int(now.timestamp() * 1000)
        read = self._reader.read(raw)
        index = self._register()
        principals = self._principals()
        originals: dict[str, SentOriginal] = {}

        def original_receivers(key: str) -> frozenset[int] | None:
            # The original may have been routed a moment ago (an automated receiver answers
            # at once): a miss waits until the view has every entry committed so far, or the
            # AppRec would lose its original (no status for the sender, no spoofing check).
            found = self._sent.get_committed(key.encode(), now_ms)
            if found is None:
                return None
            originals[key] = original = SentOriginal.of(*found)
            return original.receivers

        decision = decide(
            read,
            inbound,
            index,
            principals,
            lambda key: self._dedup.get(partition, key, now_ms),
            now,
            original_receivers,
        )
        original = None
        if isinstance(decision, Routed) and decision.envelope.family is Family.APPREC and originals:
            received_ms = next(iter(originals.values())).received_ms
            original = datetime.fromtimestamp(received_ms / 1000, UTC)
        where = PayloadRef(message.topic() or "", partition, message.offset() or 0)
        outputs = self._builder.build(
            decision, inbound, raw, index, now, original, principals, payload_at=where
        )
        self._log(decision, inbound)
        if outputs.remember is not None:
            self._remembered = (where, partition, outputs.remember[0])
        return self._records(outputs, partition, now_ms)

    def _records(self, outputs: Outputs, partition: int, now_ms: int) -> list[OutRecord]:
        topics = self._topics
        records = [
            OutRecord(
                topic=topics.outbound.name,
                key=str(routed.receiver_her_id).encode(),
                value=encode(routed),
            )
            for routed in outputs.routed
        ]
        if outputs.rejected is not None:
            rejected = outputs.rejected
            key = rejected.sender_her_id or rejected.ingress.principal or ""
            records.append(
                OutRecord(topic=topics.rejected.name, key=str(key).encode(), value=encode(rejected))
            )
        for event in outputs.events:
            records.append(
                OutRecord(topic=topics.events.name, key=event.event_id.bytes, value=encode(event))
            )
            if self._observe is not None:
                self._observe(event)
        if outputs.remember is not None:
            key, hub_message_id = outputs.remember
            records.append(self._dedup.put(partition, key, hub_message_id, now_ms))
        for sent in outputs.sent:
            records.append(
                OutRecord(topic=self._sent_topic, key=sent.key.encode(), value=_encode_sent(sent))
            )
        return records

    def dead_letter(self, message: Message, exc: Exception) -> list[OutRecord]:
        """A record the router could not process (a bug, not bad input): park it, keep going.

        Never raises: when even the record's metadata cannot be read, it is derived
        from the record's position.
        """
        try:
            inbound = inbound_metadata(message)
        except Exception as meta_exc:
            log.error("inbound metadata unreadable", error=describe(meta_exc))
            inbound = fallback_metadata(message)
        try:
            self._forget_remembered(message)  # parked, not routed: its outputs are not committed
        except Exception as state_exc:  # the local file; parking the record comes first
            log.error("de-duplication entry not forgotten", error=describe(state_exc))
        now = datetime.now(UTC)
        code, payload = AppRecErrorCode.X99, message.value() or b""
        reason = f"internal error in the router ({type(exc).__name__}); replay after a fix"
        if isinstance(exc, RecordRefusedError):  # its outputs are too large or invalid
            code, payload = AppRecErrorCode.T99, b""  # the payload stays on hub.inbound
            reason = f"the broker refuses the routed records ({exc.kind}); not routed"
        rejected, event = internal_error(inbound, code, reason, payload, now)
        return [
            OutRecord(topic=self._topics.rejected.name, key=None, value=encode(rejected)),
            OutRecord(
                topic=self._topics.events.name, key=event.event_id.bytes, value=encode(event)
            ),
        ]

    @staticmethod
    def _log(decision: Routed | Rejected | Duplicate, inbound: InboundMessage) -> None:
        envelope = decision.envelope
        fields = {
            "message_id": str(inbound.hub_message_id),
            "msg_id": shown.message_id(envelope.msg_id) if envelope else None,
            "message_type": shown.message_type(envelope) if envelope else None,
        }
        if isinstance(decision, Routed):
            log.debug(
                "routed",
                receivers=[d.resolution.receiver_her_id for d in decision.deliveries],
                **fields,
            )
        elif isinstance(decision, Rejected):
            log.info("rejected", code=decision.code.value, reason=decision.reason, **fields)
        else:
            log.info("duplicate", first=decision.first_hub_message_id, **fields)


@dataclass(frozen=True, slots=True)
class SentOriginal:
    """What the correlation view keeps of a routed message: when, and who received it."""

    received_ms: int
    receivers: frozenset[int] | None
    """Receiving organisations; None for entries written before they were recorded."""

    @classmethod
    def of(cls, received_ms: int, receivers: str) -> "SentOriginal":
        """From the correlation view's ``(time, "h1,h2,...")``; "" is an old, unknown entry."""
        if not receivers:
            return cls(received_ms, None)
        return cls(received_ms, frozenset(int(h) for h in receivers.split(",")))


def _encode_sent(sent: SentRecord) -> bytes:
    return json.dumps(
        {
            "t": int(sent.received_at.timestamp() * 1000),
            "id": str(sent.hub_message_id),
            "r": sorted(sent.receivers),
        }
    ).encode()


def _sent_entry(value: bytes) -> tuple[int, str]:
    """``(received ms, "h1,h2,...")`` of a ``hub.router.sent`` value for the local view."""
    entry = json.loads(value)
    return int(entry["t"]), ",".join(str(int(h)) for h in entry.get("r", ()))
