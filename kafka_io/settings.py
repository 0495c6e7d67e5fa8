"""Typed Kafka settings: where the broker is, how clients behave, and the hub's topics."""

import socket
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class TopicSpec(BaseModel):
    """One hub topic: its name, partition count and topic-level configuration."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._-]+$")
    partitions: int = Field(ge=1, le=1000)
    config: dict[str, str] = Field(default_factory=dict)


_TOPIC_DEFAULTS: dict[str, dict[str, Any]] = {
    # Seven days: delivery reads claim-checked documents from here for up to its max age.
    "inbound": {"name": "hub.inbound", "partitions": 6, "config": {"retention.ms": "604800000"}},
    "outbound": {"name": "hub.outbound", "partitions": 6},
    "rejected": {"name": "hub.rejected", "partitions": 3},
    "events": {"name": "hub.events", "partitions": 3},
    "parties": {
        "name": "addressregister.parties",
        "partitions": 1,
        "config": {"cleanup.policy": "compact"},
    },
}


class TopicSettings(BaseModel):
    """The hub's topics (see the design's topic table).

    A partial override (say only ``MELDINGSHUB_KAFKA__TOPICS__INBOUND__PARTITIONS``)
    keeps the topic's other defaults.
    """

    model_config = ConfigDict(extra="forbid")

    inbound: TopicSpec = TopicSpec(**_TOPIC_DEFAULTS["inbound"])
    outbound: TopicSpec = TopicSpec(**_TOPIC_DEFAULTS["outbound"])
    rejected: TopicSpec = TopicSpec(**_TOPIC_DEFAULTS["rejected"])
    events: TopicSpec = TopicSpec(**_TOPIC_DEFAULTS["events"])
    parties: TopicSpec = TopicSpec(**_TOPIC_DEFAULTS["parties"])

    @model_validator(mode="before")
    @classmethod
    def _merge_with_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for key, default in _TOPIC_DEFAULTS.items():
            given = data.get(key)
            if isinstance(given, dict):
                merged[key] = {**default, **given}
        return merged

    def all(self) -> list[TopicSpec]:
        """Every topic the hub creates at start."""
        return [self.inbound, self.outbound, self.rejected, self.events, self.parties]


class KafkaSettings(BaseModel):
    """Connection and client behaviour; an empty bootstrap list means the embedded broker."""

    model_config = ConfigDict(extra="forbid")

    bootstrap_servers: str = ""
    embedded_host: str = "127.0.0.1"
    embedded_port: int = Field(default=9092, ge=1, le=65535)
    embedded_checkpoint_mb: int = Field(default=192, ge=32)
    """The embedded broker's memory at which the hub checkpoints it (stops every component,
    keeps what is still needed on disk, restarts the broker with only that)."""
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None
    instance_id: str = Field(default_factory=socket.gethostname, min_length=1)
    """Stable per replica (the pod name): the suffix of each transactional id, so a restarted
    replica fences its predecessor's open transactions."""
    # Consumer-group timing. Short enough that a group forms in seconds (Tansu
    # waits about half the session timeout before answering the first join) and
    # that a killed replica's partitions move on quickly.
    session_timeout_ms: int = Field(default=6000, ge=1000)
    heartbeat_interval_ms: int = Field(default=1000, ge=100)
    max_poll_interval_ms: int = Field(default=60000, ge=10000)
    # Short: a crashed producer's open transaction holds back read_committed readers until it
    # times out (a restarted replica with the same transactional id aborts it at once).
    transaction_timeout_ms: int = Field(default=15000, ge=1000)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    topics: TopicSettings = TopicSettings()

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_port_list(cls, value: str) -> str:
        for server in filter(None, (s.strip() for s in value.split(","))):
            host, sep, port = server.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"{server!r} is not host:port (comma-separate several)")
        return value.strip()

    @property
    def embedded(self) -> bool:
        """True when the hub must start its own broker."""
        return not self.bootstrap_servers
