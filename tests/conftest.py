"""Fixtures shared by every test: a real Kafka-protocol broker and uuid-named topics."""

import contextlib
import uuid
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka.admin import AdminClient

from kafka_io import ensure_topics
from kafka_io.settings import KafkaSettings, TopicSpec
from tests.support.broker import hides_aborted_records, running_broker


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of the session's broker (see ``tests/support/broker.py``)."""
    with running_broker() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def broker_hides_aborted(kafka_bootstrap: str) -> bool:
    """Whether the session's broker keeps aborted transactions from ``read_committed`` readers."""
    return hides_aborted_records(kafka_bootstrap)


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    """Kafka settings pointing at the session's broker, with fast consumer-group timing."""
    return KafkaSettings(bootstrap_servers=kafka_bootstrap)


TopicFactory = Callable[..., str]


@pytest.fixture
def topic_factory(kafka_bootstrap: str) -> Iterator[TopicFactory]:
    """Create uuid-named topics: ``topic_factory("inbound", partitions=3)`` returns the name."""
    created: list[str] = []

    def make(prefix: str = "t", partitions: int = 1, **config: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        ensure_topics(
            {"bootstrap.servers": kafka_bootstrap},
            [TopicSpec(name=name, partitions=partitions, config=config)],
        )
        created.append(name)
        return name

    yield make
    if created:
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        for future in admin.delete_topics(created, operation_timeout=10).values():
            with contextlib.suppress(Exception):  # best effort: topics are uuid-named
                future.result(10)
