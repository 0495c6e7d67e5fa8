"""Avro codec for the hub's Kafka values: schemas parsed once, framing checked on every read.

Every ``schemas/avro/*.avsc`` file is one self-contained named record (named
types it uses are defined inline). Each is parsed once with fastavro; its
Parsing Canonical Form and CRC-64-AVRO fingerprint are computed once.

Wire formats:

* ``single-object`` (default), the Avro spec's single-object encoding:
  ``C3 01`` + 8-byte little-endian CRC-64-AVRO fingerprint + binary body.
* ``confluent``: ``00`` + 4-byte big-endian schema-registry id + binary body.
  Ids come from a :class:`SchemaRegistry` (subject = the record's full name);
  :class:`InMemorySchemaRegistry` is the one implementation here.

Evolution: a reader finds the writer schema by fingerprint (or id) and resolves
it against the current schema of the same name. When you change an ``.avsc``,
keep the previous version as ``schemas/avro/history/<Name>.<n>.avsc`` so that
records already on a topic stay readable; new fields need a default.
"""

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, Final, Literal, Protocol, cast

from fastavro import schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from fastavro.schema import fingerprint as _fastavro_fingerprint
from fastavro.schema import parse_schema, to_parsing_canonical_form

from schemas.avro_errors import (
    AvroConfigError,
    AvroEncodeError,
    AvroSchemaError,
    BadMagicError,
    CorruptRecordError,
    IncompatibleSchemaError,
    RecordTypeMismatchError,
    TruncatedRecordError,
    UnknownSchemaError,
)

AVRO_DIR: Final = Path(__file__).parent / "avro"
"""The packaged ``.avsc`` files."""
HISTORY_DIRNAME: Final = "history"
"""Sub-directory of earlier schema versions, loaded as writer schemas only."""
NAMESPACE: Final = "no.meldingshub"
SINGLE_OBJECT_MAGIC: Final = b"\xc3\x01"
CONFLUENT_MAGIC: Final = b"\x00"
SINGLE_OBJECT_HEADER_SIZE: Final = 10
CONFLUENT_HEADER_SIZE: Final = 5

WireFormat = Literal["single-object", "confluent"]
AvroValue = dict[str, Any]
"""A decoded record as fastavro returns it (logical types already converted)."""


def canonical_form(schema: Mapping[str, Any]) -> str:
    """The Parsing Canonical Form of a schema (Avro spec), the text that fingerprints hash."""
    return to_parsing_canonical_form(dict(schema))


def fingerprint64(parsing_canonical_form: str) -> bytes:
    """The CRC-64-AVRO (Rabin) fingerprint of a canonical form, as 8 little-endian bytes.

    fastavro returns the fingerprint as hex of the little-endian byte order
    that single-object encoding writes; the golden tests check that against
    the spec's algorithm.
    """
    return bytes.fromhex(_fastavro_fingerprint(parsing_canonical_form, "CRC-64-AVRO"))


@dataclass(frozen=True, slots=True)
class AvroSchema:
    """One parsed schema with everything the codec derives from it once."""

    name: str
    """Full name, e.g. ``no.meldingshub.RoutedMessage``."""
    source: str
    """The schema as JSON text (with docs), as a registry would store it."""
    parsed: dict[str, Any]
    """fastavro's parsed form, handed to the reader and writer as is."""
    canonical_form: str
    fingerprint: bytes
    """CRC-64-AVRO of the canonical form, 8 bytes little-endian as on the wire."""

    @property
    def fingerprint_int(self) -> int:
        """The fingerprint as an unsigned 64-bit integer."""
        return int.from_bytes(self.fingerprint, "little")

    @property
    def single_object_header(self) -> bytes:
        """``C3 01`` + fingerprint: the first 10 bytes of every single-object record."""
        return SINGLE_OBJECT_MAGIC + self.fingerprint

    @classmethod
    def parse(cls, schema: Mapping[str, Any], origin: str = "schema") -> "AvroSchema":
        """Parse and fingerprint a top-level named record schema; ``origin`` names it in errors."""
        try:
            parsed = parse_schema(dict(schema), named_schemas={})
            pcf = canonical_form(schema)
        except Exception as exc:  # fastavro raises several types for bad schemas
            raise AvroSchemaError(f"{origin}: not a valid Avro schema: {exc}") from exc
        if not isinstance(parsed, dict) or parsed.get("type") != "record":
            raise AvroSchemaError(f"{origin}: the top level must be a named record")
        return cls(
            name=str(parsed["name"]),
            source=json.dumps(schema, ensure_ascii=False),
            parsed=parsed,
            canonical_form=pcf,
            fingerprint=fingerprint64(pcf),
        )


