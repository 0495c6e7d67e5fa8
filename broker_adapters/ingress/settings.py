"""Typed settings of the ingress adapters (``MELDINGSHUB_INGRESS__*``)."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from schemas.vocabulary import IngressAdapterName

AdapterName = IngressAdapterName


class IngressSettings(BaseModel):
    """Which adapters run and the limits they hold senders to."""

    model_config = ConfigDict(extra="forbid")

    adapters: frozenset[AdapterName] = frozenset({"http", "file"})
    """Adapters ``meldingshub run`` starts (``amqp`` reads from ``MELDINGSHUB_AMQP__URL``)."""
    write_timeout_s: float = Field(default=5.0, gt=0, le=120)
    """How long a sender waits for the durable write before the hub says 503 / retries."""
    retry_after_s: int = Field(default=5, ge=1, le=3600)
    """``Retry-After`` on a 503, and the pause before AMQP/file adapters try the broker again."""
    status_cache_size: int = Field(default=100_000, ge=0)
    """Recently accepted ids remembered per process, so their status reads ``accepted`` at
    once, before the router's events reach the statistics store."""

    in_flight_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    """Bytes of documents one AMQP or file adapter holds at once: file batches stop at it,
    and the AMQP prefetch is as many largest documents as fit (RabbitMQ counts
    deliveries, not bytes). The HTTP APIs of the process share it for request bodies."""

    file_root: Path = Path("inbox")
    """Default directory of the file catalogue, relative to the data directory:
    ``<file_root>/<principal>/`` unless the principal names its own ``file_inbox``."""
    file_poll_interval_s: float = Field(default=0.5, gt=0, le=60)
    file_batch: int = Field(default=200, ge=1, le=10_000)
    """Files written to Kafka together before they are moved to ``done/``."""

    kafka_topic_prefix: str = Field(default="hub.ingress.", pattern=r"^[A-Za-z0-9._-]+\.$")
    """Each principal with a ``kafka_principal`` writes ``<prefix><principal name>``."""
    kafka_group_id: str = "hub.ingress.kafka"
    kafka_partitions: int = Field(default=3, ge=1, le=1000)
    """Partitions of each principal's ingress topic ``hub.ingress.<principal>``."""
    kafka_discovery_s: float = Field(default=10.0, gt=0, le=600)
    """How soon a new principal's ingress topic is consumed (metadata refresh interval)."""
