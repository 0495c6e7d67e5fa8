"""The hub's own AppRecs: valid against the official AppRec schemas, and faithful to the standard.

Every code of kodeverk 8221, both AppRec versions and every family are written
and read back through a reader configured with the directorate's schema folder,
so an AppRec the hub can send is one the official schema accepts.
"""

import random
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from lxml import etree

from access.principals import Principals
from addressregister.index import RegisterIndex
from addressregister.model import (
    CommunicationParty,
    Endpoint,
    EndpointKind,
    MessageProfile,
    PartyKind,
)
from meldingshub.simulator.documents import (
    DocumentSpec,
    NamedParty,
    entry_for,
    render,
    synthetic_patient,
)
from routing.apprec import APPREC_NAMESPACES, issue_date
from routing.decision import Rejected
from routing.outputs import UNKNOWN_TYPE_APPREC_VERSION, OutputBuilder
from routing.pipeline import decide
from routing.settings import RoutingSettings
from schemas.reader import MessageReader
from schemas.records import InboundMessage
from schemas.settings import SchemaSettings
from schemas.vocabulary import AppRecErrorCode, Family
from tests.support.corpus_register import Sample, accepted_samples, consistent, register_for
from tests.support.shared import OFFICIAL_XSD

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SUMMER = datetime(2026, 6, 24, 12, 0, tzinfo=UTC)
OPEN = Principals.open()
HUB = 8888801
SENDER, UNIT, PERSON, RECEIVER = 7_100_001, 7_100_002, 7_100_003, 7_100_010


@pytest.fixture(scope="module")
def reader() -> MessageReader:
    return MessageReader(SchemaSettings())


@pytest.fixture(scope="module")
def official() -> MessageReader:
    if not OFFICIAL_XSD.is_dir():
        pytest.skip(f"official schemas not found at {OFFICIAL_XSD}")
    return MessageReader(SchemaSettings(official_dir=OFFICIAL_XSD))


def _party(
    her_id: int, kind: PartyKind, name: str, parent: int | None = None
) -> CommunicationParty:
    return CommunicationParty(
        her_id=her_id,
        kind=kind,
        name=name,
        parent_her_id=parent,
        business_type="103" if parent is None else None,
        hpr_number="1234567" if kind is PartyKind.PERSON else None,
        organisation_number="974703475" if her_id == SENDER else None,
        receives=(MessageProfile("APPREC"), MessageProfile("DIALOG_NOTAT")),
        sends=tuple(MessageProfile(t) for t in ("LEGEERKL", "DIALOG_NOTAT", "XYZ_UKJENT")),
        endpoint=Endpoint(EndpointKind.MAILBOX, f"{her_id}_async") if parent is None else None,
    )


SENDER_PARTIES = NamedParty(
    _party(SENDER, PartyKind.ORGANISATION, "Legesenteret Øst"),
    _party(UNIT, PartyKind.SERVICE, "Legekontoret, resepsjon", SENDER),
    _party(PERSON, PartyKind.PERSON, "Kari Lege", SENDER),
)
RECEIVER_PARTIES = NamedParty(_party(RECEIVER, PartyKind.ORGANISATION, "NAV"))
OWN_REGISTER = RegisterIndex(
    [
        SENDER_PARTIES.organisation,
        SENDER_PARTIES.unit,  # type: ignore[list-item]
        SENDER_PARTIES.person,  # type: ignore[list-item]
        RECEIVER_PARTIES.organisation,
    ]
)


def synthetic(message_type: str, family: Family, version: str = "") -> bytes:
    """A MsgHead document from the sender's GP (organisation, service and person named)."""
    rng = random.Random(7)
    return render(
        DocumentSpec(
            entry=entry_for(message_type, version, family),
            message_type=message_type,
            version=version,
            msg_id=str(uuid4()),
            gen_date=datetime(2019, 3, 1, 9, 35),
            sender=SENDER_PARTIES,
            receiver=RECEIVER_PARTIES,
            patient=synthetic_patient(rng),
            ack=True,
            encoding="UTF-8",
            paragraphs=2,
        ),
        rng,
    )


