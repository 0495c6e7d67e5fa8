"""An output the broker refuses for what it is (too large) does not stall the partition.

The batch is redone one record per transaction; the record whose output is refused
gets its dead letter instead, and every other record of the batch goes through.
"""

import pytest
from confluent_kafka import Message

from kafka_io import OutRecord, TransactionalLoop, consumer_config, producer_config
from kafka_io.errors import RecordRefusedError
from tests.conftest import TopicFactory
from tests.kafka_io.test_transactional_loop import hub_settings, produce, running
from tests.support.kafka import read_all

pytestmark = pytest.mark.integration

LIMIT = 20_000


def test_a_refused_output_is_dead_lettered_and_the_batch_flows(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    inbound, outbound = topic_factory("inbound", 1), topic_factory("outbound", 1)
    dead = topic_factory("dead", 1)
    settings = hub_settings(kafka_bootstrap, inbound, outbound)
    refused: list[str] = []

    def process(message: Message) -> list[OutRecord]:
        value = message.value() or b""
        grown = value * (LIMIT // len(value) + 1) if b"n='7'" in value else value
        return [OutRecord(topic=outbound, key=None, value=grown)]

    def on_error(message: Message, exc: Exception) -> list[OutRecord]:
        assert isinstance(exc, RecordRefusedError)
        refused.append(exc.kind)
        return [OutRecord(topic=dead, key=None, value=message.value())]

    config = {**producer_config(settings, kafka_bootstrap), "message.max.bytes": LIMIT}
    loop = TransactionalLoop(
        name="refusing",
        consumer_config=consumer_config(settings, kafka_bootstrap, f"g-{inbound}"),
        producer_config=config,
        topics=[inbound],
        process=process,
        on_error=on_error,
    )
    produce(kafka_bootstrap, inbound, 20)
    with running(loop):
        moved = read_all(kafka_bootstrap, outbound, expected=19, timeout_s=60)
        letters = read_all(kafka_bootstrap, dead, expected=1, timeout_s=30)
    assert sorted(r.value() or b"" for r in moved) == sorted(
        f"<msg n='{i}'/>".encode() for i in range(20) if i != 7
    )
    assert [r.value() for r in letters] == [b"<msg n='7'/>"]
    assert refused == ["too_large"]
