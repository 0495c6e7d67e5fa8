"""A small register, principals and a corpus dialog message for the MSH API tests.

The message (Dialogmelding 1.1, status på henvisning) goes from organisation 59
(service 90998) to organisation 62 (service 8605) with a copy to a person under
organisation 56704; every organisation receives in the mailbox.
"""

from addressregister.index import RegisterIndex
from addressregister.model import (
    CommunicationParty,
    Endpoint,
    EndpointKind,
    MessageProfile,
    PartyKind,
)
from tests.support.shared import CORPUS

SENDER_ORG, SENDER_SERVICE = 59, 90998
RECEIVER_ORG, RECEIVER_SERVICE = 62, 8605
COPY_ORG, COPY_PERSON = 56704, 258521
OTHER_ORG = 70001
SAMPLE = CORPUS / "dialog" / "Status_paa_henvisning-InnkaltEtterViderehenvisning.xml"
MESSAGE_TYPE = "DIALOG_STATUS_HENVISNING"


def _party(her_id: int, kind: PartyKind, parent: int | None) -> CommunicationParty:
    receives = (MessageProfile(MESSAGE_TYPE), MessageProfile("APPREC"))
    return CommunicationParty(
        her_id=her_id,
        kind=kind,
        name=f"Part {her_id}",
        parent_her_id=parent,
        business_type="101" if parent is None else None,
        receives=receives,
        sends=receives,
        endpoint=Endpoint(EndpointKind.MAILBOX, f"mailbox-{her_id}") if parent is None else None,
    )


def msh_register() -> RegisterIndex:
    """Three organisations of the sample, each with its level-2 party, and one stranger."""
    return RegisterIndex(
        [
            _party(SENDER_ORG, PartyKind.ORGANISATION, None),
            _party(SENDER_SERVICE, PartyKind.SERVICE, SENDER_ORG),
            _party(RECEIVER_ORG, PartyKind.ORGANISATION, None),
            _party(RECEIVER_SERVICE, PartyKind.SERVICE, RECEIVER_ORG),
            _party(COPY_ORG, PartyKind.ORGANISATION, None),
            _party(COPY_PERSON, PartyKind.PERSON, COPY_ORG),
            _party(OTHER_ORG, PartyKind.ORGANISATION, None),
        ]
    )


def client_headers(token: str) -> dict[str, str]:
    """What every MSH API client sends."""
    return {
        "Authorization": f"Bearer {token}",
        "api-version": "2",
        "nhn-source-system": "Testklient, v1.0",
    }