@pytest.fixture(scope="module")
def family_samples(reader: MessageReader) -> dict[Family, Sample]:
    """One corpus sample of each medical family (and AppRec excluded: never answered)."""
    found: dict[Family, Sample] = {}
    for sample in consistent(accepted_samples(reader)):
        found.setdefault(sample.envelope.family, sample)
    found.pop(Family.APPREC, None)
    return found


def builder() -> OutputBuilder:
    return OutputBuilder(RoutingSettings(hub_her_id=HUB), OPEN)


def inbound(raw: bytes) -> InboundMessage:
    return InboundMessage(
        hub_message_id=uuid4(), adapter="http", principal=None, received_at=NOW, size_bytes=len(raw)
    )


def _root(raw: bytes) -> etree._Element:
    return etree.fromstring(raw)


def _find(root: etree._Element, path: str) -> etree._Element:
    found = root.find(path, {"a": root.nsmap[None]})
    assert found is not None, path
    return found


def test_every_code_both_versions_every_family_validates_officially(
    official: MessageReader, family_samples: dict[Family, Sample]
) -> None:
    other = synthetic("LEGEERKL", Family.OTHER)
    originals: list[tuple[Family, bytes, RegisterIndex, int]] = [
        (family, s.raw, register_for([s]), s.envelope.sender.organisation_her_id or 0)
        for family, s in family_samples.items()
    ]
    originals.append((Family.OTHER, other, OWN_REGISTER, SENDER))
    assert {family for family, *_ in originals} == {
        Family.DIALOG,
        Family.PLO,
        Family.BASIS,
        Family.ERESEPT,
        Family.OTHER,
    }
    checked = 0
    for family, raw, register, sender in originals:
        for version in ("1.0", "1.1"):
            for code in AppRecErrorCode:
                apprec = builder().hub_apprec(
                    register,
                    answer_to=sender,
                    apprec_id=uuid4(),
                    version=version,
                    code=code,
                    reason=f"{family.value}: a reason with <markup> & æøå",
                    original_type="TYPE",
                    original_gen_date="2017-06-12T09:35",
                    original_msg_id=str(uuid4()),
                    now=NOW,
                    original=raw,
                )
                assert apprec is not None, (family, version, code)
                verdict = official.read(apprec.payload)
                assert verdict.accepted, (family, version, code, verdict.problem)
                assert verdict.envelope is not None
                assert verdict.envelope.root_namespace == APPREC_NAMESPACES[version]
                assert verdict.envelope.apprec_error_codes == (code.value,)
                checked += 1
    assert checked == 5 * 2 * len(AppRecErrorCode)


@pytest.mark.parametrize(
    ("gen_date", "expected"),
    [
        ("2017-06-12T09:35", "2017-06-12T09:35:00"),
        ("2017-06-12T09:35+02:00", "2017-06-12T09:35:00+02:00"),
        ("2017-06-12", "2017-06-12T00:00:00"),
        ("2017-06-12Z", "2017-06-12T00:00:00Z"),
        ("2017-06-12T09:35:07.25", "2017-06-12T09:35:07.25"),
        ("2017-06-12T09:35:07Z", "2017-06-12T09:35:07Z"),
        ("2017-13-12", "2026-11-24T13:00:00+01:00"),
        ("12.06.2017 09:35", "2026-11-24T13:00:00+01:00"),
        ("", "2026-11-24T13:00:00+01:00"),
        (None, "2026-11-24T13:00:00+01:00"),
    ],
)
def test_issue_date_is_always_an_xs_datetime(gen_date: str | None, expected: str) -> None:
    assert issue_date(gen_date, NOW) == expected


def test_a_gen_date_without_seconds_still_gives_an_officially_valid_apprec(
    reader: MessageReader, official: MessageReader
) -> None:
    raw = synthetic("DIALOG_NOTAT", Family.DIALOG, "1.1").replace(
        b"<GenDate>2019-03-01T09:35:00</GenDate>", b"<GenDate>2017-06-12</GenDate>", 1
    )
    read = reader.read(raw)
    assert read.envelope is not None and read.envelope.gen_date == "2017-06-12"
    decision = Rejected(
        AppRecErrorCode.E21, "receiver: HER-id 1 is not in the register", read.envelope
    )
    out = builder().build(decision, inbound(raw), raw, OWN_REGISTER, NOW)
    (apprec,) = out.routed
    assert official.read(apprec.payload).accepted
    assert _find(_root(apprec.payload), "a:OriginalMsgId/a:IssueDate").text == "2017-06-12T00:00:00"


