"""Typed settings of the schemas package: parsing limits and validation policy."""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


class SchemaSettings(BaseModel):
    """How messages are parsed and validated."""

    official_dir: Path | None = None
    """A directory of official XSDs with their OASIS catalogs; empty means the built-in XSDs."""
    max_message_bytes: int = Field(default=35 * 1024 * 1024, ge=1024)
    """Larger messages are rejected (T99) before parsing; NHN's message server takes 35 MB."""
    max_depth: int = Field(default=256, ge=8)
    """Deepest element nesting (T99 beyond it); libxml2 itself never goes past 2048."""
    max_attributes: int = Field(default=64, ge=1)
    """Most attributes on one element (T99 beyond it)."""
    unknown_type_policy: Literal["reject", "envelope_only"] = "reject"
    """Unknown message types: reject with T10, or accept after envelope-only validation."""
    avro_wire_format: Literal["single-object", "confluent"] = "single-object"
    """Framing of Avro values on Kafka: Avro single-object encoding, or Confluent (registry ids)."""
    schema_registry_url: str = ""
    """Schema registry for the ``confluent`` format; the composition root builds its client."""
