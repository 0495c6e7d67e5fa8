"""A hub that restored its embedded broker's checkpoint keeps it, however the run ends.

The restore removes the checkpoint file: from then on the records live only in the new
broker. A start that fails after that (the components cannot be built, the ops port is
taken) must not stop that broker without writing them back to disk.
"""

import threading
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from kafka_io.settings import KafkaSettings
from meldingshub import broker_checkpoint
from meldingshub.app import Hub
from meldingshub.embedded_broker import EmbeddedBroker, free_port
from meldingshub.settings import Settings
from meldingshub.wiring import Assembly

pytestmark = pytest.mark.integration


class _StoreAwayError(Exception):
    """What building the components raised."""


def _no_components(_bootstrap: str) -> Assembly:
    raise _StoreAwayError("the store does not answer")


def test_a_start_that_fails_after_the_restore_keeps_the_checkpoint(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        kafka=KafkaSettings(embedded_port=free_port(), connect_timeout_s=30),
    )
    hub = Hub(settings, _no_components)
    with EmbeddedBroker(port=free_port()) as old:
        config: dict[str, Any] = {"bootstrap.servers": old.bootstrap_servers}
        admin = AdminClient(config)
        for future in admin.create_topics([NewTopic("kept", 1, -1)]).values():
            future.result(10)
        producer = Producer(config)
        producer.produce("kept", value=b"an accepted message")
        assert producer.flush(10) == 0
        broker_checkpoint.save(config, hub.checkpoint_path, "in")

    with pytest.raises(_StoreAwayError):
        hub.run(threading.Event())

    assert hub.checkpoint_path.is_file(), "the restored records went with the broker"
    with EmbeddedBroker(port=free_port()) as new:
        config = {"bootstrap.servers": new.bootstrap_servers}
        restored = broker_checkpoint.restore(config, new.host, new.port, hub.checkpoint_path, "in")
    assert restored.kept_by_topic.get("kept") == 1
