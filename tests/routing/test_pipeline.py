"""The pure routing pipeline: real corpus messages, a register built for them, no Kafka."""

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from access.principals import Principal, Principals
from addressregister.index import RegisterIndex
from addressregister.model import CommunicationParty
from routing.authorisation import helseid_principal_name
from routing.decision import Duplicate, Rejected, Routed
from routing.outputs import OutputBuilder
from routing.pipeline import decide, dedup_key
from routing.settings import RoutingSettings
from schemas.reader import MessageReader
from schemas.records import InboundMessage
from schemas.settings import SchemaSettings
from schemas.vocabulary import AddressingMode, AppRecErrorCode, AppRecStatus, EventType, Family
from tests.support.corpus_register import Sample, accepted_samples, consistent, register_for

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
OPEN = Principals.open()


@pytest.fixture(scope="module")
def reader() -> MessageReader:
    return MessageReader(SchemaSettings())


@pytest.fixture(scope="module")
def samples(reader: MessageReader) -> list[Sample]:
    every = accepted_samples(reader)
    kept = consistent(every)
    assert len(kept) >= 0.8 * len(every), "too many corpus samples conflict to route together"
    return kept


@pytest.fixture(scope="module")
def register(samples: list[Sample]) -> RegisterIndex:
    return register_for(samples)


def inbound(raw: bytes, principal: str | None = None) -> InboundMessage:
    return InboundMessage(
        hub_message_id=uuid4(),
        adapter="http",
        principal=principal,
        received_at=NOW,
        size_bytes=len(raw),
    )


def never_seen(_key: str) -> str | None:
    return None


def first_of(samples: list[Sample], family: Family) -> Sample:
    """The first sample of ``family`` between two different organisations."""
    return next(
        s
        for s in samples
        if s.envelope.family is family
        and s.envelope.msg_id
        and s.envelope.sender.organisation_her_id != s.envelope.receiver.organisation_her_id
    )


def test_every_family_in_the_corpus_is_present(samples: list[Sample]) -> None:
    assert {s.envelope.family for s in samples} >= {
        Family.PLO,
        Family.DIALOG,
        Family.BASIS,
        Family.ERESEPT,
        Family.APPREC,
    }


def test_every_accepted_sample_routes_to_the_party_it_names(
    reader: MessageReader, samples: list[Sample], register: RegisterIndex
) -> None:
    modes = set()
    for sample in samples:
        decision = decide(
            reader.read(sample.raw), inbound(sample.raw), register, OPEN, never_seen, NOW
        )
        assert isinstance(decision, Routed), (sample.path.name, decision)
        primary = decision.deliveries[0].resolution
        receiver = sample.envelope.receiver
        named = receiver.person_her_id or receiver.service_her_id or receiver.organisation_her_id
        assert primary.addressed_her_id == named, sample.path.name
        assert (
            primary.receiver_her_id == receiver.organisation_her_id
        )  # endpoint at the organisation
        expected_mode = (
            AddressingMode.PERSON
            if receiver.person_her_id
            else AddressingMode.SERVICE
            if receiver.service_her_id
            else AddressingMode.ORGANISATION
        )
        assert primary.addressing_mode is expected_mode, sample.path.name
        modes.add(expected_mode)
    assert modes == {AddressingMode.PERSON, AddressingMode.SERVICE, AddressingMode.ORGANISATION}


def without(register: RegisterIndex, her_id: int) -> RegisterIndex:
    return RegisterIndex(p for p in register if p.her_id != her_id and p.parent_her_id != her_id)


def replaced(
    register: RegisterIndex, her_id: int, change: Callable[[CommunicationParty], CommunicationParty]
) -> RegisterIndex:
    return RegisterIndex(change(p) if p.her_id == her_id else p for p in register)


def reject(
    reader: MessageReader,
    raw: bytes,
    register: RegisterIndex,
    principals: Principals = OPEN,
    principal: str = "epj-a",
) -> Rejected:
    decision = decide(
        reader.read(raw), inbound(raw, principal), register, principals, never_seen, NOW
    )
    assert isinstance(decision, Rejected), decision
    return decision


def test_unknown_receiver_is_e21(
    reader: MessageReader, samples: list[Sample], register: RegisterIndex
) -> None:
    sample = next(
        s
        for s in samples
        if s.envelope.receiver.person_her_id is None and s.envelope.family is Family.DIALOG
    )
    org = sample.envelope.receiver.organisation_her_id
    assert org is not None
    assert reject(reader, sample.raw, without(register, org)).code is AppRecErrorCode.E21


