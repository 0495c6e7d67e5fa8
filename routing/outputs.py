"""Turns a Decision into the records the router writes: routed messages, rejection, AppRec, events.

Pure and deterministic: every id is derived from the hub message id, so
re-processing the same inbound record after an aborted transaction yields the
same records, and consumers can de-duplicate by id.
"""

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID, uuid5

from access.principals import Principals
from addressregister.index import RegisterIndex
from addressregister.resolution import resolve_receiver
from addressregister.results import Resolution
from routing.apprec import AppRecVersion, negative_apprec
from routing.authorisation import SenderParty, principal_for, principal_organisation, resolve_sender
from routing.decision import Decision, Duplicate, Rejected, Routed
from routing.events import message_event, router_rejection
from routing.settings import RoutingSettings
from schemas import shown
from schemas.envelope import Envelope
from schemas.outcomes import clean_reason_code
from schemas.parties import PartyRef
from schemas.records import (
    UNKNOWN_MESSAGE_TYPE,
    InboundMessage,
    MessageEvent,
    PayloadRef,
    RejectedMessage,
    RoutedMessage,
)
from schemas.sender_address import SenderAddress, read_sender_address
from schemas.settings import SchemaSettings
from schemas.vocabulary import (
    AddressingMode,
    AppRecErrorCode,
    AppRecStatus,
    Category,
    EventType,
    Family,
)
from schemas.xmlparse import ParseLimits

UNKNOWN_TYPE_APPREC_VERSION: AppRecVersion = "1.0"
"""The AppRec version that answers a message of a type the hub does not know: the oldest,
which every system on the network reads."""

INLINE_PAYLOAD_MAX_BYTES = 1024 * 1024
"""A document this small, routed to one receiver, travels inside its ``RoutedMessage``
(delivery needs no second read); any other is claim-checked (:class:`PayloadRef`)."""


def carried_payload(
    payload: bytes, receivers: int, where: PayloadRef | None
) -> tuple[bytes, PayloadRef | None]:
    """What each receiver's record carries: the document, or a claim check naming ``where``.

    A message routed to several receivers, or a large one, costs its size once: the
    document stays where it is (``where``, its ``hub.inbound`` record) and every
    receiver's record refers to it.
    """
    if where is None or (receivers <= 1 and len(payload) <= INLINE_PAYLOAD_MAX_BYTES):
        return payload, None
    return b"", where


@dataclass(frozen=True, slots=True)
class SentRecord:
    """What the router remembers of a routed message to correlate its AppRec later."""

    key: str
    """``<original sender organisation>|<MsgId>``: the AppRec's receiver and OriginalMsgId."""
    received_at: datetime
    hub_message_id: UUID
    receivers: frozenset[int] = frozenset()
    """Organisations the message went to: only they may answer it with an AppRec."""


@dataclass(slots=True)
class Outputs:
    """Everything one inbound message produces, written in one transaction."""

    routed: list[RoutedMessage] = field(default_factory=list)
    rejected: RejectedMessage | None = None
    events: list[MessageEvent] = field(default_factory=list)
    remember: tuple[str, str] | None = None
    """De-duplication entry: key -> hub message id."""
    sent: list[SentRecord] = field(default_factory=list)


