"""A hub restarted with messages waiting in every ingress delivers each exactly once.

The hub runs against the session broker (its topics and groups renamed for this
test), so what it had accepted survives the stop. While it is down, messages
wait in a file inbox, in an AMQP queue and on ``hub.inbound``. After the
restart the router must first load the register from its topic (nothing is
routed on an empty register), then every waiting message reaches its
receiver's mailbox exactly once.
"""

import sqlite3
import time
import uuid
from pathlib import Path

import pika
import pytest

from access.principals import Principal, Principals
from access.tokens import token_hash
from addressregister.fileformat import write_register_file
from meldingshub.embedded_broker import free_port
from schemas.reader import MessageReader
from schemas.settings import SchemaSettings
from schemas.vocabulary import Family
from tests.broker_adapters.ingress.support import msghead_samples, with_new_msg_id
from tests.support.corpus_register import accepted_samples, consistent, register_for
from tests.support.hub import send_inbound
from tests.support.hub_process import HubProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/%2F"
EACH = 5


def _config(run: str, bootstrap: str) -> str:
    """Every topic and group of this hub named apart from the other tests on the broker."""
    topics = "\n".join(
        f"[kafka.topics.{name}]\nname = 'restart-{run}-{name}'\n"
        for name in ("inbound", "outbound", "rejected", "events", "parties")
    )
    return f"""
[kafka]
bootstrap_servers = '{bootstrap}'
{topics}
[routing]
group_id = 'restart-{run}-router'
dedup_topic = 'restart-{run}-dedup'
sent_topic = 'restart-{run}-sent'
[delivery]
group_id = 'restart-{run}-delivery'
retry_topic_prefix = 'restart-{run}-retry'
backlog_topic = 'restart-{run}-backlog'
status_topic = 'restart-{run}-status'
[statistics]
group_id = 'restart-{run}-statistics'
[ingress]
adapters = ['http', 'amqp', 'file']
kafka_group_id = 'restart-{run}-ingress'
kafka_topic_prefix = 'restart-{run}-ingress.'
"""


def _publish(queue: str, bodies: list[bytes]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ))
    try:
        channel = connection.channel()
        channel.queue_declare(queue, durable=True)
        channel.confirm_delivery()
        for body in bodies:
            channel.basic_publish(
                "", queue, body, pika.BasicProperties(message_id=str(uuid.uuid4()), delivery_mode=2)
            )
    finally:
        connection.close()


def _mailbox_msg_ids(store: Path) -> list[str]:
    """MsgIds of the receiver copies in the mailbox (copies to copy receivers apart)."""
    if not store.is_file():
        return []
    with sqlite3.connect(store) as db:
        return [row[0] for row in db.execute("SELECT msg_id FROM mailbox_messages")]


def test_messages_waiting_in_every_ingress_are_delivered_once_after_a_restart(
    kafka_bootstrap: str, tmp_path: Path
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
    run = uuid.uuid4().hex[:8]
    config = tmp_path / "hub.toml"
    config.write_text(_config(run, kafka_bootstrap), encoding="utf-8")
    queue = f"restart-{run}.to-hub"
    principals = Principals(
        [
            Principal(
                "epj",
                frozenset({org}),
                token_hashes=frozenset({token_hash(f"token-{run}")}),
                amqp_inbound_queue=queue,
                amqp_error_queue=queue + ".error",
            )
        ]
    )
    (tmp_path / "principals.toml").write_text(principals.to_toml(), encoding="utf-8")
    store = tmp_path / "store.sqlite3"
    env = {
        "MELDINGSHUB_CONFIG": str(config),
        "MELDINGSHUB_ADDRESS_REGISTER__SNAPSHOT": str(snapshot),
        "MELDINGSHUB_ACCESS__PRINCIPALS_FILE": str(tmp_path / "principals.toml"),
        "MELDINGSHUB_AMQP__URL": RABBITMQ,
        "MELDINGSHUB_STORE__DSN": f"sqlite:///{store}",
        "MELDINGSHUB_HTTP__API_BIND": f"127.0.0.1:{free_port()}",
    }

    first = HubProcess(tmp_path, **env)
    try:
        first.wait_for("hub ready", 90)  # the register topic is seeded and loaded once
    finally:
        first.process.terminate()
        assert first.process.wait(60) == 0

    documents = [with_new_msg_id(template.raw) for _ in range(3 * EACH)]
    waiting = [doc for doc, _id in documents]
    inbox = tmp_path / "inbox" / "epj"
    inbox.mkdir(parents=True, exist_ok=True)
    for number, raw in enumerate(waiting[:EACH]):
        (inbox / f"{number}.xml.part").write_bytes(raw)
        (inbox / f"{number}.xml.part").rename(inbox / f"{number}.xml")
    _publish(queue, waiting[EACH : 2 * EACH])
    send_inbound(
        kafka_bootstrap,
        f"restart-{run}-inbound",
        waiting[2 * EACH :],
        principal="epj",
        key=str(org),
    )

    second = HubProcess(tmp_path, **env)
    try:
        second.wait_for("hub ready", 90)
        expected = sorted(msg_id for _doc, msg_id in documents)
        deadline = time.monotonic() + 90
        while sorted(_mailbox_msg_ids(store)) != expected and time.monotonic() < deadline:
            time.sleep(0.2)
        delivered = sorted(_mailbox_msg_ids(store))
    finally:
        second.process.terminate()
        second.process.wait(60)
    assert delivered == expected  # every one, and each exactly once
    assert not list((inbox / "failed").glob("*.xml"))
