"""The one event factory: the dead letters and events every stage writes (no broker)."""

from datetime import UTC, datetime
from uuid import UUID

from routing.events import ingress_refusal, internal_error, unreadable_record
from schemas.records import InboundMessage, RejectedMessage, RejectStage, decode, encode
from schemas.vocabulary import AddressingMode, AppRecErrorCode, Category, EventType, Family

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
INBOUND = InboundMessage(
    hub_message_id=UUID("6f1c2a4e-0b7d-4c55-9a51-3a0c1f6b9e21"),
    adapter="http",
    principal="her-8100001",
    received_at=NOW,
    size_bytes=5,
)


def test_an_internal_error_is_a_replayable_dead_letter_and_a_rejected_event() -> None:
    rejected, event = internal_error(
        INBOUND, AppRecErrorCode.X99, "internal error (KeyError)", b"<x/>", NOW
    )
    assert (rejected.stage, rejected.code, rejected.payload) == (
        RejectStage.ROUTER,
        AppRecErrorCode.X99,
        b"<x/>",
    )
    assert rejected.hub_message_id == event.hub_message_id == INBOUND.hub_message_id
    assert event.event_type is EventType.REJECTED
    assert (event.family, event.message_type, event.addressing_mode) == (
        Family.OTHER,
        "UNKNOWN",
        AddressingMode.NONE,
    )
    assert (event.sender_category, event.receiver_category) == (Category.UKJENT, Category.UKJENT)
    assert (event.reason_code, event.principal, event.size_bytes) == ("X99", "her-8100001", 5)
    again = internal_error(INBOUND, AppRecErrorCode.X99, "internal error (KeyError)", b"<x/>", NOW)
    assert again[1].event_id == event.event_id  # a redone batch writes the same event


def test_an_ingress_refusal_keeps_the_bytes_for_a_look() -> None:
    rejected = ingress_refusal(INBOUND, AppRecErrorCode.T01, "not XML", b"\x00garbage", NOW)
    assert decode(encode(rejected), RejectedMessage) == rejected
    assert (rejected.stage, rejected.code, rejected.payload) == (
        RejectStage.INGRESS,
        AppRecErrorCode.T01,
        b"\x00garbage",
    )


def test_an_unreadable_record_is_named_by_its_position_and_keeps_its_bytes() -> None:
    first = unreadable_record("hub.outbound/3/1207", b"\x01\x02", "undecodable " + "x" * 300, NOW)
    again = unreadable_record("hub.outbound/3/1207", b"\x01\x02", "undecodable", NOW)
    other = unreadable_record("hub.outbound/3/1208", b"\x01\x02", "undecodable", NOW)
    assert first.hub_message_id == again.hub_message_id != other.hub_message_id
    assert first.ingress.transport_message_id == "hub.outbound/3/1207"
    assert (first.stage, first.payload, first.routed) == (
        RejectStage.DELIVERY,
        b"\x01\x02",
        b"\x01\x02",
    )
    assert len(first.reason) == 200
