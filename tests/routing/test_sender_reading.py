"""A sender stated in more than one way is never authorised: the receiver could read another one.

The hub forwards the document's bytes, so a receiving system sees every id the
sender element carries, not only the ones the hub used. Each case puts the
attacker's own ids where the hub would look and the victim's where another
reader might, and must be rejected as spoofing.
"""

import uuid
from datetime import UTC, datetime

import pytest

from access.principals import Principal, Principals
from addressregister.index import RegisterIndex
from addressregister.model import (
    CommunicationParty,
    Endpoint,
    EndpointKind,
    MessageProfile,
    PartyKind,
)
from routing.decision import Rejected, Routed
from routing.pipeline import decide
from schemas.reader import MessageReader
from schemas.records import InboundMessage
from schemas.settings import SchemaSettings
from schemas.vocabulary import AppRecErrorCode
from tests.support.shared import CORPUS

ATTACKER, ATTACKER_GP = 56704, 258521
VICTIM, VICTIM_DEPT, VICTIM_DOCTOR = 700, 701, 7011
VICTIM_NUMBER = "987654325"
DIALOG = CORPUS / "dialog" / "Helsefaglig_dialog.xml"


def _party(
    her_id: int, kind: PartyKind, parent: int | None = None, number: str | None = None
) -> CommunicationParty:
    types = tuple(MessageProfile(t) for t in ("DIALOG_HELSEFAGLIG",))
    return CommunicationParty(
        her_id=her_id,
        kind=kind,
        name=f"Part {her_id}",
        parent_her_id=parent,
        organisation_number=number,
        business_type="101" if parent is None else None,
        receives=types,
        sends=types,
        endpoint=Endpoint(EndpointKind.MAILBOX, f"{her_id}_async") if parent is None else None,
    )


@pytest.fixture(scope="module")
def register() -> RegisterIndex:
    return RegisterIndex(
        [
            _party(ATTACKER, PartyKind.ORGANISATION, number="912345688"),
            _party(ATTACKER_GP, PartyKind.PERSON, ATTACKER),
            _party(VICTIM, PartyKind.ORGANISATION, number=VICTIM_NUMBER),
            _party(VICTIM_DEPT, PartyKind.DEPARTMENT, VICTIM),
            _party(VICTIM_DOCTOR, PartyKind.PERSON, VICTIM_DEPT),
            _party(59, PartyKind.ORGANISATION),
            _party(90998, PartyKind.DEPARTMENT, 59),
        ]
    )


def ident(value: object, kind: str = "HER") -> str:
    return (
        f'<Ident><Id>{value}</Id><TypeId V="{kind}" DN="id" S="2.16.578.1.12.4.1.1.9051"/></Ident>'
    )


def professional(her_id: int) -> str:
    inner = f"<FamilyName>X</FamilyName>{ident(her_id)}"
    return f"<HealthcareProfessional>{inner}</HealthcareProfessional>"


def organisation(name: str, *inner: str) -> str:
    return (
        f"<Organisation><OrganisationName>{name}</OrganisationName>{''.join(inner)}</Organisation>"
    )


OWN = organisation("A", ident(ATTACKER))
TRICKS = {
    "two HER ids, own first": organisation("V", ident(ATTACKER), ident(VICTIM)),
    "own HER with the victim's ENH": organisation(
        "V", ident(ATTACKER), ident(VICTIM_NUMBER, "ENH")
    ),
    "victim id that does not parse": organisation("V", ident("+700"), professional(ATTACKER_GP)),
    "HER in lower case": organisation("V", ident(VICTIM, "her"), professional(ATTACKER_GP)),
    "three levels of organisation": organisation(
        "A", ident(ATTACKER), organisation("u", organisation("d", ident(VICTIM_DEPT)))
    ),
    "a person at both levels": organisation(
        "A",
        ident(ATTACKER),
        organisation("u", professional(VICTIM_DOCTOR)),
        professional(ATTACKER_GP),
    ),
    "two units": organisation(
        "A", ident(ATTACKER), organisation("u", ident(ATTACKER)), organisation("v", ident(VICTIM))
    ),
}


def decide_with_sender(register: RegisterIndex, sender: str) -> Routed | Rejected:
    if not DIALOG.is_file():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    text = DIALOG.read_text(encoding="utf-8")
    original = text[text.index("<Sender>") : text.index("</Sender>") + len("</Sender>")]
    msg_id = text[text.index("<MsgId>") : text.index("</MsgId>")]
    raw = (
        text.replace(original, f"<Sender>{sender}</Sender>")
        .replace(msg_id, f"<MsgId>{uuid.uuid4()}")
        .encode()
    )
    inbound = InboundMessage(
        hub_message_id=uuid.uuid4(),
        adapter="http",
        principal="attacker",
        received_at=datetime.now(UTC),
        size_bytes=len(raw),
    )
    principals = Principals([Principal("attacker", frozenset({ATTACKER}))])
    decision = decide(
        MessageReader(SchemaSettings()).read(raw),
        inbound,
        register,
        principals,
        lambda _key: None,
        datetime.now(UTC),
    )
    assert isinstance(decision, Routed | Rejected)
    return decision


def test_the_attackers_own_sender_routes(register: RegisterIndex) -> None:
    decision = decide_with_sender(register, OWN)
    assert isinstance(decision, Routed), decision


@pytest.mark.parametrize("sender", TRICKS.values(), ids=TRICKS.keys())
def test_a_sender_stated_two_ways_is_spoofing(register: RegisterIndex, sender: str) -> None:
    decision = decide_with_sender(register, sender)
    assert isinstance(decision, Rejected), decision
    assert decision.code is AppRecErrorCode.X99 and decision.spoofing, decision
