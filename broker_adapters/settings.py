"""Typed settings the transports share (``MELDINGSHUB_AMQP__*``)."""

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class AmqpSettings(BaseModel):
    """The one RabbitMQ the hub talks to: AMQP ingress reads from it, AMQP delivery writes to it."""

    model_config = ConfigDict(extra="forbid")

    url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/%2F")
    """``amqp://user:password@host:5672/vhost`` (holds the password, hence secret). The AMQP
    ingress adapter runs only when ``ingress.adapters`` names ``amqp``."""
    timeout_s: float = Field(default=10.0, gt=0)
    """Connecting and publishing deadline of one AMQP call."""
