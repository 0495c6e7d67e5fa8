"""What the operator console gets from the process: dead letters, replay, documents, health.

The console's pages live in ``broker_adapters``; reading ``hub.rejected`` and replaying
(:mod:`meldingshub.dlq`, shared with ``meldingshub dlq``), finding a document and asking
this process how it is happen here, and reach the pages as the callables of
:class:`~broker_adapters.http.console.ConsoleDeps`.
"""

import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import httpx
import structlog
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from prometheus_client import CollectorRegistry

from broker_adapters.delivery.mailbox_store import mailbox_id
from broker_adapters.http.console import ConsoleDeps, HealthItem
from hubstats.timeline import record_replay, timeline
from kafka_io import client_config, is_filler
from meldingshub import dlq
from meldingshub.api_resources import ApiResources
from meldingshub.settings import Settings
from schemas.avro_errors import AvroDecodeError
from schemas.records import INBOUND_HEADER, InboundMessage, RejectedMessage, decode
from schemas.vocabulary import EventType

log = structlog.get_logger(__name__)

INBOUND_WINDOW = timedelta(seconds=60)
"""How far past its received-at a message's record on ``hub.inbound`` is looked for."""
INBOUND_SCAN_MAX = 5_000
LISTED_PER_PARTITION = 500
"""The dead-letter page reads the newest this many records of each partition, documents
dropped as read (any sender decides how large a dead letter is)."""
DEAD_LETTER_WINDOW = timedelta(seconds=60)
"""How far from its rejected event a message's dead letter is looked for."""
GIVEN_UP = frozenset({EventType.REJECTED.value, EventType.DELIVERY_FAILED.value})
"""Records read per partition at most when looking for one document on ``hub.inbound``."""


def console_deps(res: ApiResources) -> ConsoleDeps:
    """The console's dependencies in this process."""
    settings = res.settings
    key = settings.http.console_session_key
    store, mailbox = res.store, res.mailbox

    def dead_letters() -> list[RejectedMessage]:
        letters = dlq.read_dead_letters(
            settings.kafka, res.bootstrap_servers, newest=LISTED_PER_PARTITION, keep_payload=False
        )
        return [letter.message for letter in letters]

    def letters_of(hub_message_id: uuid.UUID) -> list[dlq.DeadLetter]:
        """Read around the times the message's events say it was given up; without such an
        event, the newest records only. Only the message's own letters are kept."""
        times = [
            step.occurred_at
            for step in timeline(store.engine, hub_message_id)
            if step.stage in GIVEN_UP and step.hub_message_id == hub_message_id
        ]
        reads = [
            dlq.read_dead_letters(
                settings.kafka,
                res.bootstrap_servers,
                since=at - DEAD_LETTER_WINDOW,
                until=at + DEAD_LETTER_WINDOW,
            )
            for at in times
        ] or [
            dlq.read_dead_letters(
                settings.kafka, res.bootstrap_servers, newest=LISTED_PER_PARTITION
            )
        ]
        found: dict[tuple[int, int], dlq.DeadLetter] = {}
        for read in reads:
            for letter in read:
                if letter.message.hub_message_id == hub_message_id:
                    found[(letter.partition, letter.offset)] = letter
        return list(found.values())

    def dead_letter(hub_message_id: uuid.UUID) -> list[RejectedMessage]:
        return [letter.message for letter in letters_of(hub_message_id)]

    def replay(ids: Sequence[uuid.UUID], operator: str) -> Mapping[uuid.UUID, uuid.UUID]:
        chosen = [letter for wanted in dict.fromkeys(ids) for letter in letters_of(wanted)]
        done: dict[uuid.UUID, uuid.UUID] = {}

        def note(original: uuid.UUID, again: uuid.UUID) -> None:
            done[original] = again
            record_replay(store.engine, original, again, operator, datetime.now(UTC))

        dlq.replay(settings.kafka, res.bootstrap_servers, chosen, note)
        return done

    def document(hub_message_id: uuid.UUID) -> tuple[bytes, str] | None:
        for letter in dead_letter(hub_message_id):
            if letter.payload:
                return letter.payload, "the dead letter on hub.rejected"
        status = store.message_status(hub_message_id)
        for receiver in () if status is None else status.receivers:
            stored = mailbox.get(mailbox_id(hub_message_id, receiver.receiver_her_id))
            if stored is not None:
                return stored.payload, f"the mailbox of HER-id {receiver.receiver_her_id}"
        if status is not None and status.received_at is not None:
            found = _inbound_document(
                settings, res.bootstrap_servers, hub_message_id, status.received_at
            )
            if found is not None:
                return found, "its record on hub.inbound"
        return None

    return ConsoleDeps(
        principals=res.principals,
        store=store,
        register=res.register.snapshot,
        dead_letters=dead_letters,
        dead_letter=dead_letter,
        replay=replay,
        document=document,
        health=lambda: health(res),
        session_key=key.get_secret_value().encode() if key else secrets.token_bytes(32),
    )


