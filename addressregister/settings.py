"""Typed settings of the address register."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from addressregister.categories import CategoryRule


class RegisterSettings(BaseModel):
    """Where the register comes from, how it is categorised and how the live view behaves."""

    model_config = ConfigDict(extra="forbid")

    snapshot: Path | None = None
    """A register file that seeds ``addressregister.parties`` at start (embedded default)."""
    categories_file: Path | None = None
    """Replaces the shipped category table (``addressregister/data/categories.json``)."""
    category_rules: list[CategoryRule] = Field(default_factory=list)
    """Rules that take precedence over the table, e.g. the real HER-ids of the national bodies."""
    load_timeout_s: float = Field(default=60.0, gt=0)
    """How long a process waits for the topic to be read up to its end at start."""
    poll_interval_s: float = Field(default=0.1, gt=0, le=1.0)
    """How long the follower waits for records per poll; bounds the visibility delay."""
    page_size_max: int = Field(default=500, ge=1, le=10_000)
    """Largest page the look-up API serves."""
