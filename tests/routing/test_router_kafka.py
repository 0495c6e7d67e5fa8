"""The router through a real broker: every family, each rejection, AppRec round trip, duplicates."""

import dataclasses
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pytest
from confluent_kafka import Message

from access.principals import Principal, Principals
from addressregister.index import RegisterIndex
from addressregister.model import CommunicationParty
from broker_adapters.delivery.payloads import PayloadFetcher, PayloadUnavailableError
from kafka_io.config import consumer_config
from kafka_io.errors import RecordRefusedError
from kafka_io.table import TimedTable
from meldingshub.components.router import RouterComponent
from meldingshub.settings import Settings
from routing.outputs import INLINE_PAYLOAD_MAX_BYTES, OutputBuilder
from routing.pipeline import decide
from schemas.reader import MessageReader
from schemas.records import MessageEvent, PayloadRef, RejectedMessage, RoutedMessage, decode
from schemas.vocabulary import AppRecErrorCode, EventType, Family
from tests.support.corpus_register import (
    Sample,
    apprec_answer,
)
from tests.support.hub import isolated_settings, router_settings, running_router, send_inbound
from tests.support.kafka import read_all
from tests.support.waiting import running

pytestmark = pytest.mark.integration


def events(settings: Settings, expected: int) -> list[MessageEvent]:
    records = read_all(
        settings.kafka.bootstrap_servers, settings.kafka.topics.events.name, expected, 60
    )
    return [decode(r.value() or b"", MessageEvent) for r in records]


def outbound(settings: Settings, expected: int) -> list[RoutedMessage]:
    records = read_all(
        settings.kafka.bootstrap_servers, settings.kafka.topics.outbound.name, expected, 60
    )
    routed = [decode(r.value() or b"", RoutedMessage) for r in records]
    for record, message in zip(records, routed, strict=True):
        assert record.key() == str(message.receiver_her_id).encode()
    return routed


def test_every_corpus_family_routes_to_its_receiver(
    kafka_bootstrap: str, samples: list[Sample], register: RegisterIndex, reader: MessageReader
) -> None:
    settings = isolated_settings(kafka_bootstrap)
    sent = send_inbound(
        kafka_bootstrap, settings.kafka.topics.inbound.name, [s.raw for s in samples]
    )
    expected: Counter[tuple[str, int]] = Counter()
    seen_keys: dict[str, str] = {}
    builder = OutputBuilder(settings.routing, Principals.open())
    for sample, meta in zip(samples, sent, strict=True):
        decision = decide(
            reader.read(sample.raw),
            meta,
            register,
            Principals.open(),
            seen_keys.get,
            meta.received_at,
        )
        out = builder.build(decision, meta, sample.raw, register, meta.received_at)
        if out.remember:
            seen_keys.setdefault(*out.remember)
        for routed_message in out.routed:
            expected[(str(routed_message.hub_message_id), routed_message.receiver_her_id)] += 1
    with running_router(settings, register, reader):
        routed = outbound(settings, sum(expected.values()))
        seen = events(settings, 2 * len(samples) + 1)
    assert Counter((str(r.hub_message_id), r.receiver_her_id) for r in routed) == expected
    assert {r.family for r in routed} == {
        Family.PLO,
        Family.DIALOG,
        Family.BASIS,
        Family.ERESEPT,
        Family.APPREC,
    }
    kinds = Counter(e.event_type for e in seen)
    assert kinds[EventType.ACCEPTED] == len(samples)
    assert kinds[EventType.ROUTED] + kinds[EventType.APPREC_ROUTED] == sum(expected.values())
    assert kinds[EventType.DUPLICATE] == len(samples) - len(set(seen_keys.values()))
    assert len({e.event_id for e in seen}) == len(seen)


def _first(samples: list[Sample], family: Family) -> Sample:
    return next(
        s
        for s in samples
        if s.envelope.family is family
        and s.envelope.msg_id
        and s.envelope.sender.organisation_her_id != s.envelope.receiver.organisation_her_id
        and s.envelope.apprec_version
    )


