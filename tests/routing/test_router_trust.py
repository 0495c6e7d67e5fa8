"""A running router trusts no document: spoofed senders, foreign AppRecs, a register not loaded."""

import threading
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from access.principals import Principal, Principals
from addressregister.index import RegisterIndex
from hubstats.fold import fold
from meldingshub.settings import Settings
from routing.decision import Routed
from routing.outputs import OutputBuilder
from routing.pipeline import decide
from routing.settings import RoutingSettings
from schemas.reader import MessageReader
from schemas.records import MessageEvent, RejectedMessage, RoutedMessage, decode
from schemas.vocabulary import SPOOFING_REASON_PREFIX, AppRecErrorCode, EventType, Family
from tests.routing.test_router_kafka import _disjoint
from tests.support.corpus_register import Sample, apprec_answer
from tests.support.hub import inbound_for, isolated_settings, running_router, send_inbound
from tests.support.kafka import read_all

pytestmark = pytest.mark.integration


def _read(settings: Settings, topic: str, expected: int) -> list[bytes]:
    return [
        r.value() or b"" for r in read_all(settings.kafka.bootstrap_servers, topic, expected, 60)
    ]


def outbound(settings: Settings, expected: int) -> list[RoutedMessage]:
    topic = settings.kafka.topics.outbound.name
    return [decode(v, RoutedMessage) for v in _read(settings, topic, expected)]


def events(settings: Settings, expected: int) -> list[MessageEvent]:
    topic = settings.kafka.topics.events.name
    return [decode(v, MessageEvent) for v in _read(settings, topic, expected)]


def test_a_spoofed_message_is_answered_to_the_principal_and_never_blocks_the_real_sender(
    kafka_bootstrap: str, samples: list[Sample], register: RegisterIndex, reader: MessageReader
) -> None:
    dialog, plo = _disjoint(samples, [Family.DIALOG, Family.PLO])
    victim = dialog.envelope.sender.organisation_her_id
    intruder_org = plo.envelope.sender.organisation_her_id
    assert victim is not None and intruder_org is not None
    principals = Principals(
        [
            Principal("victim", frozenset({victim})),
            Principal("intruder", frozenset({intruder_org})),
        ]
    )
    settings = isolated_settings(kafka_bootstrap, partitions=1)
    topic = settings.kafka.topics.inbound.name
    send_inbound(kafka_bootstrap, topic, [dialog.raw], principal="intruder")
    send_inbound(kafka_bootstrap, topic, [dialog.raw], principal="victim")
    with running_router(settings, register, reader, principals):
        routed = outbound(settings, 2)  # the intruder's AppRec and the victim's message
        seen = events(settings, 5)
        rejected = [
            decode(v, RejectedMessage)
            for v in _read(settings, settings.kafka.topics.rejected.name, 1)
        ]
    (spoof,) = rejected
    assert spoof.code is AppRecErrorCode.X99 and spoof.reason.startswith(SPOOFING_REASON_PREFIX)
    apprecs = [r for r in routed if r.family is Family.APPREC]
    (answer,) = apprecs
    assert answer.receiver_organisation_her_id == intruder_org  # never to the claimed sender
    delivered = [r for r in routed if r.family is Family.DIALOG]
    assert [r.sender_her_id for r in delivered] == [victim]  # not a duplicate of the spoof
    assert EventType.DUPLICATE not in {e.event_type for e in seen}


