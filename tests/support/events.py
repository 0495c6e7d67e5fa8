"""Builds ``MessageEvent`` records for the metrics tests, and a known scenario with its counts.

The router that emits these events is tested elsewhere; here the events are
made by hand, exactly as the event semantics promise them: one ``accepted``
per message, one ``routed`` per receiver (copies flagged), ``rejected`` with a
code, ``duplicate`` for a re-send, ``apprec_routed`` with status and round
trip, and delivery events from the delivery workers.
"""

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.records import MessageEvent
from schemas.vocabulary import AddressingMode, AppRecStatus, Category, EventType, Family

T0 = datetime(2024, 3, 14, 9, 0, tzinfo=UTC)
"""A working-day morning; every scenario event happens on 2024-03-14 (Oslo time)."""

HF, KOMMUNE, FASTLEGE, APOTEK, RF = (
    Category.HELSEFORETAK,
    Category.KOMMUNE,
    Category.FASTLEGE,
    Category.APOTEK,
    Category.RESEPTFORMIDLEREN,
)


def event(
    event_type: EventType,
    hub_message_id: uuid.UUID,
    *,
    family: Family = Family.PLO,
    message_type: str = "INNLEGGELSESRAPPORT",
    sender: tuple[int | None, Category] = (100, HF),
    receiver: tuple[int | None, Category] = (200, KOMMUNE),
    mode: AddressingMode = AddressingMode.ORGANISATION,
    at: datetime = T0,
    received_at: datetime | None = None,
    **extra: Any,
) -> MessageEvent:
    """One event with plausible defaults; ``extra`` sets the optional fields."""
    return MessageEvent(
        event_id=uuid.uuid4(),
        event_type=event_type,
        occurred_at=at,
        hub_message_id=hub_message_id,
        family=family,
        message_type=message_type,
        sender_category=sender[1],
        receiver_category=receiver[1],
        addressing_mode=mode,
        adapter="http",
        received_at=received_at or at - timedelta(milliseconds=4),
        size_bytes=extra.pop("size_bytes", 8_000),
        sender_her_id=sender[0],
        receiver_her_id=receiver[0],
        principal="epj-system-1",
        **extra,
    )


def accepted(hub_message_id: uuid.UUID, at: datetime, msg_id: str) -> MessageEvent:
    """What ingress knows: not yet classified, parties not yet resolved."""
    unknown = (None, Category.UKJENT)
    return event(
        EventType.ACCEPTED,
        hub_message_id,
        family=Family.OTHER,
        message_type="UNKNOWN",
        sender=unknown,
        receiver=unknown,
        mode=AddressingMode.NONE,
        at=at,
        received_at=at,
        msg_id=msg_id,
    )


