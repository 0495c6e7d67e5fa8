"""Versioned migrations of the statistics store: numbered steps and a version table.

Each step runs in its own transaction together with the row that records it,
so a crash leaves the store at a whole version. On PostgreSQL a transaction
advisory lock keeps two replicas starting at once from migrating twice. A store
written by a newer hub is refused rather than guessed at.
"""

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
import structlog

from hubstats import schema
from hubstats.errors import StoreVersionError

log = structlog.get_logger(__name__)

Migration = Callable[[sa.Connection], None]

version_table = sa.Table(
    "stats_schema_version",
    sa.MetaData(),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)

_ADVISORY_LOCK_KEY = 0x6D68_7374  # "mhst": one lock id for the statistics store's migrations


def _v1_initial(conn: sa.Connection) -> None:
    """Counts, distinct senders, processed event ids, per-message status and AppRecs."""
    schema.metadata.create_all(
        conn,
        tables=[
            schema.daily_counts,
            schema.sender_daily,
            schema.processed_events,
            schema.message_status,
            schema.message_apprec,
        ],
    )


def _v2_mailbox(conn: sa.Connection) -> None:
    """The HTTP mailbox (delivery's pull endpoint): documents kept until read, then for a
    retention period. Unlike every statistics table it holds payloads (patient data), read
    only through ``broker_adapters/delivery/mailbox_store.py``. Defined here as it was at
    version 2, so later model changes need a new step."""
    mailbox = sa.Table(
        "mailbox_messages",
        sa.MetaData(),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("hub_message_id", sa.Uuid, nullable=False),
        sa.Column("receiver_her_id", sa.BigInteger, nullable=False),
        sa.Column("sender_her_id", sa.BigInteger, nullable=True),
        sa.Column("msg_id", sa.String(128), nullable=True),
        sa.Column("family", sa.String(40), nullable=False),
        sa.Column("message_type", sa.String(40), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True, index=True),
        sa.Index("ix_mailbox_messages_receiver_unread", "receiver_her_id", "read_at"),
    )
    mailbox.create(conn)


def _v3_receivers(conn: sa.Connection) -> None:
    """Per-receiver transport state of each message (the MSH API's ``/status`` per receiver and
    copy receiver). Defined here as it was at version 3."""
    sa.Table(
        "message_receiver",
        sa.MetaData(),
        sa.Column("hub_message_id", sa.Uuid, primary_key=True),
        sa.Column("receiver_her_id", sa.BigInteger, primary_key=True),
        sa.Column("is_copy", sa.Boolean, nullable=False),
        sa.Column("routed", sa.Boolean, nullable=False),
        sa.Column("delivered", sa.Boolean, nullable=False),
        sa.Column("failed", sa.Boolean, nullable=False),
        sa.Column("rejected", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ).create(conn)


def _v4_events(conn: sa.Connection) -> None:
    """Every event of every message, for the operator console's timeline. Defined here as
    it was at version 4."""
    code, ident = sa.String(40), sa.String(128)
    sa.Table(
        "message_event",
        sa.MetaData(),
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("hub_message_id", sa.Uuid, nullable=False, index=True),
        sa.Column("stage", code, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("msg_id", ident, nullable=True, index=True),
        sa.Column("family", code, nullable=True),
        sa.Column("message_type", code, nullable=True),
        sa.Column("sender_her_id", sa.BigInteger, nullable=True, index=True),
        sa.Column("receiver_her_id", sa.BigInteger, nullable=True, index=True),
        sa.Column("is_copy", sa.Boolean, nullable=False),
        sa.Column("reason_code", code, nullable=True),
        sa.Column("adapter", code, nullable=True),
        sa.Column("principal", ident, nullable=True),
        sa.Column("endpoint_kind", code, nullable=True),
        sa.Column("attempt", sa.Integer, nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("apprec_status", sa.String(1), nullable=True),
        sa.Column("original_msg_id", ident, nullable=True, index=True),
        sa.Column("related_hub_message_id", sa.Uuid, nullable=True),
    ).create(conn)


def _v5_dpop_proofs(conn: sa.Connection) -> None:
    """The DPoP proofs every API replica has seen (replay protection across replicas).
    Defined here as it was at version 5."""
    sa.Table(
        "dpop_proofs",
        sa.MetaData(),
        sa.Column("digest", sa.LargeBinary(16), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    ).create(conn)


def _v6_breakers(conn: sa.Connection) -> None:
    """Each delivery worker's open circuit breakers, for the console. As it was at version 6."""
    code = sa.String(40)
    sa.Table(
        "delivery_breakers",
        sa.MetaData(),
        sa.Column("worker", sa.String(128), primary_key=True),
        sa.Column("endpoint_kind", code, primary_key=True),
        sa.Column("endpoint_digest", sa.String(64), primary_key=True),
        sa.Column("state", code, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ).create(conn)


MIGRATIONS: tuple[Migration, ...] = (
    _v1_initial,
    _v2_mailbox,
    _v3_receivers,
    _v4_events,
    _v5_dpop_proofs,
    _v6_breakers,
)
"""Step ``n`` (1-based) brings the store from version ``n - 1`` to ``n``; append only."""

LATEST_VERSION = len(MIGRATIONS)


def current_version(conn: sa.Connection) -> int:
    """The store's version: 0 when it was never migrated."""
    if not sa.inspect(conn).has_table(version_table.name):
        return 0
    found = conn.execute(sa.select(sa.func.max(version_table.c.version))).scalar()
    return int(found or 0)


def migrate(engine: sa.Engine) -> int:
    """Bring the store to :data:`LATEST_VERSION`; return the number of steps applied."""
    applied = 0
    while True:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
                )
            version_table.create(conn, checkfirst=True)
            version = current_version(conn)
            if version > LATEST_VERSION:
                raise StoreVersionError(
                    f"the statistics store is at schema version {version}, newer than this hub "
                    f"knows ({LATEST_VERSION}); upgrade the hub or point it at another store"
                )
            if version == LATEST_VERSION:
                return applied
            MIGRATIONS[version](conn)
            conn.execute(
                version_table.insert().values(version=version + 1, applied_at=datetime.now(UTC))
            )
            applied += 1
            log.info("statistics store migrated", version=version + 1)
