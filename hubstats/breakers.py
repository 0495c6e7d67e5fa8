"""The delivery workers' circuit breakers as the operator console sees them.

A breaker lives in the delivery worker that owns the receiver's partition; each worker
replaces its own rows every few seconds, so any API process can show them. A row not
renewed for :data:`STALE_AFTER` belongs to a worker that is gone and is not shown. An
endpoint is named by a digest of its address (:func:`endpoint_digest`), which the console
computes from the register's entry: a webhook URL may carry a secret.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from hubstats import schema
from hubstats.fold import utc

STALE_AFTER = timedelta(minutes=2)


def endpoint_digest(kind: str, address: str) -> str:
    """How the table names an endpoint: a SHA-256 of its kind and address."""
    return hashlib.sha256(f"{kind}\n{address}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class BreakerRow:
    """One breaker that is not closed."""

    endpoint_kind: str
    endpoint_digest: str
    state: str
    failures: int
    retry_at: datetime | None
    """When an open breaker lets its next probe through."""


Held = tuple[str, str, str, int, float | None]
"""``(endpoint kind, address, state, failures, seconds until the next probe)``."""


def publish_breakers(
    engine: sa.Engine, worker: str, held: Iterable[Held], now: datetime | None = None
) -> None:
    """Replace ``worker``'s rows with the breakers it ``held`` (in one transaction)."""
    table = schema.delivery_breakers
    at = now or datetime.now(UTC)
    values = [
        {
            "worker": worker,
            "endpoint_kind": kind,
            "endpoint_digest": endpoint_digest(kind, address),
            "state": state,
            "failures": failures,
            "retry_at": None if due_s is None else at + timedelta(seconds=due_s),
            "updated_at": at,
        }
        for kind, address, state, failures, due_s in held
    ]
    with engine.begin() as conn:
        conn.execute(sa.delete(table).where(table.c.worker == worker))
        if values:
            conn.execute(sa.insert(table), values)


def breaker_states(engine: sa.Engine, now: datetime | None = None) -> dict[str, BreakerRow]:
    """Every live worker's breakers that are not closed, by :func:`endpoint_digest`."""
    table = schema.delivery_breakers
    since = (now or datetime.now(UTC)) - STALE_AFTER
    with engine.connect() as conn:
        found = conn.execute(sa.select(table).where(table.c.updated_at >= since)).all()
    return {
        r.endpoint_digest: BreakerRow(
            r.endpoint_kind,
            r.endpoint_digest,
            r.state,
            r.failures,
            None if r.retry_at is None else utc(r.retry_at),
        )
        for r in found
    }