@dataclass
class Scenario:
    """Events of a known traffic mix and the counts they must produce."""

    events: list[MessageEvent] = field(default_factory=list)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(family, outcome) -> expected count."""
    pairs: Counter[tuple[str, str, str, str, str]] = field(default_factory=Counter)
    """(family, sender_category, receiver_category, addressing_mode, outcome) -> count."""
    rejections: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(family, reason_code) -> count."""
    msg_ids: dict[str, uuid.UUID] = field(default_factory=dict)

    def message(
        self,
        family: Family,
        message_type: str,
        sender: tuple[int, Category],
        receiver: tuple[int, Category],
        mode: AddressingMode,
        *,
        copies: tuple[tuple[int, Category], ...] = (),
        rejected: str | None = None,
        duplicate_of: str | None = None,
        delivery: str = "delivered",
        apprec: AppRecStatus | None = None,
        at: datetime = T0,
    ) -> uuid.UUID:
        """Add one message's events; returns its hub id."""
        hub_id = uuid.uuid4()
        msg_id = duplicate_of or str(uuid.uuid4())
        common: dict[str, Any] = {
            "family": family,
            "message_type": message_type,
            "sender": sender,
            "receiver": receiver,
            "mode": mode,
            "received_at": at,
            "msg_id": msg_id,
        }
        self.events.append(accepted(hub_id, at, msg_id))
        if duplicate_of is not None:
            self.events.append(event(EventType.DUPLICATE, hub_id, at=at + _ms(3), **common))
            self._count(family, sender, receiver, mode, "duplicate")
            return hub_id
        if rejected is not None:
            self.events.append(
                event(EventType.REJECTED, hub_id, at=at + _ms(3), reason_code=rejected, **common)
            )
            self._count(family, sender, receiver, mode, "rejected")
            self.rejections[(family.value, rejected)] += 1
            return hub_id
        self.msg_ids[msg_id] = hub_id
        for index, target in enumerate((receiver, *copies)):
            is_copy = index > 0
            outcome = "routed_copy" if is_copy else "routed"
            fields = {**common, "receiver": target}
            self.events.append(
                event(EventType.ROUTED, hub_id, at=at + _ms(5), is_copy=is_copy, **fields)
            )
            self._count(family, sender, target, mode, outcome)
            if delivery == "failed":
                retried = event(
                    EventType.DELIVERY_RETRIED, hub_id, at=at + _ms(20), attempt=1, **fields
                )
                self.events.append(retried)
                self.events.append(
                    event(
                        EventType.DELIVERY_FAILED,
                        hub_id,
                        at=at + _ms(900),
                        attempt=2,
                        reason_code="X99",
                        **fields,
                    )
                )
                self._count(family, sender, target, mode, "delivery_retried")
                self._count(family, sender, target, mode, "delivery_failed")
            else:
                self.events.append(
                    event(EventType.DELIVERED, hub_id, at=at + _ms(12), attempt=1, **fields)
                )
                self._count(family, sender, target, mode, "delivered")
        if apprec is not None:
            self.apprec(msg_id, sender, receiver, apprec, at + timedelta(minutes=3))
        return hub_id

    def apprec(
        self,
        original_msg_id: str,
        original_sender: tuple[int, Category],
        original_receiver: tuple[int, Category],
        status: AppRecStatus,
        at: datetime,
    ) -> None:
        """The receiver's AppRec routed back to the original sender."""
        hub_id = uuid.uuid4()
        outcome = {"1": "apprec_ok", "2": "apprec_rejected", "3": "apprec_ok_error_in_part"}
        common: dict[str, Any] = {
            "family": Family.APPREC,
            "message_type": "APPREC",
            "sender": original_receiver,
            "receiver": original_sender,
            "mode": AddressingMode.ORGANISATION,
            "received_at": at,
            "msg_id": str(uuid.uuid4()),
        }
        self.events.append(accepted(hub_id, at, str(common["msg_id"])))
        self.events.append(
            event(
                EventType.APPREC_ROUTED,
                hub_id,
                at=at + _ms(4),
                apprec_status=status,
                apprec_round_trip_ms=180_000,
                original_msg_id=original_msg_id,
                reason_code="E21" if status is AppRecStatus.REJECTED else None,
                **common,
            )
        )
        self._count(
            Family.APPREC,
            original_receiver,
            original_sender,
            AddressingMode.ORGANISATION,
            outcome[status.value],
        )

    def _count(
        self,
        family: Family,
        sender: tuple[int, Category],
        receiver: tuple[int, Category],
        mode: AddressingMode,
        outcome: str,
    ) -> None:
        self.outcomes[(family.value, outcome)] += 1
        self.pairs[(family.value, sender[1].value, receiver[1].value, mode.value, outcome)] += 1


def _ms(milliseconds: int) -> timedelta:
    return timedelta(milliseconds=milliseconds)


def known_scenario() -> Scenario:
    """All families, copies, rejects, duplicates, delivery failures and AppRec round trips."""
    s = Scenario()
    hf, kommune, fastlege = (1001, HF), (2001, KOMMUNE), (3001, FASTLEGE)
    other_kommune = (2002, KOMMUNE)
    apotek, rf = (4001, APOTEK), (9001, RF)
    service, person, org = (
        AddressingMode.SERVICE,
        AddressingMode.PERSON,
        AddressingMode.ORGANISATION,
    )
    for _ in range(6):
        s.message(Family.PLO, "INNLEGGELSESRAPPORT", hf, kommune, service, apprec=AppRecStatus.OK)
    for _ in range(2):
        s.message(Family.PLO, "UTSKRIVNINGSRAPPORT", kommune, hf, org)
    first = ""
    for index in range(4):
        hub_id = s.message(
            Family.DIALOG, "DIALOG_FORESPORSEL", kommune, fastlege, person, copies=(other_kommune,)
        )
        if index == 0:
            first = next(m for m, h in s.msg_ids.items() if h == hub_id)
    s.message(Family.DIALOG, "DIALOG_FORESPORSEL", kommune, fastlege, person, duplicate_of=first)
    s.message(Family.DIALOG, "DIALOG_SVAR", fastlege, kommune, org, apprec=AppRecStatus.REJECTED)
    s.message(Family.BASIS, "HENVISNING", fastlege, hf, org, rejected="T02")
    s.message(Family.BASIS, "HENVISNING", fastlege, hf, org, rejected="E21")
    s.message(Family.BASIS, "EPIKRISE", hf, fastlege, person, delivery="failed")
    partial = AppRecStatus.OK_ERROR_IN_MESSAGE_PART
    s.message(Family.BASIS, "SVAR_LAB", hf, fastlege, person, apprec=partial)
    for prescriber in (fastlege, fastlege, hf, (3002, FASTLEGE)):
        s.message(Family.ERESEPT, "ERM1", prescriber, rf, org)
    for _ in range(3):
        s.message(Family.ERESEPT, "ERM10", apotek, rf, org)
    unknown_party = (6001, Category.UKJENT)
    annet = (5001, Category.ANNET)
    s.message(Family.OTHER, "UNKNOWN", annet, unknown_party, AddressingMode.NONE, rejected="T10")
    return s
