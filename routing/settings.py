"""Typed settings of the router."""

from pydantic import BaseModel, ConfigDict, Field


class RoutingSettings(BaseModel):
    """How the router decides, de-duplicates and answers."""

    model_config = ConfigDict(extra="forbid")

    group_id: str = "hub.router"
    hub_her_id: int = Field(default=8888801, ge=1)
    """The hub's own HER-id, the sender of the AppRecs it generates."""
    hub_name: str = "meldingshub"
    dedup_window_days: float = Field(default=7.0, gt=0)
    """A re-send with the same sender and MsgId within this window is a duplicate."""
    correlation_window_hours: float = Field(default=24 * 7, gt=0)
    """How long the router remembers routed messages to correlate AppRecs (standard: 96 h)."""
    dedup_topic: str = "hub.router.dedup"
    sent_topic: str = "hub.router.sent"

    @property
    def dedup_window_ms(self) -> int:
        """The de-duplication window in milliseconds (record times are in ms)."""
        return int(self.dedup_window_days * 86_400_000)

    @property
    def correlation_window_ms(self) -> int:
        """The AppRec-correlation window in milliseconds."""
        return int(self.correlation_window_hours * 3_600_000)