def test_inactive_receiver_is_rejected(
    reader: MessageReader, samples: list[Sample], register: RegisterIndex
) -> None:
    sample = first_of(samples, Family.PLO)
    org = sample.envelope.receiver.organisation_her_id
    assert org is not None
    decision = reject(
        reader, sample.raw, replaced(register, org, lambda p: dataclasses.replace(p, active=False))
    )
    assert decision.code in {AppRecErrorCode.E21, AppRecErrorCode.X99}
    assert "inactive" in decision.reason


def test_receiver_that_does_not_accept_the_type_is_t10(
    reader: MessageReader, samples: list[Sample], register: RegisterIndex
) -> None:
    sample = first_of(samples, Family.ERESEPT)
    receiver = sample.envelope.receiver
    target = receiver.person_her_id or receiver.service_her_id or receiver.organisation_her_id
    assert target is not None
    changed = replaced(register, target, lambda p: dataclasses.replace(p, receives=()))
    if receiver.organisation_her_id != target:
        changed = replaced(
            changed,
            receiver.organisation_her_id or 0,
            lambda p: dataclasses.replace(p, receives=()),
        )
    assert reject(reader, sample.raw, changed).code is AppRecErrorCode.T10


def test_spoofed_sender_is_rejected_never_routed(
    reader: MessageReader, samples: list[Sample], register: RegisterIndex
) -> None:
    sample = first_of(samples, Family.DIALOG)
    principals = Principals([Principal("epj-a", frozenset({999_999_999}))])
    decision = reject(reader, sample.raw, register, principals)
    assert decision.spoofing and decision.dedup_key is None
    assert str(sample.envelope.sender.organisation_her_id) in decision.reason
    unknown = reject(reader, sample.raw, register, principals, "not-configured")
    assert unknown.spoofing and unknown.dedup_key is None


def test_allowed_principal_routes(
    reader: MessageReader, samples: list[Sample], register: RegisterIndex
) -> None:
    sample = first_of(samples, Family.DIALOG)
    sender = sample.envelope.sender.organisation_her_id
    assert sender is not None
    principals = Principals([Principal("epj-a", frozenset({sender}))])
    decision = decide(
        reader.read(sample.raw), inbound(sample.raw, "epj-a"), register, principals, never_seen, NOW
    )
    assert isinstance(decision, Routed)


def test_a_helseid_client_routes_for_its_organisation_and_no_other(
    reader: MessageReader, samples: list[Sample], register: RegisterIndex
) -> None:
    """HelseID clients are no principals-file entry: the router re-checks them against the
    register's parties of the organisation number their name carries."""
    sample = first_of(samples, Family.DIALOG)
    sender = sample.envelope.sender.organisation_her_id
    assert sender is not None
    numbered = replaced(
        register, sender, lambda p: dataclasses.replace(p, organisation_number="974703475")
    )
    nobody = Principals([])
    own = helseid_principal_name("974703475", "vendor-client")
    decision = decide(
        reader.read(sample.raw), inbound(sample.raw, own), numbered, nobody, never_seen, NOW
    )
    assert isinstance(decision, Routed)
    other = helseid_principal_name("811111112", "vendor-client")
    spoofed = reject(reader, sample.raw, numbered, nobody, other)
    assert spoofed.spoofing
    assert reject(reader, sample.raw, numbered, nobody, "helseid:bogus:x").spoofing


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda raw: raw[: len(raw) // 2], AppRecErrorCode.T01),
        (lambda raw: raw.replace(b"<MsgId>", b"<MsgId>not-a-uuid-", 1), AppRecErrorCode.E10),
    ],
    ids=["truncated", "non-uuid-msgid"],
)
def test_reader_verdicts_become_rejections(
    reader: MessageReader,
    samples: list[Sample],
    register: RegisterIndex,
    mutate: object,
    code: AppRecErrorCode,
) -> None:
    sample = first_of(samples, Family.DIALOG)
    raw = mutate(sample.raw)  # type: ignore[operator]
    assert reject(reader, raw, register).code is code


def test_resend_is_a_duplicate_but_reprocessing_the_same_record_is_not(
    reader: MessageReader, samples: list[Sample], register: RegisterIndex
) -> None:
    sample = first_of(samples, Family.PLO)
    read = reader.read(sample.raw)
    key = dedup_key(sample.envelope.sender.organisation_her_id, sample.envelope)
    assert key is not None
    first = inbound(sample.raw)
    seen = {key: str(first.hub_message_id)}
    again = decide(read, first, register, OPEN, seen.get, NOW)
    assert isinstance(again, Routed)
    resend = decide(read, inbound(sample.raw), register, OPEN, seen.get, NOW)
    assert isinstance(resend, Duplicate)
    assert resend.first_hub_message_id == str(first.hub_message_id)


