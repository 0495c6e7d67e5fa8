"""Dead-letter replay: after a register fix a replayed message routes, and only once."""

import getpass
import threading
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from access.principals import Principals
from addressregister.index import RegisterIndex
from hubstats.store import StatisticsStore
from hubstats.timeline import REPLAYED, timeline
from meldingshub.cli import main
from meldingshub.components.router import RouterComponent
from meldingshub.dlq import read_dead_letters, replay, selector
from schemas.reader import MessageReader
from schemas.records import MessageEvent, RoutedMessage, decode
from schemas.settings import SchemaSettings
from schemas.vocabulary import AppRecErrorCode, EventType, Family
from tests.support.corpus_register import accepted_samples, consistent, register_for
from tests.support.hub import isolated_settings, router_settings, send_inbound
from tests.support.kafka import read_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_replay_after_register_fix_routes_once(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    reader = MessageReader(SchemaSettings())
    samples = consistent(accepted_samples(reader))
    full = register_for(samples)
    sample = next(
        s
        for s in samples
        if s.envelope.family is Family.DIALOG
        and s.envelope.receiver.organisation_her_id != s.envelope.sender.organisation_her_id
        and len(s.raw) < 100_000
    )
    missing = sample.envelope.receiver.organisation_her_id
    broken = RegisterIndex(p for p in full if missing not in (p.her_id, p.parent_her_id))
    current = [broken]
    settings = isolated_settings(kafka_bootstrap, partitions=1)
    kafka = settings.kafka

    router = RouterComponent(
        *router_settings(settings), kafka_bootstrap, lambda: current[0], reader, Principals.open()
    )
    stop = threading.Event()
    thread = threading.Thread(target=router.run, args=(stop,), daemon=True)
    thread.start()
    try:
        (original,) = send_inbound(kafka_bootstrap, kafka.topics.inbound.name, [sample.raw])
        read_all(kafka_bootstrap, kafka.topics.rejected.name, 1, 60)
        letters = [
            x for x in read_dead_letters(kafka, kafka_bootstrap) if selector(("E21",))(x.message)
        ]
        assert [x.message.hub_message_id for x in letters] == [original.hub_message_id]
        assert letters[0].message.code is AppRecErrorCode.E21

        current[0] = full  # the register is fixed
        (first,) = replay(kafka, kafka_bootstrap, letters)
        routed_records = read_all(kafka_bootstrap, kafka.topics.outbound.name, 2, 60)
        replay(kafka, kafka_bootstrap, letters)  # an operator replays twice
        events = [
            decode(r.value() or b"", MessageEvent)
            for r in read_all(kafka_bootstrap, kafka.topics.events.name, 2 + 1 + 2 + 2, 60)
        ]
    finally:
        stop.set()
        thread.join(30)

    routed = [decode(r.value() or b"", RoutedMessage) for r in routed_records]
    to_receiver = [r for r in routed if r.family is not Family.APPREC]
    assert [r.hub_message_id for r in to_receiver] == [first]
    assert to_receiver[0].ingress.replay_of == original.hub_message_id
    assert to_receiver[0].ingress.principal == original.principal
    # Avro keeps milliseconds
    assert to_receiver[0].ingress.received_at == original.received_at.replace(
        microsecond=original.received_at.microsecond // 1000 * 1000
    )
    kinds = Counter(e.event_type for e in events if e.family is Family.DIALOG)
    assert kinds[EventType.ROUTED] == 1
    assert kinds[EventType.REJECTED] == 1
    assert kinds[EventType.DUPLICATE] == 1

    # A replay from the CLI is on the original's timeline too, with who did it.
    store = tmp_path / "store.sqlite3"
    monkeypatch.setenv("MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("MELDINGSHUB_STORE__DSN", f"sqlite:///{store}")
    for topic in ("inbound", "rejected"):
        name = getattr(kafka.topics, topic).name
        monkeypatch.setenv(f"MELDINGSHUB_KAFKA__TOPICS__{topic.upper()}__NAME", name)
    result = CliRunner().invoke(main, ["dlq", "replay", "--id", str(original.hub_message_id)])
    assert result.exit_code == 0, result.output
    opened = StatisticsStore.open(f"sqlite:///{store}")
    try:
        steps = [s for s in timeline(opened.engine, original.hub_message_id) if s.stage == REPLAYED]
    finally:
        opened.close()
    assert [s.principal for s in steps] == [f"cli:{getpass.getuser()}"]
    assert steps[0].related_hub_message_id not in (None, original.hub_message_id, first)


def test_cli_lists_and_refuses_an_unselected_replay(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = isolated_settings(kafka_bootstrap, partitions=1)
    monkeypatch.setenv("MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv(
        "MELDINGSHUB_KAFKA__TOPICS__REJECTED__NAME", settings.kafka.topics.rejected.name
    )
    listed = CliRunner().invoke(main, ["dlq", "list"])
    assert listed.exit_code == 0, listed.output
    assert "0 dead-lettered messages" in listed.output
    refused = CliRunner().invoke(main, ["dlq", "replay"])
    assert refused.exit_code == 2
    assert "select what to replay" in refused.output
