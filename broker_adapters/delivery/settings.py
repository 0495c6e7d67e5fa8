"""Typed settings of the delivery workers (``MELDINGSHUB_DELIVERY__*``)."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator


class RetryTier(BaseModel):
    """One backoff tier: a retry topic ``<prefix>.<name>`` whose records wait ``delay_s``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=16, pattern=r"^[a-z0-9]+$")
    """Part of the topic name and the ``tier`` label of the depth metric (so a short code)."""
    delay_s: float = Field(gt=0, le=7 * 86_400)


def _default_tiers() -> list[RetryTier]:
    return [
        RetryTier(name="10s", delay_s=10),
        RetryTier(name="1m", delay_s=60),
        RetryTier(name="10m", delay_s=600),
        RetryTier(name="1h", delay_s=3600),
    ]


class BreakerSettings(BaseModel):
    """When a circuit breaker opens and when it lets a probe through."""

    model_config = ConfigDict(extra="forbid")

    failure_threshold: int = Field(default=5, ge=1)
    """Consecutive failed attempts that open the breaker of an endpoint."""
    open_s: float = Field(default=30.0, gt=0)
    """How long an open breaker refuses attempts before it lets one probe through."""
    max_open_s: float = Field(default=600.0, gt=0)
    """Upper bound of the open time, which doubles after each failed probe."""


class DeliverySettings(BaseModel):
    """How routed messages reach their receivers' endpoints, and how failures are retried."""

    model_config = ConfigDict(extra="forbid")

    group_id: str = Field(default="hub.delivery", min_length=1)
    batch_size: int = Field(default=200, ge=1, le=10_000)
    poll_timeout_s: float = Field(default=0.2, gt=0, le=10)
    retry_topic_prefix: str = Field(default="hub.delivery.retry", pattern=r"^[A-Za-z0-9._-]+$")
    retry_tiers: list[RetryTier] = Field(default_factory=_default_tiers, min_length=1)
    """Backoff tiers in order; a failing message climbs one tier per failed attempt and
    stays in the last."""
    backlog_topic: str = Field(default="hub.delivery.backlog", pattern=r"^[A-Za-z0-9._-]+$")
    """Compacted changelog of the per-receiver retry backlog (keeps delivery in order)."""
    status_topic: str = Field(default="hub.delivery.status", pattern=r"^[A-Za-z0-9._-]+$")
    """``DeliveryStatus`` records, one per attempt (``hub.events`` holds ``MessageEvent`` only)."""
    max_attempts: int = Field(default=10, ge=1)
    max_age_s: float = Field(default=24 * 3600, gt=0)
    """A message not delivered this long after it was routed is given up (X99 to the sender)."""
    breaker: BreakerSettings = BreakerSettings()
    outbox_root: Path | None = None
    """Root of the file outboxes; empty means ``<data_dir>/outbox``."""
    amqp_declare_queues: bool = False
    """Declare a receiver's ``<HerId>_async`` queue (durable) before publishing to it."""
    webhook_keys_file: Path | None = None
    """JSON object ``{"<HER-id>": "<key>"}``: each webhook receiver's own HMAC signing key
    (never in the register); a receiver without a key is not sent to. Re-read on change."""
    max_response_bytes: int = Field(default=65_536, ge=0)
    """At most this much of a webhook's answer is read (only its status counts)."""
    call_timeout_s: float = Field(default=10.0, gt=0, le=300)
    """Hard deadline of one endpoint call: connecting, sending and the whole answer."""
    answer_wait_s: float = Field(default=5.0, gt=0, le=60)
    """How long a batch waits for endpoint answers before it commits: a call still running
    then counts as in flight, and its message (and the receiver's later ones) waits in the
    retry path while the call runs out its deadline. Bounds what a slow receiver costs others."""
    call_workers: int = Field(default=16, ge=1, le=256)
    """Endpoint calls running at once; one receiver never has more than one of them."""
    backlog_cap: int = Field(default=10_000, ge=1)
    """Pending messages per receiver; beyond it a new message is given up at once (X99)."""
    kafka_topic_prefix: str = Field(default="hub.deliver", pattern=r"^[A-Za-z0-9._-]+$")
    """Receivers with a Kafka endpoint and no topic of their own get ``<prefix>.<herid>``."""
    kafka_topic_partitions: int = Field(default=1, ge=1)
    mailbox_retention_days: float = Field(default=30.0, gt=0)
    """How long a read message stays in the mailbox before it is deleted."""
    mailbox_prune_interval_s: float = Field(default=3600.0, gt=0)

    @field_validator("retry_tiers")
    @classmethod
    def _distinct_names(cls, tiers: list[RetryTier]) -> list[RetryTier]:
        names = [tier.name for tier in tiers]
        if len(set(names)) != len(names):
            raise ValueError(f"retry tier names must be distinct, got {names}")
        return tiers

    def retry_topic(self, tier: int) -> str:
        """The topic of tier ``tier`` (0-based)."""
        return f"{self.retry_topic_prefix}.{self.retry_tiers[tier].name}"

    def outbox(self, data_dir: Path) -> Path:
        """The outbox root for a hub whose data directory is ``data_dir``."""
        return self.outbox_root if self.outbox_root is not None else data_dir / "outbox"
