"""The one record shape every stage hands to the Kafka layer."""

from dataclasses import dataclass, field

from confluent_kafka import Message


@dataclass(frozen=True, slots=True)
class OutRecord:
    """A record to produce: topic, key, value and headers, nothing else."""

    topic: str
    value: bytes | None = field(repr=False)
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = field(default=())
    partition: int | None = None
    """An explicit partition (changelogs mirror their input partition); None = by key."""


def headers_of(message: Message) -> tuple[tuple[str, bytes], ...]:
    """A consumed record's headers as ``(name, bytes)`` pairs, in order, empty values dropped."""
    raw = message.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    return tuple(
        (name, value.encode() if isinstance(value, str) else value)
        for name, value in pairs
        if value is not None
    )
