"""The typed records: round trips, enum sets equal to the vocabulary, no payload in events."""

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

import pytest

from schemas.avro_codec import AVRO_DIR, AvroCodec, InMemorySchemaRegistry
from schemas.avro_errors import AvroEncodeError, RecordTypeMismatchError
from schemas.records import (
    INBOUND_HEADER,
    RECORD_TYPES,
    UNKNOWN_MESSAGE_TYPE,
    AvroRecord,
    DeliveryOutcome,
    DeliveryStatus,
    InboundMessage,
    MessageEvent,
    RejectedMessage,
    RejectStage,
    RoutedMessage,
    decode,
    default_codec,
    encode,
)
from schemas.vocabulary import (
    AddressingMode,
    AppRecErrorCode,
    AppRecStatus,
    Category,
    EventType,
    Family,
)

RECEIVED = datetime(2024, 5, 2, 8, 30, 1, 250000, tzinfo=UTC)
PAYLOAD = b"<?xml version='1.0' encoding='ISO-8859-1'?><MsgHead>\xe6\xf8\xe5</MsgHead>"


def inbound(**changes: Any) -> InboundMessage:
    values: dict[str, Any] = {
        "hub_message_id": UUID("5b1e4c35-2a7e-4d5e-9a3c-0d2f6a4e8b11"),
        "adapter": "amqp",
        "received_at": RECEIVED,
        "size_bytes": len(PAYLOAD),
        "principal": "epj-trondheim",
        "transport_message_id": "amqp:7781",
        "content_type": "application/xml",
        "replay_of": UUID(int=7),
    }
    values.update(changes)
    return InboundMessage(**values)


def routed(**changes: Any) -> RoutedMessage:
    values: dict[str, Any] = {
        "hub_message_id": inbound().hub_message_id,
        "msg_id": "0d6b8c3e-8f0a-4b87-9a53-2c0f7b6e1a44",
        "family": Family.PLO,
        "message_type": "PLO_HELSEOPPLYSNINGER",
        "message_version": "2.0",
        "sender_her_id": 80001,
        "sender_party_her_id": 80002,
        "receiver_her_id": 90003,
        "receiver_organisation_her_id": 90001,
        "addressed_her_id": 90002,
        "sender_category": Category.KOMMUNE,
        "receiver_category": Category.FASTLEGE,
        "addressing_mode": AddressingMode.SERVICE,
        "is_copy": True,
        "ack_requested": True,
        "apprec_version": "1.1",
        "ingress": inbound(),
        "routed_at": RECEIVED + timedelta(milliseconds=4),
        "size_bytes": len(PAYLOAD),
        "attachment_count": 2,
        "payload": PAYLOAD,
    }
    values.update(changes)
    return RoutedMessage(**values)


def rejected(**changes: Any) -> RejectedMessage:
    values: dict[str, Any] = {
        "hub_message_id": inbound().hub_message_id,
        "msg_id": "not-a-uuid",
        "code": AppRecErrorCode.E10,
        "reason": "MsgHead/MsgInfo/MsgId: not a UUID",
        "stage": RejectStage.ROUTER,
        "family": Family.DIALOG,
        "message_type": "DIALOG_NOTAT",
        "sender_her_id": 80001,
        "rejected_at": RECEIVED + timedelta(milliseconds=3),
        "ingress": inbound(),
        "payload": PAYLOAD,
    }
    values.update(changes)
    return RejectedMessage(**values)


def event(**changes: Any) -> MessageEvent:
    values: dict[str, Any] = {
        "event_id": UUID("9c2f1b7e-6d4a-4e3b-8f1c-2a5d7e9b0c33"),
        "event_type": EventType.APPREC_ROUTED,
        "occurred_at": RECEIVED + timedelta(milliseconds=9),
        "hub_message_id": inbound().hub_message_id,
        "msg_id": "0d6b8c3e-8f0a-4b87-9a53-2c0f7b6e1a44",
        "family": Family.APPREC,
        "message_type": "APPREC",
        "message_version": "1.0",
        "sender_her_id": 90001,
        "receiver_her_id": 80001,
        "sender_category": Category.FASTLEGE,
        "receiver_category": Category.KOMMUNE,
        "addressing_mode": AddressingMode.ORGANISATION,
        "is_copy": False,
        "reason_code": "E21",
        "reason": "receiver does not exist",
        "adapter": "http",
        "principal": "legekontor-7",
        "received_at": RECEIVED,
        "size_bytes": 812,
        "apprec_status": AppRecStatus.REJECTED,
        "apprec_round_trip_ms": 1250,
        "original_msg_id": "3a7f0c2e-1b4d-4c6e-8a9f-5d2b7c1e0f88",
        "endpoint_kind": "amqp",
        "attempt": 1,
    }
    values.update(changes)
    return MessageEvent(**values)