def _disjoint(samples: list[Sample], families: list[Family]) -> list[Sample]:
    """One sample per family, no two sharing an organisation (so changing one affects no other)."""
    chosen: list[Sample] = []
    used: set[int | None] = set()
    for family in families:
        for sample in samples:
            env = sample.envelope
            orgs = {env.sender.organisation_her_id, env.receiver.organisation_her_id}
            if (
                env.family is family
                and env.msg_id
                and env.apprec_version
                and len(orgs) == 2
                and not orgs & used
            ):
                chosen.append(sample)
                used |= orgs
                break
        else:
            raise AssertionError(f"no {family} sample with organisations of its own")
    return chosen


def _modified(
    register: RegisterIndex,
    changes: Mapping[int, Callable[[CommunicationParty], CommunicationParty]],
) -> RegisterIndex:
    return RegisterIndex(changes[p.her_id](p) if p.her_id in changes else p for p in register)


def _inactive(party: CommunicationParty) -> CommunicationParty:
    return dataclasses.replace(party, active=False)


def _receiving_nothing(party: CommunicationParty) -> CommunicationParty:
    return dataclasses.replace(party, receives=())


def test_each_rejection_reason_gives_one_rejection_one_apprec_one_event(
    kafka_bootstrap: str, samples: list[Sample], register: RegisterIndex, reader: MessageReader
) -> None:
    dialog, plo, basis, eresept = _disjoint(
        samples, [Family.DIALOG, Family.PLO, Family.BASIS, Family.ERESEPT]
    )
    basis_receiver = basis.envelope.receiver
    eresept_receiver = eresept.envelope.receiver
    changed = _modified(
        register,
        {
            h: _inactive
            for h in (
                basis_receiver.person_her_id,
                basis_receiver.service_her_id,
                basis_receiver.organisation_her_id,
            )
            if h is not None
        }
        | {
            h: _receiving_nothing
            for h in (
                eresept_receiver.person_her_id,
                eresept_receiver.service_her_id,
                eresept_receiver.organisation_her_id,
            )
            if h is not None
        },
    )
    unknown_receiver = dialog.raw.replace(
        f"<Id>{dialog.envelope.receiver.organisation_her_id}</Id>".encode(), b"<Id>99999999</Id>", 1
    )
    epj_senders = {
        dialog.envelope.sender.organisation_her_id,
        plo.envelope.sender.organisation_her_id,
        basis.envelope.sender.organisation_her_id,
        eresept.envelope.sender.organisation_her_id,
    }
    epj_senders.discard(None)
    principals = Principals(
        [
            Principal("epj", frozenset(h for h in epj_senders if h is not None)),
            Principal("intruder", frozenset({plo.envelope.sender.organisation_her_id or 0})),
        ]
    )
    cases = [
        ("not-well-formed", dialog.raw[: len(dialog.raw) // 2], "epj", AppRecErrorCode.T01, False),
        (
            "non-uuid-msgid",
            dialog.raw.replace(b"<MsgId>", b"<MsgId>x-", 1),
            "epj",
            AppRecErrorCode.E10,
            True,
        ),
        (
            "invalid",
            plo.raw.replace(b"<GenDate>", b"<GenDate>not-a-date", 1),
            "epj",
            AppRecErrorCode.T02,
            True,
        ),
        ("unknown-receiver", unknown_receiver, "epj", AppRecErrorCode.E21, True),
        ("inactive-receiver", basis.raw, "epj", None, True),
        ("unsupported-type", eresept.raw, "epj", AppRecErrorCode.T10, True),
        ("spoofed-sender", dialog.raw, "intruder", AppRecErrorCode.X99, True),
    ]
    settings = isolated_settings(kafka_bootstrap, partitions=1)
    for _name, raw, principal, _code, _answered in cases:
        send_inbound(
            kafka_bootstrap, settings.kafka.topics.inbound.name, [raw], principal=principal
        )
    answers = sum(1 for case in cases if case[4])
    with running_router(settings, changed, reader, principals):
        rejected = [
            decode(r.value() or b"", RejectedMessage)
            for r in read_all(kafka_bootstrap, settings.kafka.topics.rejected.name, len(cases), 60)
        ]
        routed = outbound(settings, answers)
        seen = events(settings, 2 * len(cases) + answers)
    assert len(rejected) == len(cases)
    by_message = {r.hub_message_id: r for r in rejected}
    assert len(by_message) == len(cases)
    for (name, _raw, _principal, code, _answered), record in zip(cases, rejected, strict=True):
        if code is not None:
            assert record.code is code, name
        else:
            assert "inactive" in record.reason, name
    assert routed and all(r.family is Family.APPREC for r in routed)
    assert len(routed) == answers, "one AppRec per rejection that has a MsgId to answer"
    answered_codes: list[str] = []
    spoof_answer: list[RoutedMessage] = []
    for apprec in routed:
        answer = reader.read(apprec.payload)
        assert answer.accepted and answer.envelope is not None, answer.problem
        assert answer.envelope.original_msg_id in {r.msg_id for r in rejected}
        answered_codes.extend(answer.envelope.apprec_error_codes)
        if answer.envelope.apprec_error_codes == ("X99",):
            spoof_answer.append(apprec)
    assert sorted(answered_codes) == sorted(
        record.code.value for case, record in zip(cases, rejected, strict=True) if case[4]
    )
    assert [r.receiver_her_id for r in spoof_answer] == [plo.envelope.sender.organisation_her_id]
    rejected_events = [e for e in seen if e.event_type is EventType.REJECTED]
    assert sorted(e.reason_code or "" for e in rejected_events) == sorted(
        r.code.value for r in rejected
    )


def _original_and_answer(samples: list[Sample], reader: MessageReader) -> tuple[Sample, bytes]:
    """A dialog message and its receiver's AppRec to it."""
    original = _first(samples, Family.DIALOG)
    env = original.envelope
    template = Path(
        next(
            s.path
            for s in samples
            if s.envelope.family is Family.APPREC and "2012-02-15" in s.envelope.root_namespace
        )
    )
    apprec = apprec_answer(
        template.read_bytes(),
        reader,
        env.msg_id or "",
        env.sender.organisation_her_id or 0,
        env.receiver.organisation_her_id or 0,
    )
    return original, apprec


def test_receiver_apprec_goes_back_to_the_original_sender_with_round_trip_time(
    kafka_bootstrap: str, samples: list[Sample], register: RegisterIndex, reader: MessageReader
) -> None:
    original, apprec = _original_and_answer(samples, reader)
    env = original.envelope
    settings = isolated_settings(kafka_bootstrap, partitions=1)
    register_with_apprec = register
    send_inbound(kafka_bootstrap, settings.kafka.topics.inbound.name, [original.raw])
    with running_router(settings, register_with_apprec, reader):
        first = outbound(settings, 1)
        send_inbound(
            kafka_bootstrap, settings.kafka.topics.inbound.name, [apprec], principal="receiver"
        )
        routed = outbound(settings, 2)
        seen = events(settings, 4)
    assert first[0].msg_id == env.msg_id
    back = [r for r in routed if r.family is Family.APPREC]
    assert len(back) == 1
    assert back[0].receiver_her_id == env.sender.organisation_her_id
    (answered,) = [e for e in seen if e.event_type is EventType.APPREC_ROUTED]
    assert answered.original_msg_id == env.msg_id
    assert answered.apprec_round_trip_ms is not None and answered.apprec_round_trip_ms >= 0


def test_an_apprec_routed_before_the_correlation_view_read_its_original_still_finds_it(
    kafka_bootstrap: str,
    samples: list[Sample],
    register: RegisterIndex,
    reader: MessageReader,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The view of ``hub.router.sent`` trails the topic by a fetch; an AppRec routed within
    that moment (a receiver answering at once, a loaded machine) must still be correlated,
    or its sender's status never shows it. Here the view reads nothing until the router
    has looked the original up."""
    original, apprec = _original_and_answer(samples, reader)
    looked_up = threading.Event()
    apply, get = TimedTable._apply, TimedTable.get

    def trailing(table: TimedTable, messages: list[Message]) -> None:
        if messages:
            looked_up.wait(60)
        apply(table, messages)

    def get_and_tell(table: TimedTable, key: bytes, now_ms: int) -> tuple[int, str] | None:
        found = get(table, key, now_ms)
        if found is None:
            looked_up.set()
        return found

    monkeypatch.setattr(TimedTable, "_apply", trailing)
    monkeypatch.setattr(TimedTable, "get", get_and_tell)
    settings = isolated_settings(kafka_bootstrap, partitions=1)
    send_inbound(kafka_bootstrap, settings.kafka.topics.inbound.name, [original.raw])
    try:
        with running_router(settings, register, reader):
            outbound(settings, 1)  # routed and committed, but not yet in the view
            send_inbound(
                kafka_bootstrap, settings.kafka.topics.inbound.name, [apprec], principal="receiver"
            )
            seen = events(settings, 4)
    finally:
        looked_up.set()
    (answered,) = [e for e in seen if e.event_type is EventType.APPREC_ROUTED]
    assert answered.original_msg_id == original.envelope.msg_id
    assert answered.apprec_round_trip_ms is not None


@pytest.mark.slow
def test_a_message_sent_three_times_routes_once_also_across_a_restart(
    kafka_bootstrap: str, samples: list[Sample], register: RegisterIndex, reader: MessageReader
) -> None:
    sample = _first(samples, Family.PLO)
    settings = isolated_settings(kafka_bootstrap, partitions=2)
    topic = settings.kafka.topics.inbound.name
    send_inbound(kafka_bootstrap, topic, [sample.raw, sample.raw])
    with running_router(settings, register, reader):
        assert len(outbound(settings, 1)) == 1
        events(settings, 4)
    send_inbound(kafka_bootstrap, topic, [sample.raw])
    with running_router(settings, register, reader):
        seen = events(settings, 6)
    routed = outbound(settings, 1)
    assert len(routed) == 1
    kinds = Counter(e.event_type for e in seen)
    assert kinds == Counter({EventType.ACCEPTED: 3, EventType.ROUTED: 1, EventType.DUPLICATE: 2})


def test_a_document_for_several_receivers_is_carried_once_and_read_back_whole(
    kafka_bootstrap: str, samples: list[Sample], register: RegisterIndex, reader: MessageReader
) -> None:
    """Claim check: copies name the inbound record instead of carrying the document each."""
    with_copy = next(s for s in samples if s.envelope.copy_receivers)
    single = next(
        s
        for s in samples
        if not s.envelope.copy_receivers
        and s.envelope.family is Family.DIALOG
        and len(s.raw) <= INLINE_PAYLOAD_MAX_BYTES
    )
    settings = isolated_settings(kafka_bootstrap)
    inbound_topic = settings.kafka.topics.inbound.name
    sent = send_inbound(kafka_bootstrap, inbound_topic, [with_copy.raw, single.raw])
    with running_router(settings, register, reader):
        routed = outbound(settings, 3)
    copies = [r for r in routed if r.hub_message_id == sent[0].hub_message_id]
    alone = [r for r in routed if r.hub_message_id == sent[1].hub_message_id]
    assert len(copies) == 2 and {r.is_copy for r in copies} == {True, False}
    assert all(r.payload == b"" and r.payload_ref is not None for r in copies)
    (ref,) = {r.payload_ref for r in copies}
    assert isinstance(ref, PayloadRef) and ref.topic == inbound_topic
    assert alone[0].payload == single.raw and alone[0].payload_ref is None

    fetcher = PayloadFetcher(
        consumer_config(settings.kafka, kafka_bootstrap, "test.payloads"),
        inbound_topic,
        timeout_s=5,
    )
    try:
        resolved = [fetcher.resolve(r) for r in copies]
        assert all(r.payload == with_copy.raw and r.payload_ref is None for r in resolved)
        assert fetcher.reads == 1  # the second copy came from the cache
        with pytest.raises(PayloadUnavailableError) as gone:
            fetcher.read(dataclasses.replace(ref, partition=ref.partition + 1000))
        assert gone.value.permanent  # no such partition
        with pytest.raises(PayloadUnavailableError) as elsewhere:
            fetcher.read(dataclasses.replace(ref, topic=settings.kafka.topics.outbound.name))
        assert elsewhere.value.permanent  # another topic's records are never read
    finally:
        fetcher.close()


def _router(settings: Settings, register: RegisterIndex, reader: MessageReader) -> RouterComponent:
    return RouterComponent(
        *router_settings(settings),
        settings.kafka.bootstrap_servers,
        lambda: register,
        reader,
        Principals.open(),
    )


@pytest.mark.slow
def test_a_router_run_again_keeps_its_state_and_reads_on_from_where_it_was(
    kafka_bootstrap: str, samples: list[Sample], register: RegisterIndex, reader: MessageReader
) -> None:
    """The supervisor runs a router again after a failure, the hub after each checkpoint of
    its embedded broker: the de-duplication state is the one it had, topped up with what
    was written since, not the week's window read again."""
    sample = _first(samples, Family.PLO)
    settings = isolated_settings(kafka_bootstrap, partitions=1)
    topic = settings.kafka.topics.inbound.name
    router = _router(settings, register, reader)
    read: list[int] = []
    restore = router._dedup.restore

    def counted(partitions: Iterable[int], timeout_s: float = 60.0) -> int:
        read.append(restore(partitions, timeout_s))
        return read[-1]

    router._dedup.restore = counted  # type: ignore[method-assign]
    try:
        send_inbound(kafka_bootstrap, topic, [sample.raw])
        with running(router):
            assert len(outbound(settings, 1)) == 1
        send_inbound(kafka_bootstrap, topic, [sample.raw])
        with running(router):
            events(settings, 4)  # accepted, routed; accepted, duplicate
        send_inbound(kafka_bootstrap, topic, [sample.raw])
        with running(router):
            seen = events(settings, 6)
    finally:
        router.close()
    assert read == [0, 1, 0]  # nothing yet; the first run's entry; nothing new
    assert Counter(e.event_type for e in seen)[EventType.DUPLICATE] == 2
    assert len(outbound(settings, 1)) == 1


def test_a_parked_record_leaves_no_duplicate_behind(
    kafka_bootstrap: str, samples: list[Sample], register: RegisterIndex, reader: MessageReader
) -> None:
    """A record whose routed outputs the broker refuses is parked (T99) in a transaction of
    its own; what processing it put in the local de-duplication state was never committed,
    and must not make the sender's corrected re-send a duplicate."""
    sample = _first(samples, Family.PLO)
    settings = isolated_settings(kafka_bootstrap, partitions=1)
    topic = settings.kafka.topics.inbound.name
    router = _router(settings, register, reader)
    try:
        first = Message(topic=topic, partition=0, offset=7, value=sample.raw)
        assert any(r.topic == settings.routing.dedup_topic for r in router.process(first))
        router.dead_letter(first, RecordRefusedError("too_large", "refused by the broker"))
        again = Message(topic=topic, partition=0, offset=8, value=sample.raw)
        outputs = router.process(again)
    finally:
        router.close()
    assert any(r.topic == settings.kafka.topics.outbound.name for r in outputs)


def test_a_record_is_parked_even_when_its_local_entry_cannot_be_forgotten(
    kafka_bootstrap: str, samples: list[Sample], register: RegisterIndex, reader: MessageReader
) -> None:
    """Parking settles the record whatever the local state file does (disk full, locked):
    the dead letter and its event come out, and the loop goes on."""
    sample = _first(samples, Family.PLO)
    settings = isolated_settings(kafka_bootstrap, partitions=1)
    topic = settings.kafka.topics.inbound.name
    router = _router(settings, register, reader)

    def broken(partition: int, key: str) -> None:
        raise sqlite3.OperationalError(f"database or disk is full ({partition})")

    router._dedup.forget = broken  # type: ignore[method-assign]
    try:
        first = Message(topic=topic, partition=0, offset=7, value=sample.raw)
        router.process(first)
        parked = router.dead_letter(first, RecordRefusedError("too_large", "refused"))
    finally:
        router.close()
    assert [r.topic for r in parked] == [
        settings.kafka.topics.rejected.name,
        settings.kafka.topics.events.name,
    ]
