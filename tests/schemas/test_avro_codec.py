"""The Avro codec: framing pinned byte for byte, fingerprints per the spec, errors, evolution."""

import json
import struct
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from schemas.avro_codec import (
    AVRO_DIR,
    AvroCodec,
    AvroSchema,
    InMemorySchemaRegistry,
    canonical_form,
    fingerprint64,
)
from schemas.avro_errors import (
    AvroDecodeError,
    AvroEncodeError,
    AvroSchemaError,
    BadMagicError,
    CorruptRecordError,
    IncompatibleSchemaError,
    RecordTypeMismatchError,
    TruncatedRecordError,
    UnknownSchemaError,
)

# --- the spec's algorithms, written out here independently of the codec -----------------------

_EMPTY = 0xC15D213AA4D7A795
_MASK = (1 << 64) - 1


def _rabin_table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp & _MASK)
    return table


_TABLE = _rabin_table()


def rabin64(data: bytes) -> int:
    """CRC-64-AVRO as the Avro specification gives it (schema fingerprints section)."""
    fp = _EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp


def zigzag(n: int) -> bytes:
    """Avro's variable-length zig-zag encoding of an int or long."""
    value = (n << 1) ^ (n >> 63)
    out = bytearray()
    while value & ~0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def avro_string(text: str) -> bytes:
    raw = text.encode()
    return zigzag(len(raw)) + raw


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    return AvroCodec.from_directory()


def delivery_value(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "hub_message_id": UUID("0f8fad5b-d9cb-469f-a165-70867728950e"),
        "msg_id": "MSG-1",
        "receiver_her_id": 8094,
        "endpoint_kind": "amqp",
        "outcome": "retried",
        "attempt": 2,
        "reason": "timeout",
        "occurred_at": datetime(2024, 3, 1, 12, 0, 0, 123000, tzinfo=UTC),
        "next_attempt_at": None,
    }
    value.update(changes)
    return value