def delivery(**changes: Any) -> DeliveryStatus:
    values: dict[str, Any] = {
        "hub_message_id": inbound().hub_message_id,
        "msg_id": "0d6b8c3e-8f0a-4b87-9a53-2c0f7b6e1a44",
        "receiver_her_id": 90003,
        "endpoint_kind": "webhook",
        "outcome": DeliveryOutcome.RETRIED,
        "attempt": 3,
        "reason": "http 503",
        "occurred_at": RECEIVED + timedelta(seconds=1),
        "next_attempt_at": RECEIVED + timedelta(seconds=31),
    }
    values.update(changes)
    return DeliveryStatus(**values)


FULL_RECORDS: list[Any] = [inbound(), routed(), rejected(), event(), delivery()]
MINIMAL_RECORDS: list[Any] = [
    InboundMessage(hub_message_id=uuid4(), adapter="file", received_at=RECEIVED, size_bytes=0),
    RoutedMessage(
        hub_message_id=uuid4(),
        family=Family.OTHER,
        message_type="X",
        receiver_her_id=1,
        sender_category=Category.ANNET,
        receiver_category=Category.UKJENT,
        addressing_mode=AddressingMode.NONE,
        ingress=inbound(principal=None, transport_message_id=None, content_type=None),
        routed_at=RECEIVED,
        size_bytes=0,
        payload=b"",
    ),
    rejected(msg_id=None, family=None, message_type=None, sender_her_id=None),
    MessageEvent(
        event_id=uuid4(),
        event_type=EventType.REJECTED,
        occurred_at=RECEIVED,
        hub_message_id=uuid4(),
        family=Family.OTHER,
        message_type=UNKNOWN_MESSAGE_TYPE,
        sender_category=Category.UKJENT,
        receiver_category=Category.UKJENT,
        addressing_mode=AddressingMode.NONE,
        adapter="kafka",
        received_at=RECEIVED,
        size_bytes=0,
    ),
    delivery(msg_id=None, reason=None, next_attempt_at=None, outcome=DeliveryOutcome.DELIVERED),
]


