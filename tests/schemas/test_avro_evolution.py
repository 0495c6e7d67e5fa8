"""The Avro codec over time: schema evolution, the Confluent wire format and the .avsc files."""

import json
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
)
from schemas.avro_errors import (
    BadMagicError,
    IncompatibleSchemaError,
    TruncatedRecordError,
    UnknownSchemaError,
)
from tests.schemas.avro_values import (
    GOLDEN_DELIVERY_STATUS,
    avsc,
    delivery_value,
    with_added_field,
)


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    return AvroCodec.from_directory()


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
