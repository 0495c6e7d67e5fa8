"""Typed settings of access control (``MELDINGSHUB_ACCESS__*``)."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from access.helseid_settings import HelseIdSettings


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
    helseid: HelseIdSettings = HelseIdSettings()
    """HelseID DPoP credentials for the MSH API (``MELDINGSHUB_ACCESS__HELSEID__*``); off
    until an issuer is set."""

    def file_for(self, data_dir: Path, *, embedded: bool) -> Path | None:
        """The principals file a process reads: the configured one, or the one an embedded
        hub provisions in its data directory; None in open mode (or nothing configured)."""
        if self.principals_file is not None:
            return self.principals_file
        if embedded and not self.open_mode:
            return data_dir / "principals.toml"
        return None
