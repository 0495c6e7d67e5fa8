"""Sender authorisation on the resolved sender: the spoofing table, as one decision."""

import pytest

from access.principals import Principal
from addressregister.index import RegisterIndex
from addressregister.model import CommunicationParty, PartyKind
from routing.authorisation import (
    NotAuthorised,
    SenderParty,
    authorise_sender,
    principal_organisation,
)
from schemas.parties import PartyRef

ORG, DEPT_A, DEPT_B, DOCTOR_A, DOCTOR_B, GP = 100, 101, 102, 1011, 1021, 1001
OTHER, OTHER_UNIT = 200, 201
OWN_NUMBER, OTHER_NUMBER, UNKNOWN_NUMBER = "912345688", "987654325", "974000008"


def _party(
    her_id: int, kind: PartyKind, parent: int | None = None, number: str | None = None
) -> CommunicationParty:
    return CommunicationParty(
        her_id=her_id,
        kind=kind,
        name=f"Part {her_id}",
        parent_her_id=parent,
        organisation_number=number,
        hpr_number="1234567" if kind is PartyKind.PERSON else None,
    )


@pytest.fixture(scope="module")
def register() -> RegisterIndex:
    return RegisterIndex(
        [
            _party(ORG, PartyKind.ORGANISATION, number=OWN_NUMBER),
            _party(DEPT_A, PartyKind.DEPARTMENT, ORG),
            _party(DEPT_B, PartyKind.DEPARTMENT, ORG),
            _party(DOCTOR_A, PartyKind.PERSON, DEPT_A),
            _party(DOCTOR_B, PartyKind.PERSON, DEPT_B),
            _party(GP, PartyKind.PERSON, ORG),
            _party(OTHER, PartyKind.ORGANISATION, number=OTHER_NUMBER),
            _party(OTHER_UNIT, PartyKind.DEPARTMENT, OTHER),
        ]
    )


def ref(
    org: int | None = None,
    service: int | None = None,
    person: int | None = None,
    number: str | None = None,
) -> PartyRef:
    return PartyRef(org, service, person, number)


OWNS_ORG = Principal("org-system", frozenset({ORG}))
OWNS_DEPT_A = Principal("dept-a-system", frozenset({DEPT_A}))
OWNS_DOCTOR_A = Principal("doctor-a", frozenset({DOCTOR_A}))
OWNS_OTHER = Principal("other-system", frozenset({OTHER}))
OWNS_GP = Principal("gp", frozenset({GP}))

SPOOFED = [
    ("organisation number of another organisation", OWNS_ORG, ref(number=OTHER_NUMBER)),
    ("foreign organisation HER-id", OWNS_ORG, ref(org=OTHER)),
    ("own person under a foreign organisation", OWNS_DOCTOR_A, ref(org=OTHER, person=DOCTOR_A)),
    ("another department's doctor", OWNS_DEPT_A, ref(org=ORG, person=DOCTOR_B)),
    ("another department's doctor via unit", OWNS_DEPT_A, ref(ORG, DEPT_B, DOCTOR_B)),
    ("doctor under the wrong department", OWNS_DEPT_A, ref(ORG, DEPT_A, DOCTOR_B)),
    ("unit of another organisation", OWNS_ORG, ref(org=ORG, service=OTHER_UNIT)),
    ("a person may not send as its organisation", OWNS_DOCTOR_A, ref(org=ORG)),
    ("a department for the organisation's own GP", OWNS_DEPT_A, ref(ORG, DEPT_A, GP)),
    ("GP under another organisation's unit", OWNS_ORG, ref(OTHER, OTHER_UNIT, GP)),
    ("a GP naming a department it does not act for", OWNS_GP, ref(ORG, DEPT_A, GP)),
    ("own organisation with another's number", OWNS_ORG, ref(org=ORG, number=OTHER_NUMBER)),
    ("a sender stated two ways", OWNS_ORG, PartyRef(ORG, ambiguous=True)),
    ("unknown organisation", OWNS_ORG, ref(org=999)),
    ("unknown person", OWNS_ORG, ref(org=ORG, person=4242)),
    ("unknown organisation number", OWNS_ORG, ref(number=UNKNOWN_NUMBER)),
]

ALLOWED = [
    ("organisation, full address", OWNS_ORG, ref(ORG, DEPT_A, DOCTOR_A), DOCTOR_A),
    ("department for its doctor", OWNS_DEPT_A, ref(ORG, DEPT_A, DOCTOR_A), DOCTOR_A),
    ("department alone", OWNS_DEPT_A, ref(org=ORG, service=DEPT_A), DEPT_A),
    ("doctor with organisation", OWNS_DOCTOR_A, ref(org=ORG, person=DOCTOR_A), DOCTOR_A),
    ("organisation number only", OWNS_OTHER, ref(number=OTHER_NUMBER), OTHER),
    ("GP of the organisation named with a department", OWNS_ORG, ref(ORG, DEPT_A, GP), GP),
    ("a GP alone", OWNS_GP, ref(org=ORG, person=GP), GP),
    ("own organisation with its own number", OWNS_ORG, ref(org=ORG, number=OWN_NUMBER), ORG),
]


@pytest.mark.parametrize(
    ("principal", "sender"), [c[1:] for c in SPOOFED], ids=[c[0] for c in SPOOFED]
)
def test_spoofed_senders_are_not_authorised(
    register: RegisterIndex, principal: Principal, sender: PartyRef
) -> None:
    verdict = authorise_sender(principal, sender, register)
    assert isinstance(verdict, NotAuthorised)
    assert not verdict.unnamed
    assert str(DOCTOR_A) not in verdict.reason and str(DOCTOR_B) not in verdict.reason


@pytest.mark.parametrize(
    ("principal", "sender", "party"), [c[1:] for c in ALLOWED], ids=[c[0] for c in ALLOWED]
)
def test_own_senders_are_resolved(
    register: RegisterIndex, principal: Principal, sender: PartyRef, party: int
) -> None:
    verdict = authorise_sender(principal, sender, register)
    assert isinstance(verdict, SenderParty)
    assert verdict.her_id == party
    assert verdict.organisation_her_id == register.organisation_of(party)


def test_a_document_without_sender_is_unnamed_not_spoofed(register: RegisterIndex) -> None:
    verdict = authorise_sender(OWNS_ORG, ref(), register)
    assert isinstance(verdict, NotAuthorised) and verdict.unnamed


def test_answers_go_to_the_principals_own_organisation(register: RegisterIndex) -> None:
    assert principal_organisation(OWNS_DOCTOR_A, register) == ORG
    assert principal_organisation(OWNS_OTHER, register) == OTHER
    assert principal_organisation(Principal("ghost", frozenset({5})), register) is None
