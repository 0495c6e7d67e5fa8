"""Reading dead letters costs what the reader needs: the newest few, a time window, and
documents only where they are wanted (any sender decides how large a dead letter is)."""

from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Producer

from kafka_io.settings import KafkaSettings, TopicSpec
from meldingshub.dlq import read_dead_letters
from routing.events import unreadable_record
from schemas.records import encode
from tests.conftest import TopicFactory

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_newest_window_and_documents_dropped_as_read(
    kafka_settings: KafkaSettings, kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    topic = topic_factory("rejected", 1)
    kafka = kafka_settings.model_copy(deep=True)
    kafka.topics.rejected = TopicSpec(name=topic, partitions=1)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for n in range(10):  # one a minute from T0, each with a 100 kB document
        at = T0 + timedelta(minutes=n)
        letter = unreadable_record(f"x/0/{n}", b"%d" % n * 100_000, "test", at)
        producer.produce(topic, encode(letter), timestamp=int(at.timestamp() * 1000))
    assert producer.flush(30) == 0

    every = list(read_dead_letters(kafka, kafka_bootstrap))
    assert [letter.offset for letter in every] == list(range(10))
    assert all(len(letter.message.payload) == 100_000 for letter in every)

    newest = list(read_dead_letters(kafka, kafka_bootstrap, newest=3, keep_payload=False))
    # the newest 3, counted back from the high watermark (which Tansu reports low: a few more)
    assert [letter.offset for letter in newest][-3:] == [7, 8, 9]
    assert all(letter.message.payload == b"" for letter in newest)

    window = read_dead_letters(
        kafka, kafka_bootstrap, since=T0 + timedelta(minutes=4), until=T0 + timedelta(minutes=6)
    )
    assert [letter.offset for letter in window] == [4, 5, 6]
    later = read_dead_letters(kafka, kafka_bootstrap, since=T0 + timedelta(hours=1))
    assert list(later) == []
