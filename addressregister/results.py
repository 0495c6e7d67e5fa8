"""What resolution answers: a resolved receiver, a checked sender, or a specific failure."""

from dataclasses import dataclass
from enum import StrEnum

from addressregister.model import CommunicationParty, Endpoint
from schemas.vocabulary import AddressingMode, AppRecErrorCode, Category


class LookupProblem(StrEnum):
    """Why a party could not be used; a closed set, safe as a metric label or event reason."""

    NO_IDENTIFIER = "no_identifier"
    UNKNOWN_PARTY = "unknown_party"
    UNKNOWN_PERSON = "unknown_person"
    AMBIGUOUS_ORGANISATION_NUMBER = "ambiguous_organisation_number"
    NOT_UNDER_ORGANISATION = "not_under_organisation"
    INACTIVE = "inactive"
    OUTSIDE_VALIDITY = "outside_validity"
    TYPE_NOT_ACCEPTED = "type_not_accepted"
    NOT_ALLOWED_TO_SEND = "not_allowed_to_send"
    NO_ENDPOINT = "no_endpoint"


@dataclass(frozen=True, slots=True)
class Resolution:
    """Who receives a message and how it was addressed."""

    receiver: CommunicationParty
    """The party that receives: the addressed one or its nearest ancestor with an endpoint."""
    organisation_her_id: int
    """The top-level organisation of the addressed party."""
    addressed_her_id: int
    addressing_mode: AddressingMode
    category: Category
    """Statistics category of the addressed party."""
    endpoint: Endpoint

    @property
    def receiver_her_id(self) -> int:
        """HER-id of the party that holds the endpoint (the Kafka key on ``hub.outbound``)."""
        return self.receiver.her_id


@dataclass(frozen=True, slots=True)
class SenderCheck:
    """A sender that exists, is active and may send the message type."""

    party: CommunicationParty
    """The most specific party the envelope names (person, service or organisation)."""
    organisation_her_id: int
    """The top-level organisation of the sender."""
    addressing_mode: AddressingMode
    """The level the envelope names the sender at."""
    category: Category

    @property
    def sender_her_id(self) -> int:
        """HER-id of the most specific named sender."""
        return self.party.her_id


@dataclass(frozen=True, slots=True)
class ResolutionFailure:
    """Why a party could not be used, with the AppRec error code the sender gets."""

    code: AppRecErrorCode
    problem: LookupProblem
    reason: str
    """Safe text for operators and the AppRec: HER-ids of organisations, never person data."""
    her_id: int | None = None
    """The HER-id that failed, when there is one."""