def avsc(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((AVRO_DIR / f"{name}.avsc").read_text())
    return loaded


def with_added_field(schema: dict[str, Any], field: dict[str, Any]) -> dict[str, Any]:
    newer: dict[str, Any] = json.loads(json.dumps(schema))
    newer["fields"].append(field)
    return newer


# --- fingerprints and canonical form ----------------------------------------------------------


def test_the_spec_algorithm_here_matches_the_specs_published_fingerprints() -> None:
    # Values from the Avro project's schema test data (parsing fingerprints of primitives).
    assert struct.unpack("<q", rabin64(b'"int"').to_bytes(8, "little"))[0] == 8247732601305521295
    assert struct.unpack("<q", rabin64(b'"null"').to_bytes(8, "little"))[0] == 7195948357588979594


def test_canonical_form_follows_the_spec_rules() -> None:
    probe = {
        "type": "record",
        "name": "Probe",
        "namespace": "no.meldingshub.test",
        "doc": "dropped",
        "fields": [
            {"name": "id", "type": {"type": "string", "logicalType": "uuid"}, "doc": "dropped"},
            {
                "name": "kind",
                "type": {"type": "enum", "name": "Kind", "symbols": ["a", "b"], "default": "a"},
            },
            {"name": "again", "type": "Kind"},
            {
                "name": "at",
                "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}],
                "default": None,
            },
        ],
    }
    expected = (
        '{"name":"no.meldingshub.test.Probe","type":"record","fields":['
        '{"name":"id","type":"string"},'
        '{"name":"kind","type":{"name":"no.meldingshub.test.Kind","type":"enum",'
        '"symbols":["a","b"]}},'
        '{"name":"again","type":"no.meldingshub.test.Kind"},'
        '{"name":"at","type":["null","long"]}]}'
    )
    assert canonical_form(probe) == expected
    assert fingerprint64(expected) == rabin64(expected.encode()).to_bytes(8, "little")


def test_every_schema_fingerprint_is_the_spec_crc64_of_its_canonical_form(
    codec: AvroCodec,
) -> None:
    for name in codec.names:
        schema = codec.schema(name)
        expected = rabin64(schema.canonical_form.encode()).to_bytes(8, "little")
        assert schema.fingerprint == expected, name
        assert schema.single_object_header == b"\xc3\x01" + expected
        assert schema.fingerprint_int == rabin64(schema.canonical_form.encode())


# Every fingerprint ever written to a topic must stay readable. When you change an .avsc on
# purpose: copy the previous version to schemas/avro/history/<Name>.<n>.avsc and add the new
# fingerprint here (never remove one).
RELEASED_FINGERPRINTS = {
    "no.meldingshub.DeliveryStatus": ["c5212e5745db76c8"],
    "no.meldingshub.InboundMessage": ["3b0d5678e5ebf896", "0a6a2a1f64383628"],
    "no.meldingshub.MessageEvent": ["6b06bbe26c4edb57", "e31afb0391abf6e6"],
    "no.meldingshub.RejectedMessage": [
        "3a26c8abdb9a4d72",
        "56e6e830e988bb27",
        "6650c48e9549f44a",
    ],
    "no.meldingshub.RoutedMessage": ["5a3aaba31399918c", "974ae77e9f30cdbf"],
}


def test_released_fingerprints_stay_readable(codec: AvroCodec) -> None:
    for name, fingerprints in RELEASED_FINGERPRINTS.items():
        assert codec.schema(name).fingerprint.hex() == fingerprints[-1], (
            f"{name} changed: keep the old version in schemas/avro/history and pin the new one"
        )
        for fingerprint in fingerprints:
            header = b"\xc3\x01" + bytes.fromhex(fingerprint)
            assert codec.writer_schema(header).name == name


# --- golden bytes -----------------------------------------------------------------------------

GOLDEN_DELIVERY_STATUS = bytes.fromhex(
    "c301c5212e5745db76c8"  # magic, fingerprint (little-endian)
    "48"
    + b"0f8fad5b-d9cb-469f-a165-70867728950e".hex()  # hub_message_id
    + "020a"
    + b"MSG-1".hex()  # msg_id: union branch 1, string
    + "bc7e"  # receiver_her_id 8094
    + "08"
    + b"amqp".hex()  # endpoint_kind
    + "04"  # outcome: symbol 2 (retried)
    + "04"  # attempt 2
    + "020e"
    + b"timeout".hex()  # reason: union branch 1, string
    + "f6c9959ebf63"  # occurred_at 2024-03-01T12:00:00.123Z in milliseconds
    + "00"  # next_attempt_at: null
)


def test_single_object_frame_is_byte_exact(codec: AvroCodec) -> None:
    data = codec.encode("DeliveryStatus", delivery_value())
    assert data == GOLDEN_DELIVERY_STATUS


def test_golden_frame_is_what_the_spec_says(codec: AvroCodec) -> None:
    pcf = codec.schema("no.meldingshub.DeliveryStatus").canonical_form
    millis = ((19783 * 86400 + 12 * 3600) * 1000) + 123  # 2024-03-01 is day 19783 of the epoch
    body = (
        avro_string("0f8fad5b-d9cb-469f-a165-70867728950e")
        + zigzag(1)
        + avro_string("MSG-1")
        + zigzag(8094)
        + avro_string("amqp")
        + zigzag(2)
        + zigzag(2)
        + zigzag(1)
        + avro_string("timeout")
        + zigzag(millis)
        + zigzag(0)
    )
    header = b"\xc3\x01" + rabin64(pcf.encode()).to_bytes(8, "little")
    assert header + body == GOLDEN_DELIVERY_STATUS


def test_decode_of_golden_frame(codec: AvroCodec) -> None:
    assert codec.decode(GOLDEN_DELIVERY_STATUS, "DeliveryStatus") == delivery_value()


# --- loading ----------------------------------------------------------------------------------


def test_codec_loads_every_avsc_file_in_the_directory(codec: AvroCodec) -> None:
    declared = {
        f"{raw.get('namespace', '')}.{raw['name']}".lstrip(".")
        for raw in (json.loads(p.read_text()) for p in AVRO_DIR.glob("*.avsc"))
    }
    assert set(codec.names) == declared
    assert {
        "no.meldingshub.InboundMessage",
        "no.meldingshub.RoutedMessage",
        "no.meldingshub.RejectedMessage",
        "no.meldingshub.MessageEvent",
        "no.meldingshub.DeliveryStatus",
    } <= declared


def test_short_and_full_names_select_the_same_schema(codec: AvroCodec) -> None:
    assert codec.schema("RoutedMessage") is codec.schema("no.meldingshub.RoutedMessage")
    with pytest.raises(KeyError, match="is not known"):
        codec.schema("NoSuchRecord")


def test_an_ambiguous_short_name_asks_for_the_full_name() -> None:
    def probe(namespace: str) -> AvroSchema:
        return AvroSchema.parse(
            {"type": "record", "name": "Probe", "namespace": namespace, "fields": []}
        )

    codec = AvroCodec([probe("no.a"), probe("no.b")])
    with pytest.raises(KeyError, match="ambiguous"):
        codec.schema("Probe")
    assert codec.decode(codec.encode("no.b.Probe", {}), "no.b.Probe") == {}


def test_a_broken_avsc_file_is_named_in_the_error(tmp_path: Path) -> None:
    (tmp_path / "Broken.avsc").write_text('{"type": "record", "name": "Broken", "fields": [')
    with pytest.raises(AvroSchemaError, match=r"Broken\.avsc"):
        AvroCodec.from_directory(tmp_path)
    (tmp_path / "Broken.avsc").write_text('{"type": "record", "name": "B", "fields": [{}]}')
    with pytest.raises(AvroSchemaError, match=r"Broken\.avsc"):
        AvroCodec.from_directory(tmp_path)


def test_a_name_defined_twice_is_refused() -> None:
    schema = AvroSchema.parse(avsc("DeliveryStatus"))
    with pytest.raises(AvroSchemaError, match="defined twice"):
        AvroCodec([schema, schema])


# --- decoding errors keep the raw bytes -------------------------------------------------------


def test_every_truncation_is_a_truncated_record_error_that_keeps_the_bytes(
    codec: AvroCodec,
) -> None:
    for cut in range(len(GOLDEN_DELIVERY_STATUS)):
        data = GOLDEN_DELIVERY_STATUS[:cut]
        with pytest.raises(TruncatedRecordError) as caught:
            codec.decode(data)
        assert caught.value.raw == data


def test_unknown_fingerprint_keeps_the_bytes(codec: AvroCodec) -> None:
    data = b"\xc3\x01" + bytes(8) + GOLDEN_DELIVERY_STATUS[10:]
    with pytest.raises(UnknownSchemaError) as caught:
        codec.decode(data)
    assert caught.value.raw == data
    assert caught.value.fingerprint == 0
    assert "0000000000000000" in str(caught.value)


@pytest.mark.parametrize(
    "data",
    [
        b"\x00" + GOLDEN_DELIVERY_STATUS[1:],  # the Confluent magic byte
        b"<?xml version='1.0'?><MsgHead/>",  # raw XML where Avro was expected
        b"\xc3\x02" + GOLDEN_DELIVERY_STATUS[2:],  # wrong format version
        b"\x01",
    ],
)
def test_bad_magic_keeps_the_bytes(codec: AvroCodec, data: bytes) -> None:
    with pytest.raises(BadMagicError) as caught:
        codec.decode(data)
    assert caught.value.raw == data
    assert isinstance(caught.value, AvroDecodeError)


def test_trailing_bytes_are_corruption(codec: AvroCodec) -> None:
    data = GOLDEN_DELIVERY_STATUS + b"\x00"
    with pytest.raises(CorruptRecordError, match="1 trailing bytes") as caught:
        codec.decode(data)
    assert caught.value.raw == data


def test_a_bad_enum_index_is_corruption(codec: AvroCodec) -> None:
    outcome_at = GOLDEN_DELIVERY_STATUS.index(b"amqp") + 4
    data = bytearray(GOLDEN_DELIVERY_STATUS)
    data[outcome_at] = 0x7E  # symbol 63: no such outcome
    with pytest.raises(CorruptRecordError) as caught:
        codec.decode(bytes(data))
    assert caught.value.raw == bytes(data)


def test_a_record_of_another_type_is_refused(codec: AvroCodec) -> None:
    with pytest.raises(RecordTypeMismatchError, match="DeliveryStatus") as caught:
        codec.decode(GOLDEN_DELIVERY_STATUS, "MessageEvent")
    assert caught.value.raw == GOLDEN_DELIVERY_STATUS


def test_errors_never_show_the_payload(codec: AvroCodec) -> None:
    secret = "Kari Nordmann 01017012345"
    data = codec.encode("DeliveryStatus", delivery_value(reason=secret))
    for broken in (data[:-3], data + b"\x00", b"\x00" + data[1:]):
        with pytest.raises(AvroDecodeError) as caught:
            codec.decode(broken)
        assert secret not in str(caught.value)
        assert secret not in repr(caught.value)


def test_a_value_that_does_not_fit_is_an_encode_error(codec: AvroCodec) -> None:
    with pytest.raises(AvroEncodeError, match="DeliveryStatus"):
        codec.encode("DeliveryStatus", delivery_value(attempt="two"))
    with pytest.raises(AvroEncodeError):
        codec.encode("DeliveryStatus", delivery_value(outcome="lost"))


# --- evolution --------------------------------------------------------------------------------


def test_a_newer_reader_reads_data_written_with_the_old_schema() -> None:
    old = AvroSchema.parse(avsc("DeliveryStatus"))
    newer = AvroSchema.parse(
        with_added_field(
            avsc("DeliveryStatus"),
            {"name": "endpoint_region", "type": "string", "default": "unknown"},
        )
    )
    assert newer.fingerprint != old.fingerprint
    old_data = AvroCodec([old]).encode("DeliveryStatus", delivery_value())

    without_history = AvroCodec([newer])
    with pytest.raises(UnknownSchemaError):
        without_history.decode(old_data)

    reader = AvroCodec([newer], writer_schemas=[old])
    value = reader.decode(old_data, "DeliveryStatus")
    assert value == {**delivery_value(), "endpoint_region": "unknown"}
    assert reader.writer_schema(old_data) == old


def test_history_directory_holds_the_old_writers(tmp_path: Path) -> None:
    old_data = AvroCodec.from_directory().encode("DeliveryStatus", delivery_value())
    newer = with_added_field(
        avsc("DeliveryStatus"), {"name": "note", "type": ["null", "string"], "default": None}
    )
    (tmp_path / "DeliveryStatus.avsc").write_text(json.dumps(newer))
    (tmp_path / "history").mkdir()
    (tmp_path / "history" / "DeliveryStatus.1.avsc").write_text(
        (AVRO_DIR / "DeliveryStatus.avsc").read_text()
    )
    value = AvroCodec.from_directory(tmp_path).decode(old_data, "DeliveryStatus")
    assert value["note"] is None
    assert value["attempt"] == 2


def test_an_old_reader_maps_an_unknown_family_to_its_default() -> None:
    newer = avsc("RejectedMessage")
    family = next(f for f in newer["fields"] if f["name"] == "family")["type"][1]
    family["symbols"] = [*family["symbols"], "kjernejournal"]
    writer = AvroSchema.parse(newer)
    value = rejected_value(family="kjernejournal")
    data = AvroCodec([writer]).encode("RejectedMessage", value)
    current = AvroCodec.from_directory()
    current.add_writer_schema(writer)
    assert current.decode(data)["family"] == "other"


def test_an_incompatible_writer_is_named_and_keeps_the_bytes() -> None:
    old = AvroSchema.parse(avsc("DeliveryStatus"))
    newer = AvroSchema.parse(
        with_added_field(avsc("DeliveryStatus"), {"name": "required_now", "type": "long"})
    )
    data = AvroCodec([old]).encode("DeliveryStatus", delivery_value())
    with pytest.raises(IncompatibleSchemaError, match="required_now") as caught:
        AvroCodec([newer], writer_schemas=[old]).decode(data)
    assert caught.value.raw == data


def rejected_value(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "hub_message_id": UUID(int=1),
        "msg_id": None,
        "code": "T01",
        "reason": "not well-formed",
        "stage": "router",
        "family": "plo",
        "message_type": None,
        "sender_her_id": None,
        "rejected_at": datetime(2024, 3, 1, tzinfo=UTC),
        "ingress": {
            "hub_message_id": UUID(int=1),
            "adapter": "http",
            "principal": None,
            "received_at": datetime(2024, 3, 1, tzinfo=UTC),
            "transport_message_id": None,
            "content_type": None,
            "size_bytes": 3,
            "replay_of": None,
        },
        "payload": b"<x>",
    }
    value.update(changes)
    return value


# --- Confluent wire format --------------------------------------------------------------------


@pytest.fixture
def registry() -> InMemorySchemaRegistry:
    return InMemorySchemaRegistry(first_id=41)


def test_confluent_frame_is_magic_zero_and_big_endian_id(
    codec: AvroCodec, registry: InMemorySchemaRegistry
) -> None:
    confluent = AvroCodec.from_directory(wire_format="confluent", registry=registry)
    registry.register("other-subject", json.dumps(avsc("InboundMessage")))  # takes id 41
    data = confluent.encode("DeliveryStatus", delivery_value())
    assert data[:5] == b"\x00\x00\x00\x00\x2a"
    assert registry.versions("no.meldingshub.DeliveryStatus") == (42,)
    assert data[5:] == GOLDEN_DELIVERY_STATUS[10:]
    assert confluent.decode(data, "DeliveryStatus") == delivery_value()


def test_confluent_reader_checks_the_magic_byte(registry: InMemorySchemaRegistry) -> None:
    confluent = AvroCodec.from_directory(wire_format="confluent", registry=registry)
    with pytest.raises(BadMagicError, match="confluent magic") as caught:
        confluent.decode(GOLDEN_DELIVERY_STATUS)
    assert caught.value.raw == GOLDEN_DELIVERY_STATUS
    for data in (b"", b"\x00\x00\x00"):
        with pytest.raises(TruncatedRecordError):
            confluent.decode(data)


def test_confluent_unknown_id_keeps_the_bytes(registry: InMemorySchemaRegistry) -> None:
    confluent = AvroCodec.from_directory(wire_format="confluent", registry=registry)
    data = b"\x00\x00\x00\x03\xe7" + GOLDEN_DELIVERY_STATUS[10:]
    with pytest.raises(UnknownSchemaError, match="999") as caught:
        confluent.decode(data)
    assert caught.value.schema_id == 999
    assert caught.value.raw == data


def test_confluent_reader_resolves_an_old_writer_from_the_registry(
    registry: InMemorySchemaRegistry,
) -> None:
    old_writer = AvroCodec.from_directory(wire_format="confluent", registry=registry)
    data = old_writer.encode("DeliveryStatus", delivery_value())
    newer = AvroSchema.parse(
        with_added_field(avsc("DeliveryStatus"), {"name": "tier", "type": "int", "default": 0})
    )
    reader = AvroCodec([newer], wire_format="confluent", registry=registry)
    assert reader.decode(data) == {**delivery_value(), "tier": 0}
    assert registry.register("x", json.dumps(avsc("DeliveryStatus"))) == 41


# --- the .avsc files themselves ---------------------------------------------------------------


def named_types(node: Any) -> Iterator[dict[str, Any]]:
    """Every inline named type (record, enum, fixed) of a schema, depth first."""
    if isinstance(node, list):
        for item in node:
            yield from named_types(item)
    elif isinstance(node, dict):
        if node.get("type") in ("record", "enum", "fixed"):
            yield node
        for key in ("type", "fields", "items", "values"):
            if key in node and not isinstance(node[key], str):
                yield from named_types(node[key])


def test_types_defined_in_several_files_are_identical() -> None:
    """Each file is self-contained, so shared types are repeated; they must not drift apart."""
    seen: dict[str, tuple[str, str]] = {}
    for path in sorted(AVRO_DIR.glob("*.avsc")):
        raw = json.loads(path.read_text())
        default_ns = raw.get("namespace", "")
        for node in named_types(raw):
            full = (
                node["name"]
                if "." in node["name"]
                else f"{node.get('namespace', default_ns)}.{node['name']}"
            )
            form = canonical_form({**node, "name": full})
            if full in seen:
                assert form == seen[full][1], (
                    f"{full} differs between {seen[full][0]} and {path.name}"
                )
            else:
                seen[full] = (path.name, form)
    assert "no.meldingshub.InboundMessage" in seen
    assert "no.meldingshub.Family" in seen


def test_every_field_is_documented() -> None:
    for name in (
        "InboundMessage",
        "RoutedMessage",
        "RejectedMessage",
        "MessageEvent",
        "DeliveryStatus",
    ):
        for node in named_types(avsc(name)):
            assert node.get("doc"), f"{name}: {node['name']} has no doc"
            for field in node.get("fields", []):
                assert field.get("doc"), f"{name}.{field['name']} has no doc"
