"""A small hand-made register whose every party exists to exercise one resolution rule."""

from datetime import UTC, datetime

from addressregister.index import RegisterIndex
from addressregister.model import CommunicationParty, Endpoint, EndpointKind, PartyKind
from addressregister.profiles import ROLES

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)

HOSPITAL, HOSPITAL_DEPT = 100, 101
KOMMUNE, HOME_CARE, CLOSED_SERVICE = 200, 201, 202
PRACTICE, GP, GP_INACTIVE, GP_RETIRED, GP_FUTURE = 300, 301, 302, 303, 304
NO_ENDPOINT_ORG, NO_ENDPOINT_SERVICE = 400, 401
CLOSED_PRACTICE, GP_IN_CLOSED_PRACTICE = 500, 501
PHARMACY = 600
RF = 80624


def org(
    her_id: int,
    business_type: str,
    role: str,
    endpoint: Endpoint | None,
    *,
    name: str | None = None,
    organisation_number: str | None = None,
    active: bool = True,
) -> CommunicationParty:
    receives, sends = ROLES[role]
    return CommunicationParty(
        her_id=her_id,
        kind=PartyKind.ORGANISATION,
        name=name or f"Organisation {her_id}",
        organisation_number=organisation_number,
        municipality="4601",
        business_type=business_type,
        receives=receives,
        sends=sends,
        endpoint=endpoint,
        active=active,
    )


def unit(
    her_id: int,
    parent: int,
    kind: PartyKind = PartyKind.SERVICE,
    *,
    role: str | None = None,
    endpoint: Endpoint | None = None,
    active: bool = True,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
) -> CommunicationParty:
    receives, sends = ROLES[role] if role else ((), ())
    return CommunicationParty(
        her_id=her_id,
        kind=kind,
        name=f"Unit {her_id}",
        parent_her_id=parent,
        receives=receives,
        sends=sends,
        endpoint=endpoint,
        active=active,
        valid_from=valid_from,
        valid_to=valid_to,
    )


def small_parties() -> list[CommunicationParty]:
    amqp = Endpoint(EndpointKind.AMQP, "q_async")
    return [
        org(HOSPITAL, "101", "hospital", Endpoint(EndpointKind.AMQP, f"{HOSPITAL}_async")),
        unit(HOSPITAL_DEPT, HOSPITAL, PartyKind.DEPARTMENT),
        org(KOMMUNE, "102", "municipality", Endpoint(EndpointKind.KAFKA, "receiver.200")),
        unit(
            HOME_CARE, KOMMUNE, role="home_care", endpoint=Endpoint(EndpointKind.MAILBOX, "mb-201")
        ),
        unit(CLOSED_SERVICE, KOMMUNE, role="home_care", active=False),
        org(PRACTICE, "103", "gp", Endpoint(EndpointKind.WEBHOOK, "https://gp.example.no/in")),
        unit(GP, PRACTICE, PartyKind.PERSON),
        unit(GP_INACTIVE, PRACTICE, PartyKind.PERSON, active=False),
        unit(GP_RETIRED, PRACTICE, PartyKind.PERSON, valid_to=datetime(2020, 1, 1, tzinfo=UTC)),
        unit(GP_FUTURE, PRACTICE, PartyKind.PERSON, valid_from=datetime(2030, 1, 1, tzinfo=UTC)),
        org(NO_ENDPOINT_ORG, "102", "municipality", None),
        unit(NO_ENDPOINT_SERVICE, NO_ENDPOINT_ORG, role="home_care"),
        org(CLOSED_PRACTICE, "103", "gp", amqp, active=False),
        unit(GP_IN_CLOSED_PRACTICE, CLOSED_PRACTICE, PartyKind.PERSON),
        org(
            PHARMACY,
            "108",
            "pharmacy",
            Endpoint(EndpointKind.FILE, "outbox/600"),
            organisation_number="983044778",
        ),
        org(
            RF,
            "113",
            "reseptformidleren",
            Endpoint(EndpointKind.AMQP, "80624_async"),
            organisation_number="915933149",
        ),
    ]


def small_index() -> RegisterIndex:
    return RegisterIndex(small_parties())
