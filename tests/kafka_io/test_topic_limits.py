"""Every topic the hub creates takes exactly the records the hub's clients may write."""

import uuid

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]

from kafka_io import ensure_topics
from kafka_io.config import RECORD_MAX_BYTES, consumer_config, producer_config
from kafka_io.settings import KafkaSettings, TopicSpec

pytestmark = pytest.mark.integration


def test_created_topics_carry_the_hubs_record_limit(kafka_bootstrap: str) -> None:
    plain, compacted = (f"limits-{uuid.uuid4().hex[:10]}" for _ in range(2))
    ensure_topics(
        {"bootstrap.servers": kafka_bootstrap},
        [
            TopicSpec(name=plain, partitions=1),
            TopicSpec(name=compacted, partitions=1, config={"cleanup.policy": "compact"}),
        ],
    )
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    futures = admin.describe_configs(
        [ConfigResource("topic", plain), ConfigResource("topic", compacted)]
    )
    for future in futures.values():
        entries = future.result(30)
        assert entries["max.message.bytes"].value == str(RECORD_MAX_BYTES)
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    assert producer_config(settings, kafka_bootstrap)["message.max.bytes"] == RECORD_MAX_BYTES
    assert consumer_config(settings, kafka_bootstrap, "g")["fetch.message.max.bytes"] == (
        RECORD_MAX_BYTES
    )