def test_only_a_receiver_of_the_original_may_answer_it(
    kafka_bootstrap: str, samples: list[Sample], register: RegisterIndex, reader: MessageReader
) -> None:
    dialog, plo = _disjoint(samples, [Family.DIALOG, Family.PLO])
    env = dialog.envelope
    sender, receiver = env.sender.organisation_her_id, env.receiver.organisation_her_id
    outsider = plo.envelope.sender.organisation_her_id
    assert sender is not None and receiver is not None and outsider is not None
    template = Path(
        next(
            s.path
            for s in samples
            if s.envelope.family is Family.APPREC and "2012-02-15" in s.envelope.root_namespace
        )
    ).read_bytes()
    forged = apprec_answer(template, reader, env.msg_id or "", sender, outsider)
    genuine = apprec_answer(template, reader, env.msg_id or "", sender, receiver)
    principals = Principals(
        [
            Principal("sender", frozenset({sender})),
            Principal("receiver", frozenset({receiver})),
            Principal("outsider", frozenset({outsider})),
        ]
    )
    settings = isolated_settings(kafka_bootstrap, partitions=1)
    topic = settings.kafka.topics.inbound.name
    send_inbound(kafka_bootstrap, topic, [dialog.raw], principal="sender")
    with running_router(settings, register, reader, principals):
        outbound(settings, 1)
        send_inbound(kafka_bootstrap, topic, [forged], principal="outsider")
        rejected = _read(settings, settings.kafka.topics.rejected.name, 1)
        send_inbound(kafka_bootstrap, topic, [genuine], principal="receiver")
        routed = outbound(settings, 2)
        seen = events(settings, 6)
    assert decode(rejected[0], RejectedMessage).reason.startswith(SPOOFING_REASON_PREFIX)
    answered = [e for e in seen if e.event_type is EventType.APPREC_ROUTED]
    assert [e.sender_her_id for e in answered] == [receiver]  # the forged one changed nothing
    assert routed[1].family is Family.APPREC and routed[1].receiver_her_id == sender


def test_two_principals_of_one_organisation_share_one_de_duplication(
    kafka_bootstrap: str, samples: list[Sample], register: RegisterIndex, reader: MessageReader
) -> None:
    (plo,) = _disjoint(samples, [Family.PLO])
    org = plo.envelope.sender.organisation_her_id
    assert org is not None
    principals = Principals(
        [Principal("epj-1", frozenset({org})), Principal("epj-2", frozenset({org}))]
    )
    settings = isolated_settings(kafka_bootstrap, partitions=3)
    topic = settings.kafka.topics.inbound.name
    key = str(org)  # ingress keys hub.inbound by the sender's organisation
    send_inbound(kafka_bootstrap, topic, [plo.raw], principal="epj-1", key=key)
    send_inbound(kafka_bootstrap, topic, [plo.raw], principal="epj-2", key=key)
    with running_router(settings, register, reader, principals):
        seen = events(settings, 4)
    kinds = sorted(e.event_type.value for e in seen)
    assert kinds.count(EventType.ROUTED.value) == 1
    assert kinds.count(EventType.DUPLICATE.value) == 1


def test_nothing_is_routed_until_the_register_is_usable(
    kafka_bootstrap: str, samples: list[Sample], register: RegisterIndex, reader: MessageReader
) -> None:
    (plo,) = _disjoint(samples, [Family.PLO])
    org = plo.envelope.sender.organisation_her_id
    assert org is not None
    settings = isolated_settings(kafka_bootstrap, partitions=1)
    send_inbound(kafka_bootstrap, settings.kafka.topics.inbound.name, [plo.raw])
    usable = threading.Event()
    principals = Principals([Principal("epj", frozenset({org}))])
    with running_router(settings, register, reader, principals, usable) as router:
        assert router.holding.wait(30), "the router did not hold consumption"
        assert router.committed_batches == 0
        usable.set()
        (routed,) = outbound(settings, 1)
    assert routed.msg_id == plo.envelope.msg_id


def test_an_apprec_whose_original_is_unknown_changes_no_status(
    samples: list[Sample], register: RegisterIndex, reader: MessageReader
) -> None:
    dialog, plo = _disjoint(samples, [Family.DIALOG, Family.PLO])
    env = dialog.envelope
    victim, outsider = env.sender.organisation_her_id, plo.envelope.sender.organisation_her_id
    assert victim is not None and outsider is not None
    template = next(
        s.path
        for s in samples
        if s.envelope.family is Family.APPREC and "2012-02-15" in s.envelope.root_namespace
    ).read_bytes()
    forged = apprec_answer(template, reader, env.msg_id or "", victim, outsider)
    principals = Principals([Principal("outsider", frozenset({outsider}))])
    meta = inbound_for(forged, "outsider")
    now = datetime.now(UTC)
    forgotten = decide(reader.read(forged), meta, register, principals, lambda _k: None, now)
    assert isinstance(forgotten, Routed)  # older than the correlation window: still delivered
    out = OutputBuilder(RoutingSettings(), principals).build(forgotten, meta, forged, register, now)
    (answered,) = [e for e in out.events if e.event_type is EventType.APPREC_ROUTED]
    assert answered.original_msg_id is None  # so the victim's status does not change
    assert not fold([answered], ZoneInfo("Europe/Oslo")).apprecs
