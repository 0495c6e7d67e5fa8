"""Settings of the statistics aggregator and store (``MELDINGSHUB_STATISTICS__*``).

The store's DSN itself is ``meldingshub.settings.StoreSettings.dsn``; these are
the knobs of the aggregator that fills it.
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator


class StatisticsSettings(BaseModel):
    """How the aggregator consumes ``hub.events`` and how long the store keeps ids."""

    model_config = ConfigDict(extra="forbid")

    group_id: str = Field(default="hub.statistics", min_length=1)
    """Consumer group of the aggregators; replicas share the partitions of ``hub.events``."""
    batch_size: int = Field(default=5000, ge=1, le=100_000)
    """Events applied per database transaction (at most)."""
    poll_timeout_s: float = Field(default=0.5, gt=0, le=10)
    timezone: str = "Europe/Oslo"
    """Calendar of the statistics' days; changing it on a filled store shifts day boundaries."""
    retention_days: int = Field(default=30, ge=1)
    """How long processed event ids and per-message status are kept; exceed ``hub.events``
    retention, or a replay of older events into the same store would count them again."""
    prune_interval_s: float = Field(default=3600.0, gt=0)
    lag_interval_s: float = Field(default=10.0, gt=0)
    """How often the aggregator reports its consumer lag."""
    observe_metrics: bool = True
    """Drive the hub's live metrics from the events the aggregator applies (once per event)."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Oslo") from None
        return value