def test_receiver_echoes_the_senders_full_address_and_error_speaks_norwegian(
    reader: MessageReader,
) -> None:
    raw = synthetic("LEGEERKL", Family.OTHER)
    read = reader.read(raw)
    assert read.envelope is not None
    reason = "receiver: HER-id 42 is not in the register"
    decision = Rejected(AppRecErrorCode.E21, reason, read.envelope)
    (apprec,) = builder().build(decision, inbound(raw), raw, OWN_REGISTER, SUMMER).routed
    root = _root(apprec.payload)
    institution = _find(root, "a:Receiver/a:HCP/a:Inst")
    assert _find(institution, "a:Name").text == "Legesenteret Øst"
    assert _find(institution, "a:Id").text == str(SENDER)
    assert _find(institution, "a:TypeId").get("V") == "HER"
    assert _find(institution, "a:Dept/a:Name").text == "Legekontoret, resepsjon"
    assert _find(institution, "a:Dept/a:Id").text == str(UNIT)
    assert _find(institution, "a:AdditionalId/a:Id").text == "974703475"
    assert _find(institution, "a:HCPerson/a:Name").text == "Kari Lege"
    assert _find(institution, "a:HCPerson/a:Id").text == str(PERSON)
    assert _find(institution, "a:HCPerson/a:AdditionalId/a:Type").get("V") == "HPR"
    error = _find(root, "a:Error")
    assert error.get("V") == "E21"
    assert error.get("DN") == "Mottaker finnes ikke"
    assert error.get("OT") == reason
    assert _find(root, "a:GenDate").text == "2026-06-24T14:00:00+02:00"
    assert _find(root, "a:Sender/a:HCP/a:Inst/a:Id").text == str(HUB)


def test_a_spoofed_senders_claimed_address_is_never_echoed(reader: MessageReader) -> None:
    raw = synthetic("LEGEERKL", Family.OTHER)
    read = reader.read(raw)
    assert read.envelope is not None
    apprec = builder().hub_apprec(
        OWN_REGISTER,
        answer_to=RECEIVER,
        apprec_id=UUID(int=1),
        version="1.0",
        code=AppRecErrorCode.X99,
        reason="spoofing",
        original_type="LEGEERKL",
        original_gen_date=None,
        original_msg_id=str(uuid4()),
        now=NOW,
        original=raw,
    )
    assert apprec is not None
    institution = _find(_root(apprec.payload), "a:Receiver/a:HCP/a:Inst")
    assert _find(institution, "a:Name").text == "NAV"
    assert institution.find("a:Dept", {"a": institution.nsmap[None]}) is None


def test_an_unknown_type_rejected_in_the_router_gets_a_t10_apprec(
    reader: MessageReader, official: MessageReader
) -> None:
    raw = synthetic("DIALOG_NOTAT", Family.DIALOG, "1.1").replace(
        b"http://www.kith.no/xmlstds/dialog/2013-01-23", b"http://example.org/ukjent/2020-01-01"
    )
    read = reader.read(raw)
    assert read.problem is not None and read.problem.code is AppRecErrorCode.T10
    meta = inbound(raw)
    decision = decide(read, meta, OWN_REGISTER, OPEN, lambda _key: None, NOW)
    assert isinstance(decision, Rejected) and decision.code is AppRecErrorCode.T10
    out = builder().build(decision, meta, raw, OWN_REGISTER, NOW)
    assert out.rejected is not None
    (apprec,) = out.routed
    assert apprec.family is Family.APPREC
    assert apprec.receiver_her_id == SENDER
    answer = official.read(apprec.payload)
    assert answer.accepted, answer.problem
    assert answer.envelope is not None
    assert answer.envelope.root_namespace == APPREC_NAMESPACES[UNKNOWN_TYPE_APPREC_VERSION]
    assert answer.envelope.apprec_error_codes == ("T10",)
