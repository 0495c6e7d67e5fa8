"""The routing decision as a pure function: envelope, register and principals in, a Decision out.

Order matters and follows the standard's rules: the principal check comes
first (a spoofed message must not poison de-duplication for the real sender),
then de-duplication (a re-send gets no second AppRec, even of a rejection),
then the reader's verdict, the sender check and receiver resolution.
"""

from collections.abc import Callable
from datetime import datetime

from addressregister.index import RegisterIndex
from addressregister.resolution import check_sender, resolve_receiver
from addressregister.results import Resolution, ResolutionFailure
from routing.decision import Decision, Delivery, Duplicate, Rejected, Routed
from routing.principals import Principals
from schemas.envelope import Envelope
from schemas.reader import ReadResult
from schemas.records import InboundMessage
from schemas.vocabulary import AppRecError

UNKNOWN_TYPE = "UNKNOWN"

SeenBefore = Callable[[str], str | None]
"""De-duplication look-up: key -> hub message id of the first message seen with it, or None."""


def dedup_key(envelope: Envelope) -> str | None:
    """``<sender organisation HER-id>|<MsgId>``, or None when the message lacks either."""
    organisation = envelope.sender.organisation_her_id
    if organisation is None or not envelope.msg_id:
        return None
    return f"{organisation}|{envelope.msg_id}"


def decide(
    read: ReadResult,
    inbound: InboundMessage,
    register: RegisterIndex,
    principals: Principals,
    seen_before: SeenBefore,
    now: datetime,
) -> Decision:
    """Decide what happens to one message. Never raises for bad input."""
    envelope = read.envelope
    spoofed = _spoofing(envelope, inbound, principals)
    if spoofed is not None:
        return spoofed
    if envelope is not None:
        key = dedup_key(envelope)
        first = seen_before(key) if key else None
        # Re-processing the same record, or an operator's replay of a dead-lettered one,
        # is the same message again, not a re-send.
        same = {str(inbound.hub_message_id), str(inbound.replay_of)}
        if first is not None and first not in same:
            return Duplicate(envelope, first)
    if read.problem is not None or envelope is None:
        code = read.problem.code if read.problem else AppRecError.T01
        reason = read.problem.reason if read.problem else "the message could not be read"
        return Rejected(code, reason, envelope)
    message_type = envelope.message_type or UNKNOWN_TYPE
    sender = check_sender(register, envelope.sender, message_type, envelope.version, now)
    if isinstance(sender, ResolutionFailure):
        return Rejected(sender.code, f"sender: {sender.reason}", envelope)
    primary = resolve_receiver(register, envelope.receiver, message_type, envelope.version, now)
    if isinstance(primary, ResolutionFailure):
        return Rejected(primary.code, f"receiver: {primary.reason}", envelope, sender)
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
    return Routed(envelope, sender, tuple(deliveries), tuple(skipped))


def _spoofing(
    envelope: Envelope | None, inbound: InboundMessage, principals: Principals
) -> Rejected | None:
    if principals.open:
        return None
    principal = principals.get(inbound.principal)
    if principal is None:
        return Rejected(
            AppRecError.X99,
            f"principal {inbound.principal!r} is not configured to send through the hub",
            envelope,
            spoofing=True,
        )
    if envelope is None:
        return None
    sender = envelope.sender
    named = (sender.organisation_her_id, sender.service_her_id, sender.person_her_id)
    if any(her_id is not None for her_id in named) and not principal.may_send_for(named):
        return Rejected(
            AppRecError.X99,
            f"sender organisation {sender.organisation_her_id} is not one principal "
            f"{principal.name!r} may send for (spoofing)",
            envelope,
            spoofing=True,
        )
    return None
