"""Typed settings of access control (``MELDINGSHUB_ACCESS__*``)."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class AccessSettings(BaseModel):
    """Where the principals live and whether the hub may run without them."""

    model_config = ConfigDict(extra="forbid")

    principals_file: Path | None = None
    """TOML file of principals (roles, HER-ids, token hashes, transports); required unless
    ``open_mode``. An embedded ``meldingshub run`` without one provisions
    ``<data_dir>/principals.toml``."""
    open_mode: bool = False
    """Accept every sender without credentials: a local demo only, refused unless the broker
    is the embedded one."""
    reload_interval_s: float = Field(default=2.0, gt=0, le=300)
    """How often the principals file is checked for changes (revocation takes effect then)."""
