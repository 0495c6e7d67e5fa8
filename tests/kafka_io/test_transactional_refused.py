"""An output the broker refuses for what it is (too large) does not stall the partition.

The batch is redone one record per transaction; the record whose output is refused
gets its dead letter instead, and every other record of the batch goes through.
"""

import pytest
from confluent_kafka import Consumer, Message

from kafka_io import OutRecord, TransactionalLoop, consumer_config, producer_config
from kafka_io.errors import RecordRefusedError
from kafka_io.transactional import Batch, BatchStage
from tests.conftest import TopicFactory
from tests.kafka_io.test_transactional_loop import hub_settings, produce
from tests.support.kafka import read_all
from tests.support.waiting import running

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


class _Copying(BatchStage):
    """A batch stage that copies each record, growing record 7 past the producer's limit."""

    def __init__(self, outbound: str, dead: str) -> None:
        self.outbound, self.dead = outbound, dead
        self.aborts = 0
        self.refusals: list[str] = []

    def process_batch(self, consumer: Consumer, messages: list[Message]) -> Batch:
        batch = Batch()
        for message in messages:
            value = message.value() or b""
            grown = value * (LIMIT // len(value) + 1) if b"n='7'" in value else value
            batch.outputs.append(OutRecord(topic=self.outbound, key=None, value=grown))
            batch.positions[(message.topic() or "", message.partition() or 0)] = (
                message.offset() or 0
            ) + 1
        return batch

    def aborted(self, consumer: Consumer) -> None:
        self.aborts += 1

    def refused(self, message: Message, error: RecordRefusedError) -> list[OutRecord]:
        self.refusals.append(error.kind)
        return [OutRecord(topic=self.dead, key=None, value=message.value())]


def test_a_batch_stage_settles_a_refused_output_and_its_batch_flows(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    inbound, outbound = topic_factory("inbound", 1), topic_factory("outbound", 1)
    dead = topic_factory("dead", 1)
    settings = hub_settings(kafka_bootstrap, inbound, outbound)
    stage = _Copying(outbound, dead)
    loop = TransactionalLoop(
        name="refusing-stage",
        consumer_config=consumer_config(settings, kafka_bootstrap, f"g-{inbound}"),
        producer_config={**producer_config(settings, kafka_bootstrap), "message.max.bytes": LIMIT},
        topics=[inbound],
        process=stage,
    )
    produce(kafka_bootstrap, inbound, 20)
    with running(loop):
        moved = read_all(kafka_bootstrap, outbound, expected=19, timeout_s=60)
        letters = read_all(kafka_bootstrap, dead, expected=1, timeout_s=30)
    assert sorted(r.value() or b"" for r in moved) == sorted(
        f"<msg n='{i}'/>".encode() for i in range(20) if i != 7
    )
    assert [r.value() for r in letters] == [b"<msg n='7'/>"]
    assert stage.refusals == ["too_large"]
    assert stage.aborts >= 2  # the whole batch's transaction, then record 7's alone
