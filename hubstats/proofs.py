"""DPoP proofs seen by any API replica: replay protection that holds across processes.

Each replica's own memory (:class:`access.replay.ReplayCache`) cannot see a proof another
replica took; the hub's database is shared by all of them, so a proof is recorded there by
an ``INSERT`` whose primary key is the proof's digest: the second replica to see it fails
the insert and refuses it. Expired rows are removed as new ones arrive.
"""

import hashlib
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from access.replay import ReplayStoreUnavailable
from hubstats import schema

_PURGE_EVERY = 1000
"""Expired rows are deleted once per this many proofs taken."""


class SharedProofs:
    """First use of a (key thumbprint, jti) pair within ``window_s``, across replicas."""

    def __init__(self, engine: sa.Engine, window_s: float) -> None:
        self._engine = engine
        self._window = timedelta(seconds=window_s)
        self._taken = 0

    def first_use(self, key_thumbprint: str, jti: str) -> bool:
        """Record the pair and return True, or return False when it is live already;
        :class:`ReplayStoreUnavailable` when the database does not answer (fail closed)."""
        try:
            return self._first_use(key_thumbprint, jti)
        except SQLAlchemyError as exc:
            raise ReplayStoreUnavailable(type(exc).__name__) from None

    def _first_use(self, key_thumbprint: str, jti: str) -> bool:
        digest = hashlib.sha256(f"{key_thumbprint}\n{jti}".encode()).digest()[:16]
        now = datetime.now(UTC)
        table = schema.dpop_proofs
        try:
            with self._engine.begin() as conn:
                conn.execute(sa.insert(table).values(digest=digest, expires_at=now + self._window))
        except IntegrityError:
            # Seen before: live means a replay; an expired row is taken over (and must still
            # be expired when the update runs, or another replica took it meanwhile).
            with self._engine.begin() as conn:
                renewed = conn.execute(
                    sa.update(table)
                    .where(table.c.digest == digest, table.c.expires_at <= now)
                    .values(expires_at=now + self._window)
                ).rowcount
            return bool(renewed)
        self._taken += 1
        if self._taken % _PURGE_EVERY == 0:
            with self._engine.begin() as conn:
                conn.execute(sa.delete(table).where(table.c.expires_at <= now))
        return True
