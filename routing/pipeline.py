"""The routing decision as a pure function: envelope, register and principals in, a Decision out.

Order matters and follows the standard's rules: sender authorisation comes
first (a spoofed message must neither be answered to the organisation it claims
nor poison de-duplication for the real sender), then de-duplication (a re-send
gets no second AppRec, even of a rejection), then the reader's verdict, the
sender's profile, receiver resolution and, for an AppRec, whether its sender
received the message it answers.
"""

from collections.abc import Callable
from datetime import datetime

from access.principals import Principals
from addressregister.index import RegisterIndex
from addressregister.resolution import check_sender, resolve_receiver
from addressregister.results import Resolution, ResolutionFailure
from routing.authorisation import (
    NotAuthorised,
    SenderParty,
    authorise_sender,
    principal_for,
    resolve_sender,
)
from routing.decision import Decision, Delivery, Duplicate, Rejected, Routed
from schemas.envelope import Envelope
from schemas.reader import ReadResult
from schemas.records import InboundMessage
from schemas.vocabulary import SPOOFING_REASON_PREFIX, AppRecErrorCode, Family

UNKNOWN_TYPE = "UNKNOWN"

SeenBefore = Callable[[str], str | None]
"""De-duplication look-up: key -> hub message id of the first message seen with it, or None."""

OriginalReceivers = Callable[[str], frozenset[int] | None]
"""AppRec correlation: ``<original sender organisation>|<MsgId>`` -> the organisations that
received that message, or None when the hub does not know it (older than the window)."""


def dedup_key(organisation_her_id: int | None, envelope: Envelope) -> str | None:
    """``<sender organisation HER-id>|<MsgId>``, or None when either is missing."""
    if organisation_her_id is None or not envelope.msg_id:
        return None
    return f"{organisation_her_id}|{envelope.msg_id}"


def _unknown_original(_key: str) -> frozenset[int] | None:
    return None


def decide(
    read: ReadResult,
    inbound: InboundMessage,
    register: RegisterIndex,
    principals: Principals,
    seen_before: SeenBefore,
    now: datetime,
    original_receivers: OriginalReceivers = _unknown_original,
) -> Decision:
    """Decide what happens to one message. Never raises for bad input."""
    envelope = read.envelope
    principal = principal_for(inbound.principal, principals, register)
    if principal is None and not principals.open_mode:
        return Rejected(
            AppRecErrorCode.X99,
            SPOOFING_REASON_PREFIX + "the message came through no configured principal",
            envelope,
            spoofing=True,
        )
    if envelope is None:
        code = read.problem.code if read.problem else AppRecErrorCode.T01
        reason = read.problem.reason if read.problem else "the message could not be read"
        return Rejected(code, reason, None)
    party: SenderParty | NotAuthorised
    if principal is not None:
        party = authorise_sender(principal, envelope.sender, register)
        if isinstance(party, NotAuthorised) and party.unnamed:
            code = read.problem.code if read.problem else AppRecErrorCode.T01
            return Rejected(code, "the document names no sender", envelope)
        if isinstance(party, NotAuthorised):
            return Rejected(
                AppRecErrorCode.X99, SPOOFING_REASON_PREFIX + party.reason, envelope, spoofing=True
            )
    else:  # open mode: nobody to check against, but the sender still scopes de-duplication
        party = resolve_sender(register, envelope.sender)
    organisation = (
        party.organisation_her_id
        if isinstance(party, SenderParty)
        else envelope.sender.organisation_her_id
    )
    key = dedup_key(organisation, envelope)
    first = seen_before(key) if key else None
    # Re-processing the same record, or an operator's replay of a dead-lettered one,
    # is the same message again, not a re-send.
    if first is not None and first not in {str(inbound.hub_message_id), str(inbound.replay_of)}:
        return Duplicate(envelope, first)
    if read.problem is not None:  # the message's own content: a re-send is a duplicate
        return Rejected(read.problem.code, read.problem.reason, envelope, dedup_key=key)
    return _route(envelope, register, now, key, original_receivers)


def _route(
    envelope: Envelope,
    register: RegisterIndex,
    now: datetime,
    key: str | None,
    original_receivers: OriginalReceivers,
) -> Decision:
    message_type = envelope.message_type or UNKNOWN_TYPE
    sender = check_sender(register, envelope.sender, message_type, envelope.version, now)
    if isinstance(sender, ResolutionFailure):
        return Rejected(sender.code, f"sender: {sender.reason}", envelope)
    primary = resolve_receiver(register, envelope.receiver, message_type, envelope.version, now)
    if isinstance(primary, ResolutionFailure):
        return Rejected(primary.code, f"receiver: {primary.reason}", envelope, sender)
    if envelope.family is Family.APPREC and envelope.original_msg_id:
        answered = original_receivers(f"{primary.organisation_her_id}|{envelope.original_msg_id}")
        if answered is not None and sender.organisation_her_id not in answered:
            return Rejected(
                AppRecErrorCode.X99,
                f"{SPOOFING_REASON_PREFIX}organisation {sender.organisation_her_id} did not "
                "receive the message this AppRec answers",
                envelope,
                sender,
                spoofing=True,
            )
    deliveries = [Delivery(primary, is_copy=False)]
    skipped = []
    receivers = {primary.receiver_her_id}
    for ref in envelope.copy_receivers:
        copy = resolve_receiver(register, ref, message_type, envelope.version, now)
        if isinstance(copy, Resolution):
            if copy.receiver_her_id not in receivers:
                receivers.add(copy.receiver_her_id)
                deliveries.append(Delivery(copy, is_copy=True))
        else:
            skipped.append((ref, copy))
    return Routed(envelope, sender, tuple(deliveries), tuple(skipped), dedup_key=key)
