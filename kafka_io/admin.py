"""Broker reachability and idempotent creation of the hub topics."""

import time
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from kafka_io.config import RECORD_MAX_BYTES
from kafka_io.errors import BrokerUnreachableError, TopicSetupError
from kafka_io.settings import TopicSpec

log = structlog.get_logger(__name__)

__all__ = ["BrokerUnreachableError", "ensure_topics", "wait_until_reachable"]


def wait_until_reachable(
    bootstrap_servers: str | dict[str, Any],
    timeout_s: float,
    alive: Callable[[], bool] = lambda: True,
) -> None:
    """Return once a broker answers a metadata request; raise after ``timeout_s``.

    ``alive`` lets a caller that started the broker stop waiting as soon as it died.
    """
    config: dict[str, Any] = (
        {"bootstrap.servers": bootstrap_servers}
        if isinstance(bootstrap_servers, str)
        else dict(bootstrap_servers)
    )
    config["log_level"] = 0
    where = config["bootstrap.servers"]
    admin = AdminClient(config)
    deadline = time.monotonic() + timeout_s
    last_error = "no answer"
    while time.monotonic() < deadline and alive():
        try:
            metadata = admin.list_topics(timeout=min(1.0, max(0.1, deadline - time.monotonic())))
        except KafkaException as exc:
            last_error = exc.args[0].str() if exc.args else str(exc)
            time.sleep(0.05)
            continue
        if metadata.brokers:
            return
    raise BrokerUnreachableError(
        f"no Kafka broker answered at {where} within {timeout_s:g} s ({last_error}). "
        "Check MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS, or leave it empty to run the embedded broker."
    )


def ensure_topics(
    admin_config: dict[str, Any], specs: Iterable[TopicSpec], timeout_s: float = 30.0
) -> list[str]:
    """Create the topics that do not exist yet; return the names created.

    Existing topics are left as they are (their partition count is checked, never changed).
    New ones take the hub's record limit as ``max.message.bytes`` unless the spec says otherwise.
    """
    admin = AdminClient(admin_config)
    wanted = {spec.name: spec for spec in specs}
    existing = admin.list_topics(timeout=timeout_s).topics
    for name in wanted.keys() & existing.keys():
        have = len(existing[name].partitions)
        if have < wanted[name].partitions:
            log.warning(
                "topic has fewer partitions than configured",
                topic=name,
                partitions=have,
                configured=wanted[name].partitions,
            )
    missing = [
        NewTopic(
            spec.name,
            spec.partitions,
            replication_factor=-1,
            config={"max.message.bytes": str(RECORD_MAX_BYTES), **spec.config},
        )
        for name, spec in wanted.items()
        if name not in existing
    ]
    created: list[str] = []
    if not missing:
        return created
    for name, future in admin.create_topics(missing, request_timeout=timeout_s).items():
        try:
            future.result(timeout_s)
            created.append(name)
        except KafkaException as exc:
            error = exc.args[0]
            if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue  # created concurrently by another replica
            raise TopicSetupError(f"cannot create topic {name}: {error}") from exc
    log.info("topics created", topics=sorted(created))
    return created
