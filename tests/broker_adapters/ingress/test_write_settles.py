"""Every asynchronous write is settled: by its report, by the broker's permanent refusal, or at
a deadline; a delivery callback that raises does not end the producer's report thread."""

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka import KafkaError, Message

from access.principals import Principal
from addressregister.index import RegisterIndex
from addressregister.live import StaticRegister
from broker_adapters.ingress import IngressGate, IngressSettings
from broker_adapters.ingress.base import Outcome, RefusalReason, Refused, Submission
from kafka_io import DurableProducer, OutRecord, ensure_topics
from kafka_io.errors import RecordRefusedError
from kafka_io.settings import TopicSpec


class SilentProducer:
    """Takes records and never reports them (a producer whose report thread is gone)."""

    def __init__(self) -> None:
        self.closed = False

    def send(self, record: OutRecord, on_delivery: Any = None, timeout_s: Any = None) -> None:
        return None

    def flush(self, timeout_s: float = 10.0) -> int:
        return 0

    def close(self, timeout_s: float = 10.0) -> None:
        self.closed = True


def submission(raw: bytes) -> Submission:
    return Submission(
        raw=raw,
        principal=Principal("epj", frozenset()),
        adapter="amqp",
        received_at=datetime.now(UTC),
    )


NO_REGISTER = StaticRegister(RegisterIndex.empty())
"""The document names no sender, so nothing is looked up."""
DOCUMENT = b"<?xml version='1.0'?><Ping xmlns='urn:x'>" + b"<a>x</a>" * 2000 + b"</Ping>"


def test_a_write_without_a_report_is_settled_at_its_deadline() -> None:
    made: list[SilentProducer] = []

    def factory(_on_error: Any) -> Any:
        made.append(SilentProducer())
        return made[-1]

    gate = IngressGate(factory, "inbound", IngressSettings(write_timeout_s=0.2), NO_REGISTER)
    outcomes: list[Outcome] = []
    settled = threading.Event()

    def done(outcome: Outcome) -> None:
        outcomes.append(outcome)
        settled.set()

    gate.submit_async(submission(DOCUMENT), done)
    assert settled.wait(10), "the asynchronous write was never settled"
    assert outcomes == [Refused(RefusalReason.BROKER_UNAVAILABLE, outcomes[0].detail)]  # type: ignore[union-attr]
    assert len(made) == 2, "the silent producer was not replaced"
    gate.close()


@pytest.mark.integration
def test_a_raising_callback_does_not_end_the_report_thread(kafka_bootstrap: str) -> None:
    topic = f"callbacks-{uuid.uuid4().hex[:10]}"
    ensure_topics({"bootstrap.servers": kafka_bootstrap}, [TopicSpec(name=topic, partitions=1)])
    producer = DurableProducer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})
    try:
        called = threading.Event()

        def bad(_error: KafkaError | None, _message: Message) -> None:
            called.set()
            raise RuntimeError("a bug in a callback")

        producer.send(OutRecord(topic=topic, key=None, value=b"first"), bad)
        assert called.wait(20)
        partition, offset = producer.send_and_wait(OutRecord(topic=topic, key=None, value=b"next"))
        assert (partition, offset) == (0, 1)
    finally:
        producer.close(5)


@pytest.mark.integration
def test_a_record_the_broker_refuses_as_too_large_is_refused_for_good(kafka_bootstrap: str) -> None:
    topic = f"too-large-{uuid.uuid4().hex[:10]}"
    ensure_topics({"bootstrap.servers": kafka_bootstrap}, [TopicSpec(name=topic, partitions=1)])
    config = {"bootstrap.servers": kafka_bootstrap, "message.max.bytes": 4000}

    def factory(on_error: Any) -> DurableProducer:
        return DurableProducer({**config, "error_cb": on_error})

    gate = IngressGate(factory, topic, IngressSettings(write_timeout_s=5), NO_REGISTER)
    try:
        outcome = gate.submit(submission(DOCUMENT))
        assert isinstance(outcome, Refused)
        assert outcome.reason is RefusalReason.TOO_LARGE
        assert not outcome.transient
        assert gate.ready(), "a refused record is not a broker outage"
        with pytest.raises(RecordRefusedError):
            DurableProducer(config).send_and_wait(OutRecord(topic=topic, key=None, value=DOCUMENT))
    finally:
        gate.close()
