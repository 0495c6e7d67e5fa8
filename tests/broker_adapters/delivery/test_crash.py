"""SIGKILL of a delivery worker mid-stream: nothing is lost; events and the Kafka endpoint
(inside the transaction) never hold two different records for one delivery, and where an
endpoint cannot be transactional a duplicate is the same document with the same
idempotency key."""

import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa

from addressregister.model import EndpointKind
from broker_adapters.delivery.mailbox_store import MailboxStore, mailbox_messages
from schemas.records import MessageEvent, RoutedMessage, decode
from schemas.vocabulary import EventType
from tests.broker_adapters.delivery.support import (
    Hub,
    WebhookReceiver,
    hub_topics,
    produce,
    routed,
    write_webhook_keys,
)
from tests.support.kafka import read_all
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
WEBHOOK, KAFKA, FILE, MAILBOX = 9_500_001, 9_500_002, 9_500_003, 9_500_004
PER_RECEIVER = 60


def _start(
    hub: Hub, bootstrap: str, register: list[list[object]], dsn: str, outbox: Path
) -> subprocess.Popen[str]:
    config = {
        "kafka": hub.kafka.model_dump(mode="json"),
        "delivery": hub.delivery.model_dump(mode="json")
        | {
            "webhook_keys_file": str(write_webhook_keys(outbox.parent / "keys.json", [WEBHOOK])),
        },
        "routing": hub.routing.model_dump(mode="json"),
        "bootstrap": bootstrap,
        "register": register,
        "dsn": dsn,
        "outbox": str(outbox),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.broker_adapters.delivery.worker_process", json.dumps(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def test_sigkill_mid_stream_loses_nothing_and_duplicates_only_with_the_same_key(
    kafka_bootstrap: str, broker_hides_aborted: bool, tmp_path: Path
) -> None:
    dsn = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    outbox = tmp_path / "outbox"
    with hub_topics(kafka_bootstrap, batch_size=5) as hub, WebhookReceiver() as hooks:
        topic = f"{hub.prefix}.deliver.{KAFKA}"
        register: list[list[object]] = [
            [WEBHOOK, EndpointKind.WEBHOOK.value, hooks.url("/hook")],
            [KAFKA, EndpointKind.KAFKA.value, topic],
            [FILE, EndpointKind.FILE.value, "file"],
            [MAILBOX, EndpointKind.MAILBOX.value, "mailbox"],
        ]
        sent: dict[int, list[RoutedMessage]] = defaultdict(list)
        for n in range(PER_RECEIVER):
            for receiver in (WEBHOOK, KAFKA, FILE, MAILBOX):
                sent[receiver].append(routed(receiver, n))
        everything = [m for n in range(PER_RECEIVER) for m in (sent[r][n] for r in sent)]
        first = _start(hub, kafka_bootstrap, register, dsn, outbox)
        try:
            # small batches keep the first worker busy long enough to be killed mid-stream
            produce(kafka_bootstrap, hub.outbound, everything)
            wait_for(lambda: len(hooks.delivered()) >= 10, 60, "the first deliveries")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        killed_at = len(hooks.delivered())
        assert killed_at < PER_RECEIVER, "the worker finished before it was killed"
        second = _start(hub, kafka_bootstrap, register, dsn, outbox)
        try:
            wait_for(
                lambda: (
                    {r.headers["Idempotency-Key"] for r in hooks.delivered()}
                    >= {f"{m.hub_message_id}:{WEBHOOK}" for m in sent[WEBHOOK]}
                ),
                90,
                "every webhook message after the restart",
            )
            events = read_all(kafka_bootstrap, hub.events, len(everything), 60)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(30)
        # Committed events: one per message, by event id. A kill inside a transaction leaves
        # it open; it is aborted when the worker comes back, and a broker that hands aborted
        # records to read_committed readers (Tansu 0.6, see ``hides_aborted_records``) shows
        # them beside the re-run's identical records (ids are derived from the message),
        # which the aggregator, idempotent by event id, counts once. So: any repeat is the
        # same event.
        delivered: defaultdict[object, list[object]] = defaultdict(list)
        for event in (decode(r.value() or b"", MessageEvent) for r in events):
            if event.event_type is EventType.DELIVERED:
                delivered[event.hub_message_id].append(event.event_id)
        assert set(delivered) == {m.hub_message_id for m in everything}
        assert {len(set(ids)) for ids in delivered.values()} == {1}
        if broker_hides_aborted:
            assert {len(ids) for ids in delivered.values()} == {1}

        # Kafka endpoint: written in the delivery transaction; any repeat (see above) is the
        # same record, which the receiver recognises by its hub message id.
        records = read_all(kafka_bootstrap, topic, PER_RECEIVER, 20)
        assert sorted({r.value() or b"" for r in records}) == sorted(m.payload for m in sent[KAFKA])
        if broker_hides_aborted:
            assert len(records) == PER_RECEIVER

        # webhook: all there; a re-sent one is the same document under the same key
        by_key: dict[str, set[bytes]] = defaultdict(set)
        for request in hooks.delivered():
            by_key[request.headers["Idempotency-Key"]].add(request.body)
        expected = {f"{m.hub_message_id}:{WEBHOOK}": m.payload for m in sent[WEBHOOK]}
        assert by_key.keys() == expected.keys()
        bad = {k: (b, expected[k]) for k, b in by_key.items() if b != {expected[k]}}
        assert not bad, list(bad.items())[:2]

        # file outbox and mailbox are idempotent: one file, one row per message
        files = sorted(p.read_bytes() for p in (outbox / "file").glob("*.xml"))
        assert files == sorted(m.payload for m in sent[FILE])
        # a write the kill interrupted left at most a dot-file, which receivers ignore
        assert all(p.name.endswith(".tmp") for p in (outbox / "file").glob(".*"))
        store = MailboxStore.open(dsn)
        with store.engine.connect() as conn:
            rows = conn.execute(sa.select(mailbox_messages.c.hub_message_id)).all()
        assert sorted(str(r.hub_message_id) for r in rows) == sorted(
            str(m.hub_message_id) for m in sent[MAILBOX]
        )