def builder() -> OutputBuilder:
    return OutputBuilder(RoutingSettings(hub_her_id=8888801), OPEN)


def test_rejection_yields_one_rejected_record_a_valid_apprec_and_events(
    reader: MessageReader, samples: list[Sample], register: RegisterIndex
) -> None:
    for family in (Family.DIALOG, Family.PLO, Family.BASIS, Family.ERESEPT):
        sample = first_of(samples, family)
        org = sample.envelope.receiver.organisation_her_id
        assert org is not None
        gone = without(register, org)
        meta = inbound(sample.raw)
        decision = decide(reader.read(sample.raw), meta, gone, OPEN, never_seen, NOW)
        out = builder().build(decision, meta, sample.raw, gone, NOW)
        assert out.rejected is not None
        assert out.rejected.code is AppRecErrorCode.E21
        assert [e.event_type for e in out.events] == [
            EventType.ACCEPTED,
            EventType.REJECTED,
            EventType.ROUTED,
        ]
        (apprec,) = out.routed
        assert apprec.family is Family.APPREC
        assert apprec.receiver_her_id == sample.envelope.sender.organisation_her_id
        answer = reader.read(apprec.payload)
        assert answer.accepted, answer.problem
        assert answer.envelope is not None
        assert answer.envelope.family is Family.APPREC
        assert answer.envelope.apprec_status is AppRecStatus.REJECTED
        assert answer.envelope.apprec_error_codes == ("E21",)
        assert answer.envelope.original_msg_id == sample.envelope.msg_id
        version = sample.envelope.apprec_version
        assert version is not None
        assert answer.envelope.root_namespace.endswith(
            "2004-11-21" if version == "1.0" else "2012-02-15"
        )


def test_no_apprec_for_a_rejected_apprec_nor_for_a_duplicate(
    reader: MessageReader, samples: list[Sample], register: RegisterIndex
) -> None:
    apprec = first_of(samples, Family.APPREC)
    org = apprec.envelope.receiver.organisation_her_id
    assert org is not None
    gone = without(register, org)
    meta = inbound(apprec.raw)
    out = builder().build(
        decide(reader.read(apprec.raw), meta, gone, OPEN, never_seen, NOW),
        meta,
        apprec.raw,
        gone,
        NOW,
    )
    assert out.rejected is not None
    assert out.routed == []

    sample = first_of(samples, Family.DIALOG)
    key = dedup_key(sample.envelope.sender.organisation_her_id, sample.envelope)
    assert key is not None
    meta = inbound(sample.raw)
    decision = decide(reader.read(sample.raw), meta, register, OPEN, {key: "someone-else"}.get, NOW)
    out = builder().build(decision, meta, sample.raw, register, NOW)
    assert out.routed == [] and out.rejected is None and out.remember is None
    assert [e.event_type for e in out.events] == [EventType.ACCEPTED, EventType.DUPLICATE]


def test_receiver_apprec_carries_round_trip_time(
    reader: MessageReader, samples: list[Sample], register: RegisterIndex
) -> None:
    apprec = first_of(samples, Family.APPREC)
    meta = inbound(apprec.raw)
    decision = decide(reader.read(apprec.raw), meta, register, OPEN, never_seen, NOW)
    assert isinstance(decision, Routed)
    sent_at = datetime(2026, 11, 24, 11, 59, 58, 500000, tzinfo=UTC)
    out = builder().build(decision, meta, apprec.raw, register, NOW, sent_at)
    routed_events = [e for e in out.events if e.event_type is EventType.APPREC_ROUTED]
    assert len(routed_events) == 1
    assert routed_events[0].apprec_round_trip_ms == 1500
    assert routed_events[0].original_msg_id == apprec.envelope.original_msg_id


def test_routed_records_fix_categories_and_event_ids_are_deterministic(
    reader: MessageReader, samples: list[Sample], register: RegisterIndex
) -> None:
    sample = first_of(samples, Family.PLO)
    meta = inbound(sample.raw)
    decision = decide(reader.read(sample.raw), meta, register, OPEN, never_seen, NOW)
    first = builder().build(decision, meta, sample.raw, register, NOW)
    second = builder().build(decision, meta, sample.raw, register, NOW)
    assert [e.event_id for e in first.events] == [e.event_id for e in second.events]
    routed = first.routed[0]
    assert routed.payload == sample.raw
    assert routed.receiver_category is register.category(routed.receiver_her_id)
    assert first.remember == (
        dedup_key(sample.envelope.sender.organisation_her_id, sample.envelope),
        str(meta.hub_message_id),
    )