class OutputBuilder:
    """Builds the records for a decision; holds the settings and the hub's identity."""

    def __init__(
        self,
        settings: RoutingSettings,
        principals: Principals,
        limits: ParseLimits | None = None,
    ) -> None:
        self._settings = settings
        self._principals = principals
        self._limits = limits or SchemaSettings().parse_limits()

    def build(
        self,
        decision: Decision,
        inbound: InboundMessage,
        payload: bytes,
        register: RegisterIndex,
        now: datetime,
        original_received_at: datetime | None = None,
        principals: Principals | None = None,
        payload_at: PayloadRef | None = None,
    ) -> Outputs:
        """Records for ``decision``; ``original_received_at``: when the hub received the
        message a receiver's AppRec answers (for the round-trip time); ``payload_at``: the
        record that holds ``payload``, for claim checks (none: always carried inline)."""
        envelope = decision.envelope
        out = Outputs()
        out.events.append(message_event(EventType.ACCEPTED, inbound, envelope, now, register))
        if isinstance(decision, Duplicate):
            out.events.append(
                message_event(
                    EventType.DUPLICATE, inbound, envelope, now, register, reason="re-sent MsgId"
                )
            )
            return out
        if decision.dedup_key is not None:
            out.remember = (decision.dedup_key, str(inbound.hub_message_id))
        if isinstance(decision, Routed):
            self._routed(decision, inbound, payload, now, out, original_received_at, payload_at)
        else:
            self._rejected(decision, inbound, payload, register, now, out, principals)
        return out

    def _routed(
        self,
        decision: Routed,
        inbound: InboundMessage,
        payload: bytes,
        now: datetime,
        out: Outputs,
        original_received_at: datetime | None,
        payload_at: PayloadRef | None,
    ) -> None:
        envelope, sender = decision.envelope, decision.sender
        is_apprec = envelope.family is Family.APPREC
        carried, claim = carried_payload(payload, len(decision.deliveries), payload_at)
        for delivery in decision.deliveries:
            resolution = delivery.resolution
            out.routed.append(
                RoutedMessage(
                    hub_message_id=inbound.hub_message_id,
                    family=envelope.family,
                    message_type=envelope.message_type or UNKNOWN_MESSAGE_TYPE,
                    message_version=envelope.version or None,
                    msg_id=envelope.msg_id,
                    receiver_her_id=resolution.receiver_her_id,
                    receiver_organisation_her_id=resolution.organisation_her_id,
                    addressed_her_id=resolution.addressed_her_id,
                    sender_her_id=sender.organisation_her_id,
                    sender_party_her_id=sender.sender_her_id,
                    sender_category=sender.category,
                    receiver_category=resolution.category,
                    addressing_mode=resolution.addressing_mode,
                    is_copy=delivery.is_copy,
                    ack_requested=envelope.ack_requested,
                    apprec_version=envelope.apprec_version,
                    ingress=inbound,
                    routed_at=now,
                    size_bytes=len(payload),
                    attachment_count=envelope.attachment_count,
                    payload=carried,
                    payload_ref=claim,
                )
            )
            rtt = None
            if is_apprec and original_received_at is not None:
                rtt = max(
                    0, int((inbound.received_at - original_received_at).total_seconds() * 1000)
                )
            out.events.append(
                message_event(
                    EventType.APPREC_ROUTED if is_apprec else EventType.ROUTED,
                    inbound,
                    envelope,
                    now,
                    None,
                    sender_category=sender.category,
                    sender_her_id=sender.organisation_her_id,
                    resolution=resolution,
                    is_copy=delivery.is_copy,
                    label=f"routed:{resolution.receiver_her_id}",
                    apprec_round_trip_ms=rtt,
                    # Only an AppRec whose original the hub knows (and whose sender received
                    # it) may change that message's status; others are routed, not counted.
                    original_msg_id=shown.message_id(envelope.original_msg_id)
                    if is_apprec and original_received_at is not None
                    else None,
                    reason=None
                    if original_received_at is not None or not is_apprec
                    else "original not found",
                    # the receiver's first error code, so its sender's status can show it;
                    # a code outside kodeverk 8221 is document text: it counts as X99
                    reason_code=clean_reason_code(envelope.apprec_error_codes[0])
                    if is_apprec and envelope.apprec_error_codes
                    else None,
                )
            )
        for ref, failure in decision.skipped_copies:
            out.events.append(
                message_event(
                    EventType.REJECTED,
                    inbound,
                    envelope,
                    now,
                    None,
                    sender_category=sender.category,
                    sender_her_id=sender.organisation_her_id,
                    is_copy=True,
                    reason_code=failure.code.value,
                    reason=f"copy receiver: {failure.reason}",
                    label=f"copy:{ref.organisation_her_id}:{ref.service_her_id}:{ref.person_her_id}",
                )
            )
        if not is_apprec and envelope.msg_id and sender.organisation_her_id is not None:
            out.sent.append(
                SentRecord(
                    f"{sender.organisation_her_id}|{envelope.msg_id}",
                    inbound.received_at,
                    inbound.hub_message_id,
                    frozenset(d.resolution.organisation_her_id for d in decision.deliveries),
                )
            )

    def _rejected(
        self,
        decision: Rejected,
        inbound: InboundMessage,
        payload: bytes,
        register: RegisterIndex,
        now: datetime,
        out: Outputs,
        principals: Principals | None,
    ) -> None:
        envelope = decision.envelope
        out.rejected = router_rejection(decision, inbound, payload, now)
        out.events.append(
            message_event(
                EventType.REJECTED,
                inbound,
                envelope,
                now,
                register,
                reason_code=decision.code.value,
                reason=decision.reason,
            )
        )
        apprec = self._negative_apprec(decision, inbound, register, now, principals, payload)
        if apprec is not None:
            out.routed.append(apprec)
            out.events.append(
                message_event(
                    EventType.ROUTED,
                    apprec.ingress,
                    None,
                    now,
                    None,
                    family=Family.APPREC,
                    message_type="APPREC",
                    receiver_category=apprec.receiver_category,
                    receiver_her_id=apprec.receiver_organisation_her_id,
                    addressing_mode=apprec.addressing_mode,
                    label="hub-apprec",
                    size_bytes=apprec.size_bytes,
                    original_msg_id=shown.message_id(envelope.msg_id) if envelope else None,
                    apprec_status=AppRecStatus.REJECTED,
                    reason_code=decision.code.value,
                )
            )

    def _negative_apprec(
        self,
        decision: Rejected,
        inbound: InboundMessage,
        register: RegisterIndex,
        now: datetime,
        principals: Principals | None = None,
        payload: bytes | None = None,
    ) -> RoutedMessage | None:
        """The hub's AppRec for a rejection, to the sender; None where the standard has none.

        A message of a type the hub does not know (T10) is answered too, in AppRec
        :data:`UNKNOWN_TYPE_APPREC_VERSION`: the sender can be told, so it must be.
        """
        envelope = decision.envelope
        if envelope is None or envelope.family is Family.APPREC or not envelope.msg_id:
            return None
        answer_to = self._answer_to(
            decision, inbound, envelope, register, principals or self._principals
        )
        if answer_to is None:
            return None
        return self.hub_apprec(
            register,
            answer_to=answer_to,
            apprec_id=uuid5(inbound.hub_message_id, "hub-apprec"),
            version=envelope.apprec_version or UNKNOWN_TYPE_APPREC_VERSION,
            code=decision.code,
            reason=decision.reason,
            original_type=envelope.message_type or UNKNOWN_MESSAGE_TYPE,
            original_gen_date=envelope.gen_date,
            original_msg_id=envelope.msg_id,
            now=now,
            # a spoofed message's sender address is the one it falsely claims: never echoed
            original=None if decision.spoofing else payload,
        )

    def hub_apprec(
        self,
        register: RegisterIndex,
        *,
        answer_to: int,
        apprec_id: UUID,
        version: AppRecVersion,
        code: AppRecErrorCode,
        reason: str,
        original_type: str,
        original_gen_date: str | None,
        original_msg_id: str,
        now: datetime,
        original: bytes | None = None,
    ) -> RoutedMessage | None:
        """A negative AppRec from the hub to organisation ``answer_to``, routed like any message
        (also used by delivery for X99 "not delivered"); None when it has no receiving party.

        ``original``: the answered document, whose sender address the AppRec's ``Receiver``
        echoes when that sender is ``answer_to``."""
        resolution = resolve_receiver(
            register, PartyRef(organisation_her_id=answer_to), "APPREC", None, now
        )
        if not isinstance(resolution, Resolution):
            return None
        settings = self._settings
        document = negative_apprec(
            version=version,
            apprec_id=apprec_id,
            generated_at=now,
            code=code,
            reason=reason,
            hub_her_id=settings.hub_her_id,
            hub_name=settings.hub_name,
            receiver_her_id=answer_to,
            receiver_name=resolution.receiver.name,
            original_type=original_type,
            original_gen_date=original_gen_date,
            original_msg_id=original_msg_id,
            receiver_address=self._address(original, answer_to),
        )
        ingress = InboundMessage(
            hub_message_id=apprec_id,
            adapter="hub",
            principal=None,
            received_at=now,
            size_bytes=len(document),
            replay_of=None,
        )
        return RoutedMessage(
            hub_message_id=apprec_id,
            family=Family.APPREC,
            message_type="APPREC",
            message_version=version,
            msg_id=str(apprec_id),
            receiver_her_id=resolution.receiver_her_id,
            receiver_organisation_her_id=resolution.organisation_her_id,
            addressed_her_id=answer_to,
            sender_her_id=settings.hub_her_id,
            sender_category=Category.ANNET,
            receiver_category=resolution.category,
            addressing_mode=AddressingMode.ORGANISATION,
            ingress=ingress,
            routed_at=now,
            size_bytes=len(document),
            payload=document,
        )

    def _address(self, original: bytes | None, answer_to: int) -> SenderAddress | None:
        """The original's sender address when it names organisation ``answer_to`` (by HER-id,
        or by organisation number only); else None, and the AppRec names the organisation."""
        if original is None:
            return None
        address = read_sender_address(original, self._limits)
        if address is None or address.organisation is None:
            return None
        stated = address.organisation.id_of("HER")
        return address if stated is None or stated == str(answer_to) else None

    def _answer_to(
        self,
        decision: Rejected,
        inbound: InboundMessage,
        envelope: Envelope,
        register: RegisterIndex,
        principals: Principals,
    ) -> int | None:
        """Who gets the AppRec: the checked sender's organisation; for spoofing the principal's
        own organisation, never the one the document claims."""
        if decision.spoofing:
            principal = principal_for(inbound.principal, principals, register)
            return principal_organisation(principal, register) if principal else None
        if decision.sender is not None:
            return decision.sender.organisation_her_id
        party = resolve_sender(register, envelope.sender)
        return party.organisation_her_id if isinstance(party, SenderParty) else None
