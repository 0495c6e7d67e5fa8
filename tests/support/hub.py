"""Hub settings on uuid-named topics, and helpers to feed ``hub.inbound`` as ingress does."""

import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from confluent_kafka import Producer

from access.principals import Principals
from access.settings import AccessSettings
from addressregister.index import RegisterIndex
from kafka_io import ensure_topics
from kafka_io.settings import KafkaSettings, TopicSettings, TopicSpec
from meldingshub.components import Component
from meldingshub.components.router import RouterComponent, router_topics
from meldingshub.settings import Settings
from routing.settings import RoutingSettings
from schemas.reader import MessageReader
from schemas.records import INBOUND_HEADER, InboundMessage, encode
from tests.support.waiting import running

TopicFactory = Callable[..., str]
C = TypeVar("C", bound=Component)


def isolated_settings(
    bootstrap: str, partitions: int = 3, principals_file: Path | None = None, **routing: object
) -> Settings:
    """Settings whose every topic and group is new, so tests never see each other's records."""
    run = uuid.uuid4().hex[:10]
    topics = TopicSettings(
        inbound=TopicSpec(name=f"inbound-{run}", partitions=partitions),
        outbound=TopicSpec(name=f"outbound-{run}", partitions=partitions),
        rejected=TopicSpec(name=f"rejected-{run}", partitions=1),
        events=TopicSpec(name=f"events-{run}", partitions=partitions),
        parties=TopicSpec(
            name=f"parties-{run}", partitions=1, config={"cleanup.policy": "compact"}
        ),
    )
    settings = Settings(
        kafka=KafkaSettings(bootstrap_servers=bootstrap, topics=topics),
        access=AccessSettings(principals_file=principals_file),
        routing=RoutingSettings(
            group_id=f"router-{run}",
            dedup_topic=f"dedup-{run}",
            sent_topic=f"sent-{run}",
            **routing,  # type: ignore[arg-type]
        ),
    )
    ensure_topics(
        {"bootstrap.servers": bootstrap},
        [*topics.all(), *router_topics(settings.routing, topics.inbound.partitions)],
    )
    return settings


def inbound_for(raw: bytes, principal: str = "epj", adapter: str = "http") -> InboundMessage:
    """Metadata as an ingress adapter writes it."""
    return InboundMessage(
        hub_message_id=uuid.uuid4(),
        adapter=adapter,
        principal=principal,
        received_at=datetime.now(UTC),
        size_bytes=len(raw),
    )


def send_inbound(
    bootstrap: str,
    topic: str,
    documents: Iterable[bytes],
    principal: str = "epj",
    key: str | None = None,
) -> list[InboundMessage]:
    """Write documents to the inbound topic the way ingress does: a key (the sender's
    organisation; here the principal unless given) and the metadata header."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "message.max.bytes": 50_000_000,
        }
    )
    sent = []
    for raw in documents:
        meta = inbound_for(raw, principal)
        producer.produce(
            topic,
            value=raw,
            key=(key or principal).encode(),
            headers=[(INBOUND_HEADER, encode(meta))],
        )
        sent.append(meta)
        producer.poll(0)
    assert producer.flush(60) == 0
    return sent


def router_settings(settings: Settings) -> tuple[KafkaSettings, RoutingSettings, Path]:
    """The router's own settings out of a whole ``Settings``, as the composition root gives them."""
    return settings.kafka, settings.routing, settings.data_dir / "state"


@contextmanager
def running_router(
    settings: Settings,
    register: RegisterIndex,
    reader: MessageReader,
    principals: Principals | None = None,
    usable: threading.Event | None = None,
) -> Iterator[RouterComponent]:
    """A router on its own thread over a fixed register (open mode unless ``principals``);
    with ``usable``, it consumes only while that event is set."""
    component = RouterComponent(
        *router_settings(settings),
        settings.kafka.bootstrap_servers,
        lambda: register,
        reader,
        principals or Principals.open(),
        register_usable=usable.is_set if usable is not None else lambda: True,
    )
    with running(component):
        yield component