def avsc(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((AVRO_DIR / f"{name}.avsc").read_text())
    return loaded


@pytest.mark.parametrize("record", FULL_RECORDS + MINIMAL_RECORDS, ids=lambda r: type(r).__name__)
def test_round_trip(record: AvroRecord) -> None:
    data = encode(record)
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == default_codec().schema(record.AVRO_NAME).fingerprint
    assert decode(data, type(record)) == record


@pytest.mark.parametrize("record", FULL_RECORDS, ids=lambda r: type(r).__name__)
def test_round_trip_in_confluent_format(record: AvroRecord) -> None:
    codec = AvroCodec.from_directory(wire_format="confluent", registry=InMemorySchemaRegistry())
    data = encode(record, codec)
    assert data[0] == 0
    assert decode(data, type(record), codec) == record


def test_decoded_values_have_the_vocabulary_types() -> None:
    back = decode(encode(event()), MessageEvent)
    assert type(back.family) is Family
    assert type(back.sender_category) is Category
    assert type(back.addressing_mode) is AddressingMode
    assert type(back.event_type) is EventType
    assert type(back.apprec_status) is AppRecStatus
    assert isinstance(back.hub_message_id, UUID)
    assert back.occurred_at.tzinfo is not None
    assert type(decode(encode(rejected()), RejectedMessage).code) is AppRecErrorCode


def test_timestamps_keep_the_instant_and_come_back_in_utc() -> None:
    oslo = timezone(timedelta(hours=2))
    local = datetime(2024, 5, 2, 10, 30, 1, 250000, tzinfo=oslo)
    back = decode(encode(inbound(received_at=local)), InboundMessage)
    assert back.received_at == RECEIVED
    assert back.received_at.utcoffset() == timedelta(0)


def test_timestamps_are_carried_at_millisecond_precision() -> None:
    precise = RECEIVED + timedelta(microseconds=789)
    back = decode(encode(inbound(received_at=precise)), InboundMessage)
    assert back.received_at == RECEIVED


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(AvroEncodeError, match="received_at must be a timezone-aware"):
        encode(inbound(received_at=datetime(2024, 5, 2, 8, 30)))
    with pytest.raises(AvroEncodeError, match="next_attempt_at"):
        encode(delivery(next_attempt_at=datetime(2024, 5, 2, 8, 30)))


def test_decode_refuses_another_record_type() -> None:
    with pytest.raises(RecordTypeMismatchError, match="RoutedMessage"):
        decode(encode(routed()), RejectedMessage)


def test_inbound_metadata_travels_as_a_header_value() -> None:
    headers = [(INBOUND_HEADER, encode(inbound()))]
    assert decode(dict(headers)[INBOUND_HEADER], InboundMessage) == inbound()


def test_records_match_their_schemas_field_for_field() -> None:
    assert {t.AVRO_NAME for t in RECORD_TYPES} <= set(default_codec().names)
    for record in FULL_RECORDS:
        record_type = type(record)
        schema_fields = [f["name"] for f in avsc(record_type.__name__)["fields"]]
        assert sorted(f.name for f in dataclasses.fields(record)) == sorted(schema_fields)
        assert list(record.to_avro()) == schema_fields
        assert f"no.meldingshub.{record_type.__name__}" == record_type.AVRO_NAME


def test_a_message_event_cannot_carry_a_payload() -> None:
    with pytest.raises(TypeError, match="payload"):
        MessageEvent(**{**dataclasses.asdict(event()), "payload": PAYLOAD})
    with pytest.raises(AttributeError):
        object.__setattr__(event(), "payload", PAYLOAD)

    def binary_types(node: Any) -> list[Any]:
        if isinstance(node, list):
            return [t for item in node for t in binary_types(item)]
        if isinstance(node, dict):
            found = [node] if node.get("type") in ("bytes", "fixed") else []
            return found + [t for v in node.values() for t in binary_types(v)]
        return [node] if node in ("bytes", "fixed") else []

    assert binary_types(avsc("MessageEvent")) == []

    value = {**event().to_avro(), "payload": PAYLOAD}
    data = default_codec().encode("MessageEvent", value)
    assert PAYLOAD not in data
    assert "payload" not in default_codec().decode(data, "MessageEvent")


def test_repr_of_records_with_a_payload_shows_no_payload() -> None:
    secret = b"Kari Nordmann 01017012345"
    for record in (routed(payload=secret), rejected(payload=secret)):
        assert "Kari" not in repr(record)
        assert str(record.hub_message_id) in repr(record)


# The closed sets in the .avsc files are the vocabulary's; a test keeps them from drifting.
AVSC_ENUMS: dict[str, type[StrEnum]] = {
    "no.meldingshub.Family": Family,
    "no.meldingshub.Category": Category,
    "no.meldingshub.AddressingMode": AddressingMode,
    "no.meldingshub.EventType": EventType,
    "no.meldingshub.RejectStage": RejectStage,
    "no.meldingshub.DeliveryOutcome": DeliveryOutcome,
}


def enums_of(node: Any, namespace: str) -> list[tuple[str, list[str]]]:
    if isinstance(node, list):
        return [e for item in node for e in enums_of(item, namespace)]
    if not isinstance(node, dict):
        return []
    namespace = node.get("namespace", namespace)
    found = []
    if node.get("type") == "enum":
        name = node["name"] if "." in node["name"] else f"{namespace}.{node['name']}"
        found.append((name, node["symbols"]))
    for key in ("type", "fields", "items", "values"):
        if key in node:
            found += enums_of(node[key], namespace)
    return found


def test_avsc_enums_equal_the_python_enums() -> None:
    seen: set[str] = set()
    for path in sorted(AVRO_DIR.glob("*.avsc")):
        for name, symbols in enums_of(json.loads(path.read_text()), ""):
            if name in AVSC_ENUMS:
                seen.add(name)
                assert symbols == [m.value for m in AVSC_ENUMS[name]], f"{name} in {path.name}"
    assert seen == set(AVSC_ENUMS)


def test_enums_that_may_grow_have_the_safe_default() -> None:
    """An older reader maps a symbol it does not know to the default instead of failing."""
    defaults = {
        node["name"]: node.get("default")
        for node in (f["type"] for f in avsc("MessageEvent")["fields"])
        if isinstance(node, dict) and node.get("type") == "enum"
    }
    assert defaults == {
        "EventType": None,
        "Family": Family.OTHER.value,
        "Category": Category.UKJENT.value,
        "AddressingMode": AddressingMode.NONE.value,
    }