def load_schema_file(path: Path) -> AvroSchema:
    """Read and parse one ``.avsc`` file."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AvroSchemaError(f"{path.name}: cannot read the schema: {exc}") from exc
    if not isinstance(raw, dict):
        raise AvroSchemaError(f"{path.name}: the top level must be a named record")
    return AvroSchema.parse(raw, origin=path.name)


class SchemaRegistry(Protocol):
    """Where Confluent-framed records get their schema ids; a real client may call a network."""

    def register(self, subject: str, schema: str) -> int:
        """Register ``schema`` (JSON text) under ``subject``; its global id (idempotent)."""
        ...

    def get_schema(self, schema_id: int) -> str | None:
        """The schema text with this id, or ``None`` when the registry has no such id."""
        ...


class InMemorySchemaRegistry:
    """A schema registry held in memory: ids by canonical form, for tests and single processes."""

    def __init__(self, first_id: int = 1) -> None:
        self._lock = threading.Lock()
        self._next_id = first_id
        self._ids: dict[str, int] = {}
        self._schemas: dict[int, str] = {}
        self._subjects: dict[str, list[int]] = {}

    def register(self, subject: str, schema: str) -> int:
        """Register ``schema`` under ``subject``; one canonical form always gets one id."""
        key = canonical_form(json.loads(schema))
        with self._lock:
            schema_id = self._ids.get(key)
            if schema_id is None:
                schema_id = self._next_id
                self._next_id += 1
                self._ids[key] = schema_id
                self._schemas[schema_id] = schema
            versions = self._subjects.setdefault(subject, [])
            if schema_id not in versions:
                versions.append(schema_id)
            return schema_id

    def get_schema(self, schema_id: int) -> str | None:
        """The schema text with this id, or ``None``."""
        return self._schemas.get(schema_id)

    def versions(self, subject: str) -> tuple[int, ...]:
        """Ids registered under ``subject``, oldest first."""
        return tuple(self._subjects.get(subject, ()))


@dataclass(frozen=True, slots=True)
class _Writer:
    """A writer schema known by fingerprint or id, with the reader schema to resolve it to."""

    schema: AvroSchema
    reader: dict[str, Any] | None
    """``None`` when the writer is the current schema (no resolution needed)."""


class AvroCodec:
    """Encodes and decodes the hub's records; build one per process and share it (thread-safe)."""

    def __init__(
        self,
        schemas: Iterable[AvroSchema],
        *,
        wire_format: WireFormat = "single-object",
        registry: SchemaRegistry | None = None,
        writer_schemas: Iterable[AvroSchema] = (),
    ) -> None:
        """Use ``schemas`` as the current (reader and writer) schemas; ``writer_schemas`` are
        earlier versions that may still be found on topics."""
        if wire_format not in ("single-object", "confluent"):
            raise AvroConfigError(f"unknown Avro wire format {wire_format!r}")
        if wire_format == "confluent" and registry is None:
            raise AvroConfigError(
                "the confluent wire format needs a schema registry; pass registry=... "
                "or use the single-object format"
            )
        self._wire_format: WireFormat = wire_format
        self._registry = registry
        self._current: dict[str, AvroSchema] = {}
        for schema in schemas:
            if schema.name in self._current:
                raise AvroSchemaError(f"{schema.name} is defined twice")
            self._current[schema.name] = schema
        self._names: dict[str, str] = {name: name for name in self._current}
        for name in self._current:
            short = name.rsplit(".", 1)[-1]
            self._names[short] = name if short not in self._names else ""
        self._by_fingerprint: dict[bytes, _Writer] = {
            s.fingerprint: _Writer(s, None) for s in self._current.values()
        }
        for schema in writer_schemas:
            self.add_writer_schema(schema)
        self._confluent_headers: dict[str, bytes] = {}
        self._by_id: dict[int, _Writer] = {}

    @classmethod
    def from_directory(
        cls,
        directory: Path = AVRO_DIR,
        *,
        wire_format: WireFormat = "single-object",
        registry: SchemaRegistry | None = None,
    ) -> "AvroCodec":
        """Load ``directory/*.avsc`` as current and ``directory/history/*.avsc`` as writers."""
        current = [load_schema_file(p) for p in sorted(directory.glob("*.avsc"))]
        if not current:
            raise AvroSchemaError(f"no .avsc files in {directory}")
        history = [
            load_schema_file(p) for p in sorted((directory / HISTORY_DIRNAME).glob("*.avsc"))
        ]
        return cls(current, wire_format=wire_format, registry=registry, writer_schemas=history)

    @property
    def wire_format(self) -> WireFormat:
        """The framing this codec writes and accepts."""
        return self._wire_format

    @property
    def names(self) -> tuple[str, ...]:
        """Full names of the current schemas, sorted."""
        return tuple(sorted(self._current))

    def schema(self, name: str) -> AvroSchema:
        """The current schema by full name (``no.meldingshub.X``) or unambiguous short name."""
        full = self._names.get(name)
        if not full:
            problem = "is ambiguous, use the full name" if full == "" else "is not known"
            raise KeyError(f"Avro schema {name!r} {problem}; known: {', '.join(self.names)}")
        return self._current[full]

    def add_writer_schema(self, schema: AvroSchema) -> None:
        """Make records written with an earlier ``schema`` readable (resolved to the current)."""
        current = self._current.get(schema.name)
        if current is not None and current.fingerprint == schema.fingerprint:
            return
        reader = current.parsed if current is not None else None
        self._by_fingerprint[schema.fingerprint] = _Writer(schema, reader)

    def encode(self, name: str, value: Mapping[str, Any]) -> bytes:
        """Frame ``value`` with the current schema ``name`` in the configured wire format."""
        schema = self.schema(name)
        header = (
            schema.single_object_header
            if self._wire_format == "single-object"
            else self._confluent_header(schema)
        )
        buffer = BytesIO()
        buffer.write(header)
        try:
            schemaless_writer(buffer, schema.parsed, value)
        except Exception as exc:  # fastavro raises many types for a value that does not fit
            raise AvroEncodeError(
                f"value does not fit {schema.name} ({type(exc).__name__}); fix the producing code"
            ) from exc
        return buffer.getvalue()

    def writer_schema(self, data: bytes) -> AvroSchema:
        """The schema ``data`` was written with, from its header alone (body not read)."""
        return self._writer(data)[0].schema

    def decode(self, data: bytes, name: str | None = None) -> AvroValue:
        """Decode one framed record; with ``name``, the writer must be that named type.

        Raises an :class:`~schemas.avro_errors.AvroDecodeError` subclass that keeps
        ``data`` as ``.raw`` when the bytes are not a complete record of a known schema.
        """
        expected = self.schema(name).name if name is not None else None
        writer, offset = self._writer(data)
        if expected is not None and writer.schema.name != expected:
            raise RecordTypeMismatchError(
                f"record is a {writer.schema.name}, expected {expected}", data
            )
        stream = BytesIO(data)
        stream.seek(offset)
        try:
            value = schemaless_reader(stream, writer.schema.parsed, writer.reader)
        except EOFError as exc:
            raise TruncatedRecordError(
                f"{writer.schema.name} record ends before its body is complete", data
            ) from exc
        except SchemaResolutionError as exc:
            raise IncompatibleSchemaError(
                f"writer schema {writer.schema.fingerprint.hex()} of {writer.schema.name} cannot "
                f"be read with the current schema: {exc}",
                data,
            ) from exc
        except Exception as exc:  # bad union index, invalid UTF-8, bad enum index, ...
            if stream.tell() >= len(data):  # ran out of bytes inside a varint
                raise TruncatedRecordError(
                    f"{writer.schema.name} record ends before its body is complete", data
                ) from exc
            raise CorruptRecordError(
                f"{writer.schema.name} record body does not decode ({type(exc).__name__})", data
            ) from exc
        if stream.tell() != len(data):
            raise CorruptRecordError(
                f"{writer.schema.name} record has {len(data) - stream.tell()} trailing bytes", data
            )
        return cast(AvroValue, value)

    def _writer(self, data: bytes) -> tuple[_Writer, int]:
        """Check the framing and find the writer schema; returns it with the body's offset."""
        if self._wire_format == "single-object":
            if data[:2] != SINGLE_OBJECT_MAGIC:
                if SINGLE_OBJECT_MAGIC.startswith(data):
                    raise TruncatedRecordError("record ends inside the single-object magic", data)
                raise BadMagicError(
                    f"expected single-object magic c3 01, found {data[:2].hex(' ')}", data
                )
            if len(data) < SINGLE_OBJECT_HEADER_SIZE:
                raise TruncatedRecordError("record ends inside the single-object header", data)
            key = data[2:SINGLE_OBJECT_HEADER_SIZE]
            writer = self._by_fingerprint.get(key)
            if writer is None:
                fingerprint = int.from_bytes(key, "little")
                raise UnknownSchemaError(
                    f"no schema with fingerprint {key.hex()}; is a newer schema version deployed "
                    "before this reader, or an old one missing from schemas/avro/history?",
                    data,
                    fingerprint=fingerprint,
                )
            return writer, SINGLE_OBJECT_HEADER_SIZE
        if data[:1] != CONFLUENT_MAGIC:
            if not data:
                raise TruncatedRecordError("record is empty", data)
            raise BadMagicError(f"expected confluent magic byte 00, found {data[:1].hex()}", data)
        if len(data) < CONFLUENT_HEADER_SIZE:
            raise TruncatedRecordError("record ends inside the confluent header", data)
        schema_id = int.from_bytes(data[1:CONFLUENT_HEADER_SIZE], "big")
        return self._writer_by_id(schema_id, data), CONFLUENT_HEADER_SIZE

    def _writer_by_id(self, schema_id: int, data: bytes) -> _Writer:
        writer = self._by_id.get(schema_id)
        if writer is not None:
            return writer
        assert self._registry is not None  # checked in __init__
        text = self._registry.get_schema(schema_id)
        if text is None:
            raise UnknownSchemaError(
                f"schema registry has no schema id {schema_id}", data, schema_id=schema_id
            )
        try:
            schema = AvroSchema.parse(json.loads(text), origin=f"registry schema id {schema_id}")
        except (ValueError, AvroSchemaError) as exc:
            raise UnknownSchemaError(
                f"registry schema id {schema_id} cannot be parsed", data, schema_id=schema_id
            ) from exc
        current = self._current.get(schema.name)
        reader = (
            current.parsed
            if current is not None and current.fingerprint != schema.fingerprint
            else None
        )
        writer = _Writer(schema, reader)
        self._by_id[schema_id] = writer
        return writer

    def _confluent_header(self, schema: AvroSchema) -> bytes:
        header = self._confluent_headers.get(schema.name)
        if header is None:
            assert self._registry is not None  # checked in __init__
            schema_id = self._registry.register(schema.name, schema.source)
            header = CONFLUENT_MAGIC + schema_id.to_bytes(4, "big")
            self._confluent_headers[schema.name] = header
            self._by_id[schema_id] = _Writer(schema, None)
        return header
