"""The embedded broker with a data directory keeps what it accepted across a stop (#20).

One test at the broker: records written before a stop are read back after a
start on the same directory. One as a user meets it: ``meldingshub run`` is
stopped with messages accepted but not yet delivered, started again, and every
message reaches its receiver's mailbox exactly once.
"""

import sqlite3
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer

from access.principals import Principal, Principals
from access.tokens import token_hash
from addressregister.fileformat import write_register_file
from broker_adapters.kafka import ensure_topics
from broker_adapters.kafka.settings import TopicSpec
from meldingshub.embedded_broker import EmbeddedBroker, free_port
from meldingshub.embedded_process import rss_bytes
from schemas.reader import MessageReader
from schemas.settings import SchemaSettings
from schemas.vocabulary import Family
from tests.ingress.support import msghead_samples, with_new_msg_id
from tests.support.corpus_register import accepted_samples, consistent, register_for
from tests.support.hub import send_inbound
from tests.support.hub_process import HubProcess
from tests.support.kafka import read_all

pytestmark = pytest.mark.integration

IN_FLIGHT = 300


def test_records_written_before_a_stop_are_read_after_a_start(tmp_path: Path) -> None:
    values = [f"record-{n}".encode() for n in range(200)]
    first = EmbeddedBroker(port=free_port(), data_dir=tmp_path / "broker")
    with first:
        assert first.durable
        assert first.storage is not None
        store_pid = first.storage.pid
        ensure_topics({"bootstrap.servers": first.bootstrap_servers}, [TopicSpec("kept", 2)])
        producer = Producer({"bootstrap.servers": first.bootstrap_servers, "acks": "all"})
        for value in values:
            producer.produce("kept", value, key=value)
        assert producer.flush(20) == 0
        assert (first.storage_bytes() or 0) > sum(map(len, values))
        assert (first.storage_memory_bytes() or 0) > 0
    assert rss_bytes(store_pid) is None, "the store outlived its broker"

    second = EmbeddedBroker(port=free_port(), data_dir=tmp_path / "broker")
    with second:
        records = read_all(second.bootstrap_servers, "kept", expected=len(values), timeout_s=30)
    assert sorted(r.value() or b"" for r in records) == sorted(values)


def test_memory_only_broker_says_so_and_has_no_store() -> None:
    broker = EmbeddedBroker(port=free_port())
    assert not broker.durable
    assert broker.storage_bytes() is None
    assert broker.storage_memory_bytes() is None


def _mailbox_msg_ids(store: Path) -> list[str]:
    if not store.is_file():
        return []
    with sqlite3.connect(store) as db:
        return [row[0] for row in db.execute("SELECT msg_id FROM mailbox_messages")]


@pytest.mark.slow
def test_messages_in_flight_at_a_stop_are_delivered_once_after_the_restart(
    tmp_path: Path,
) -> None:
    samples = consistent(accepted_samples(MessageReader(SchemaSettings())))
    template = next(
        s
        for s in msghead_samples(samples)
        if s.envelope.family is Family.DIALOG and not s.envelope.copy_receivers
    )
    org = template.envelope.sender.organisation_her_id
    assert org is not None
    snapshot = tmp_path / "register.json"
    write_register_file(snapshot, list(register_for(samples)))
    principals = Principals(
        [Principal("epj", frozenset({org}), token_hashes=frozenset({token_hash(uuid.uuid4().hex)}))]
    )
    (tmp_path / "principals.toml").write_text(principals.to_toml(), encoding="utf-8")
    store = tmp_path / "store.sqlite3"
    env = {
        "MELDINGSHUB_ADDRESS_REGISTER__SNAPSHOT": str(snapshot),
        "MELDINGSHUB_ACCESS__PRINCIPALS_FILE": str(tmp_path / "principals.toml"),
        "MELDINGSHUB_STORE__DSN": f"sqlite:///{store}",
        "MELDINGSHUB_HTTP__API_BIND": f"127.0.0.1:{free_port()}",
    }
    documents = [with_new_msg_id(template.raw) for _ in range(IN_FLIGHT)]
    expected = sorted(msg_id for _doc, msg_id in documents)

    first = HubProcess(tmp_path, **env)
    try:
        bootstrap = first.wait_for("hub ready", 90)["bootstrap_servers"]
        send_inbound(bootstrap, "hub.inbound", [d for d, _ in documents], key=str(org))
    finally:
        first.process.terminate()
        assert first.process.wait(60) == 0
    before = _mailbox_msg_ids(store)
    assert len(before) < IN_FLIGHT, "every message was delivered before the stop: none in flight"

    second = HubProcess(tmp_path, **env)
    try:
        second.wait_for("hub ready", 90)
        deadline = time.monotonic() + 90
        while len(_mailbox_msg_ids(store)) < IN_FLIGHT and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        second.process.terminate()
        second.process.wait(60)
    # Read once the hub has stopped, so a late repeat would be counted too.
    assert sorted(_mailbox_msg_ids(store)) == expected  # every one, and each exactly once
