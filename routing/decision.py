"""What the router decides about one message: routed, rejected or duplicate. Failures are data."""

from dataclasses import dataclass

from addressregister.results import Resolution, ResolutionFailure, SenderCheck
from schemas.envelope import Envelope
from schemas.parties import PartyRef
from schemas.vocabulary import AppRecErrorCode


@dataclass(frozen=True, slots=True)
class Delivery:
    """One receiver of a routed message: the primary receiver or a copy receiver."""

    resolution: Resolution
    is_copy: bool


@dataclass(frozen=True, slots=True)
class Routed:
    """The message goes to every receiver in ``deliveries`` (primary first)."""

    envelope: Envelope
    sender: SenderCheck
    deliveries: tuple[Delivery, ...]
    skipped_copies: tuple[tuple[PartyRef, ResolutionFailure], ...] = ()
    """Copy receivers that could not be resolved; the primary still gets the message."""
    dedup_key: str | None = None
    """Remembered so that a re-send is a duplicate (``<organisation>|<MsgId>``)."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """The message is not routed; the sender gets a negative AppRec where one can be addressed."""

    code: AppRecErrorCode
    reason: str
    """Safe text: element paths, rules, HER-ids of organisations; never message content."""
    envelope: Envelope | None
    sender: SenderCheck | None = None
    spoofing: bool = False
    """The principal may not send as the stated sender: answered to the principal's own
    organisation, never to the one the document claims."""
    dedup_key: str | None = None
    """Set only when the message itself caused the rejection (its content), so a re-send is
    a duplicate; never for spoofing or for what the hub's own state caused."""


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A re-send of a message already handled (same sender organisation and MsgId)."""

    envelope: Envelope
    first_hub_message_id: str


Decision = Routed | Rejected | Duplicate
