"""The demo's simulated receivers take their own deliveries and nothing else."""

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, Producer
from confluent_kafka.admin import AdminClient

from broker_adapters.delivery.mailbox_store import MailboxStore, mailbox_id
from kafka_io import ensure_topics
from kafka_io.settings import TopicSpec
from meldingshub.settings import Settings, load_settings
from meldingshub.simulator.receivers import GROUP_ID, SimulatedReceivers, owns_its_data
from tests.broker_adapters.delivery.support import routed

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    monkeypatch.setenv("MELDINGSHUB_DATA_DIR", str(tmp_path / "var"))
    for name in ("MELDINGSHUB_STORE__DSN", "MELDINGSHUB_DELIVERY__OUTBOX_ROOT"):
        monkeypatch.delenv(name, raising=False)
    return load_settings(None)


def _committed(bootstrap: str) -> dict[str, int]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    found = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(GROUP_ID)])
    result = next(iter(found.values())).result(10)
    return {tp.topic: tp.offset for tp in result.topic_partitions or [] if tp.offset >= 0}


def test_the_receivers_take_their_topics_mailboxes_and_files_and_nothing_else(
    settings: Settings, kafka_bootstrap: str, tmp_path: Path
) -> None:
    her_id = random.randint(10**8, 10**9)
    theirs = [f"receiver.{her_id}", f"{settings.delivery.kafka_topic_prefix}.{her_id}"]
    not_theirs = [f"receiver.{her_id}x", f"{settings.delivery.kafka_topic_prefix}.backlog{her_id}"]
    ensure_topics(
        {"bootstrap.servers": kafka_bootstrap},
        [TopicSpec(name=name, partitions=1) for name in theirs + not_theirs],
    )
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for name in theirs + not_theirs:
        for n in range(3):
            producer.produce(name, value=b"<doc %d/>" % n)
    assert producer.flush(10) == 0

    mailbox = MailboxStore.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    now = datetime.now(UTC)
    waiting, fresh = routed(9_400_001, 1), routed(9_400_002, 1)
    mailbox.put(waiting, now=now - timedelta(minutes=5))
    mailbox.put(fresh, now=now)

    outbox = settings.delivery.outbox(settings.data_dir)
    (outbox / "outbox" / "9400003").mkdir(parents=True)
    delivered = outbox / "outbox" / "9400003" / "msg.xml"
    delivered.write_bytes(b"<doc/>")
    being_written = outbox / "outbox" / "9400003" / ".msg.xml.tmp"
    being_written.write_bytes(b"<do")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.xml").write_bytes(b"<keep/>")
    (outbox / "linked-dir").symlink_to(elsewhere, target_is_directory=True)
    (outbox / "linked.xml").symlink_to(elsewhere / "keep.xml")

    receivers = SimulatedReceivers(settings, kafka_bootstrap, mailbox)
    stop = threading.Event()
    thread = threading.Thread(target=receivers.run, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and receivers.taken["kafka"] < 6:
            time.sleep(0.2)  # polling the component's counter
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()

    committed = _committed(kafka_bootstrap)
    assert {name: committed.get(name) for name in theirs} == dict.fromkeys(theirs, 3)
    assert not set(committed) & set(not_theirs)
    assert receivers.taken["kafka"] == 6

    taken = mailbox.get(mailbox_id(waiting.hub_message_id, 9_400_001))
    left = mailbox.get(mailbox_id(fresh.hub_message_id, 9_400_002))
    assert taken is not None and taken.entry.read_at is not None
    assert left is not None and left.entry.read_at is None  # its own client gets a minute

    assert not delivered.exists() and being_written.exists()
    assert (elsewhere / "keep.xml").read_bytes() == b"<keep/>"
    assert (outbox / "linked.xml").is_symlink()  # a link is not a delivered file
    assert receivers.taken["file"] == 1 and receivers.taken["mailbox"] == 1


def test_the_demo_runs_receivers_only_on_its_own_store_and_outbox(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    assert owns_its_data(settings)
    monkeypatch.setenv("MELDINGSHUB_STORE__DSN", "postgresql+psycopg://127.0.0.1/shared")
    assert not owns_its_data(load_settings(None))
    monkeypatch.delenv("MELDINGSHUB_STORE__DSN")
    monkeypatch.setenv("MELDINGSHUB_DELIVERY__OUTBOX_ROOT", "/srv/outbox")
    assert not owns_its_data(load_settings(None))
