"""Maps the typed Kafka settings to librdkafka's dotted configuration keys, in one place."""

from typing import Any

from kafka_io.settings import KafkaSettings

RECORD_MAX_BYTES = 50 * 1024 * 1024
"""The largest record the hub writes or reads: a 35 MB document plus its headers and room
to spare. Producers, consumers and every topic the hub creates use this one figure, so a
record one of them takes is never refused by another."""


PREFETCH_MAX_BYTES = 32 * 1024 * 1024
"""Bytes a consumer reads ahead of what it processed (librdkafka's local queue)."""


def client_config(settings: KafkaSettings, bootstrap_servers: str) -> dict[str, Any]:
    """Connection and security keys shared by every client."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers,
        "security.protocol": settings.security_protocol,
        "socket.connection.setup.timeout.ms": int(settings.connect_timeout_s * 1000),
        # librdkafka logs connection refusals itself; the hub reports them as errors.
        "log_level": 3,
    }
    if settings.sasl_mechanism:
        config["sasl.mechanism"] = settings.sasl_mechanism
    if settings.sasl_username:
        config["sasl.username"] = settings.sasl_username
    if settings.sasl_password is not None:
        config["sasl.password"] = settings.sasl_password.get_secret_value()
    if settings.ssl_ca_location:
        config["ssl.ca.location"] = settings.ssl_ca_location
    return config


def producer_config(
    settings: KafkaSettings, bootstrap_servers: str, transactional_id: str | None = None
) -> dict[str, Any]:
    """A producer that never loses or duplicates a record: acks=all with idempotence."""
    config = client_config(settings, bootstrap_servers)
    config.update(
        {
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 2,
            "compression.type": "lz4",
            "message.max.bytes": RECORD_MAX_BYTES,
        }
    )
    if transactional_id:
        config["transactional.id"] = transactional_id
        config["transaction.timeout.ms"] = settings.transaction_timeout_ms
    return config


def consumer_config(
    settings: KafkaSettings, bootstrap_servers: str, group_id: str
) -> dict[str, Any]:
    """A consumer in ``group_id`` that commits offsets only through transactions or by hand."""
    config = client_config(settings, bootstrap_servers)
    config.update(
        {
            "group.id": group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "session.timeout.ms": settings.session_timeout_ms,
            "heartbeat.interval.ms": settings.heartbeat_interval_ms,
            "max.poll.interval.ms": settings.max_poll_interval_ms,
            "fetch.message.max.bytes": RECORD_MAX_BYTES,
            # What librdkafka reads ahead into memory (it may pass this by one record): with
            # the byte-bounded batches, what a consumer of large documents holds is bounded.
            "queued.max.messages.kbytes": PREFETCH_MAX_BYTES // 1024,
            # The broker answers a fetch as soon as there is data or after this wait;
            # librdkafka's 500 ms default would dominate routing latency at moderate rates.
            "fetch.wait.max.ms": 20,
        }
    )
    return config
