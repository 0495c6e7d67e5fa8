"""Framing the hub's records for Kafka: :func:`encode` and :func:`decode` with the shared
:class:`~schemas.avro_codec.AvroCodec` (parsed once; cheap enough for the hot path).

Any class with ``AVRO_NAME``, ``to_avro`` and ``from_avro`` is a record here
(:class:`AvroRecord`); the hub's own are in :mod:`schemas.records`.
"""

import functools
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, Self, TypeVar

from schemas.avro_codec import AvroCodec
from schemas.avro_errors import AvroEncodeError


class AvroRecord(Protocol):
    """What :func:`encode` and :func:`decode` need of a record class."""

    AVRO_NAME: ClassVar[str]

    def to_avro(self) -> dict[str, Any]:
        """The value as the Avro schema names it."""
        ...

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> Self:
        """The record from a decoded Avro value."""
        ...


R = TypeVar("R", bound=AvroRecord)


@functools.cache
def default_codec() -> AvroCodec:
    """The packaged schemas with single-object framing, loaded on first use."""
    return AvroCodec.from_directory()


def encode(record: AvroRecord, codec: AvroCodec | None = None) -> bytes:
    """Frame ``record`` for Kafka with ``codec`` (default: :func:`default_codec`)."""
    try:
        value = record.to_avro()
    except ValueError as exc:  # a naive datetime: a bug in the producing code
        raise AvroEncodeError(f"{record.AVRO_NAME}: {exc}") from exc
    return (codec or default_codec()).encode(record.AVRO_NAME, value)


def decode(data: bytes, record_type: type[R], codec: AvroCodec | None = None) -> R:
    """Decode a framed record that must be a ``record_type``; errors keep ``data`` as ``.raw``."""
    return record_type.from_avro((codec or default_codec()).decode(data, record_type.AVRO_NAME))
