"""Typed settings of the schemas package: parsing limits and validation policy."""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.xmlparse import ParseLimits


class SchemaSettings(BaseModel):
    """How messages are parsed and validated."""

    model_config = ConfigDict(extra="forbid")

    official_dir: Path | None = None
    """A directory of official XSDs with their OASIS catalogs; empty means the built-in XSDs."""
    max_message_bytes: int = Field(default=35 * 1024 * 1024, ge=1024)
    """Larger messages are rejected (T99) before parsing; NHN's message server takes 35 MB."""
    max_depth: int = Field(default=256, ge=8)
    """Deepest element nesting (T99 beyond it); libxml2 itself never goes past 2048."""
    max_attributes: int = Field(default=64, ge=1)
    """Most attributes on one element (T99 beyond it)."""
    max_copy_receivers: int = Field(default=50, ge=0)
    """Most copy receivers (OtherReceiver) one message may name (T99 beyond it)."""
    max_fanout_bytes: int = Field(default=140 * 1024 * 1024, ge=1024)
    """Most bytes one message may become when routed: its size times its receivers (T99
    beyond it); the default lets a 35 MB message reach four receivers, 2.7 MB fifty-one."""
    unknown_type_policy: Literal["reject", "envelope_only"] = "reject"
    """Unknown message types: reject with T10, or accept after envelope-only validation."""

    def parse_limits(self) -> ParseLimits:
        """The parser's limits; the ingress gate and the reader hold messages to the same ones."""
        return ParseLimits(
            max_bytes=self.max_message_bytes,
            max_depth=self.max_depth,
            max_attributes=self.max_attributes,
        )
