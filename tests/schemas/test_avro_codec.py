"""The Avro codec: framing pinned byte for byte, fingerprints per the spec, loading, errors.

Evolution, the Confluent wire format and the .avsc files: ``test_avro_evolution.py``."""

import json
import struct
from pathlib import Path

import pytest

from schemas.avro_codec import (
    AVRO_DIR,
    AvroCodec,
    AvroSchema,
    canonical_form,
    fingerprint64,
)
from schemas.avro_errors import (
    AvroDecodeError,
    AvroEncodeError,
    AvroSchemaError,
    BadMagicError,
    CorruptRecordError,
    RecordTypeMismatchError,
    TruncatedRecordError,
    UnknownSchemaError,
)
from tests.schemas.avro_values import GOLDEN_DELIVERY_STATUS, avsc, delivery_value

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
    "no.meldingshub.MessageEvent": ["6b06bbe26c4edb57", "e31afb0391abf6e6", "f60093da63aeb026"],
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
