"""Errors of the Avro codec.

Decoding errors keep the raw record bytes in ``.raw`` so that the caller can park
them on a dead-letter topic; the bytes never appear in the message or ``repr``,
because a payload may hold patient data.
"""

from hubcore.errors import MeldingshubError


class AvroCodecError(MeldingshubError):
    """Base of the Avro codec's errors."""


class AvroSchemaError(AvroCodecError):
    """An ``.avsc`` file or a writer schema cannot be loaded; the hub cannot start with it."""


class AvroConfigError(AvroCodecError):
    """The codec's settings do not fit together (e.g. Confluent framing without a registry)."""


class AvroEncodeError(AvroCodecError):
    """A value does not fit its schema; the producing code has a bug."""


class AvroDecodeError(AvroCodecError):
    """A record cannot be decoded; ``raw`` holds the bytes exactly as received."""

    def __init__(self, message: str, raw: bytes) -> None:
        super().__init__(message)
        self.raw = raw


class BadMagicError(AvroDecodeError):
    """The record does not start with the magic bytes of the configured wire format."""


class TruncatedRecordError(AvroDecodeError):
    """The record ends before its header or body is complete."""


class UnknownSchemaError(AvroDecodeError):
    """The record names a writer schema (fingerprint or registry id) the codec does not know.

    ``fingerprint`` is the CRC-64-AVRO fingerprint as an unsigned integer
    (single-object framing), ``schema_id`` the registry id (Confluent framing).
    """

    def __init__(
        self,
        message: str,
        raw: bytes,
        *,
        fingerprint: int | None = None,
        schema_id: int | None = None,
    ) -> None:
        super().__init__(message, raw)
        self.fingerprint = fingerprint
        self.schema_id = schema_id


class RecordTypeMismatchError(AvroDecodeError):
    """The record was written with a different named type than the caller expected."""


class CorruptRecordError(AvroDecodeError):
    """The body does not decode with its writer schema (bad union index, trailing bytes, ...)."""


class IncompatibleSchemaError(AvroDecodeError):
    """The writer schema cannot be resolved against the current reader schema."""