def _inbound_document(
    settings: Settings, bootstrap: str, hub_message_id: uuid.UUID, received_at: datetime
) -> bytes | None:
    """The message's record on ``hub.inbound``, found from its received-at time (the record's
    timestamp), or ``None`` once retention removed it."""
    config = client_config(settings.kafka, bootstrap)
    topic = settings.kafka.topics.inbound.name
    start = int((received_at - timedelta(seconds=5)).timestamp() * 1000)
    stop = int((received_at + INBOUND_WINDOW).timestamp() * 1000)
    consumer = Consumer({**config, "group.id": "console-reader", "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=5).topics[topic].partitions
        wanted = [TopicPartition(topic, p, start) for p in partitions]
        positions = [tp for tp in consumer.offsets_for_times(wanted, timeout=5) if tp.offset >= 0]
        for position in positions:
            end = consumer.get_watermark_offsets(position, timeout=5)[1]
            consumer.assign([position])
            for _ in range(min(INBOUND_SCAN_MAX, max(0, end - position.offset))):
                record = consumer.poll(5)
                if record is None or record.error() is not None:
                    break
                if is_filler(record):
                    continue
                if record.timestamp()[1] > stop:
                    break
                header = dict(record.headers() or []).get(INBOUND_HEADER)
                if not isinstance(header, bytes):
                    continue
                try:
                    inbound = decode(header, InboundMessage)
                except AvroDecodeError:
                    continue
                if inbound.hub_message_id == hub_message_id:
                    return record.value() or b""
    finally:
        consumer.close()
    return None


def health(res: ApiResources) -> list[HealthItem]:
    """What this process knows cheaply and truly about itself."""
    items = [_broker(res)]
    for name, check in sorted(res.checks.items()):
        try:
            ok = bool(check())
        except Exception:  # a failing check is an answer, not an error of the page
            ok = False
        items.append(HealthItem(name, ok, "", "readiness check of this process"))
    parties = len(res.register.snapshot())
    items.append(HealthItem("register loaded", parties > 0, f"{parties} parties", "register"))
    items.append(_readyz(res.settings))
    items.extend(_gauges(res.registry))
    return items


def _broker(res: ApiResources) -> HealthItem:
    try:
        admin = AdminClient({**client_config(res.settings.kafka, res.bootstrap_servers)})
        brokers = len(admin.list_topics(timeout=2).brokers)
    except Exception:  # unreachable: say so
        return HealthItem("broker", False, "no answer within 2 s", "Kafka metadata")
    return HealthItem("broker", brokers > 0, f"{brokers} broker(s)", "Kafka metadata")


def _readyz(settings: Settings) -> HealthItem:
    """The process's own readiness (components and adapters included), from its ops port."""
    url = f"http://{settings.http.ops_bind}/readyz"
    try:
        answer = httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return HealthItem("components and adapters", None, "ops port not answering", url)
    return HealthItem(
        "components and adapters", answer.status_code == 200, answer.text.strip()[:300], url
    )


def _gauges(registry: CollectorRegistry) -> list[HealthItem]:
    items = []
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == "meldingshub_consumer_lag_messages":
                group = sample.labels.get("group", "?")
                items.append(
                    HealthItem(
                        f"consumer lag {group}",
                        sample.value < 10_000,
                        f"{sample.value:.0f} messages",
                        "gauge of this process",
                    )
                )
            elif sample.name == "meldingshub_delivery_breakers" and sample.value:
                kind, state = sample.labels.get("endpoint_kind"), sample.labels.get("state")
                items.append(
                    HealthItem(
                        f"breakers {kind} {state}",
                        state != "open",
                        f"{sample.value:.0f} endpoint(s)",
                        "gauge of this process's delivery",
                    )
                )
    return items
