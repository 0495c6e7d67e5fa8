"""Data access of the HTTP mailbox: stored documents per receiver, read state and retention.

The table lives in the statistics store's database (SQLite by default,
PostgreSQL in production) and is created by its versioned migrations
(``hubstats/migrations.py``, version 2); this module is the only reader and
writer. A message's mailbox id is derived from the hub message id and the
receiver, so storing the same delivery twice (a retry after a crash) keeps one
row.
"""

import contextlib
import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from broker_adapters.delivery.errors import MailboxError
from hubstats import migrations
from hubstats.store import create_store_engine
from schemas.records import RoutedMessage

_metadata = sa.MetaData()

mailbox_messages = sa.Table(
    "mailbox_messages",
    _metadata,
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
    sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
)
"""As created by migration 2 (a test compares the two)."""

_SUMMARY_COLUMNS = [c for c in mailbox_messages.columns if c.name != "payload"]


def mailbox_id(hub_message_id: uuid.UUID, receiver_her_id: int) -> uuid.UUID:
    """The mailbox id of one message for one receiver: the same for every attempt."""
    return uuid.uuid5(hub_message_id, f"mailbox:{receiver_her_id}")


@dataclass(frozen=True, slots=True)
class MailboxEntry:
    """A stored message without its document (what a listing shows)."""

    id: uuid.UUID
    hub_message_id: uuid.UUID
    receiver_her_id: int
    sender_her_id: int | None
    msg_id: str | None
    family: str
    message_type: str
    size_bytes: int
    stored_at: datetime
    read_at: datetime | None


@dataclass(frozen=True, slots=True)
class MailboxMessage:
    """A stored message with its document."""

    entry: MailboxEntry
    payload: bytes = field(repr=False)
    """Left out of the repr: the document is patient data."""


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _full_sync(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _entry(row: sa.Row[Any]) -> MailboxEntry:
    return MailboxEntry(
        id=row.id,
        hub_message_id=row.hub_message_id,
        receiver_her_id=row.receiver_her_id,
        sender_her_id=row.sender_her_id,
        msg_id=row.msg_id,
        family=row.family,
        message_type=row.message_type,
        size_bytes=row.size_bytes,
        stored_at=_utc(row.stored_at) or datetime.now(UTC),
        read_at=_utc(row.read_at),
    )


class MailboxStore:
    """The mailbox table; thread-safe (one engine, a connection per call)."""

    def __init__(self, engine: sa.Engine) -> None:
        """On SQLite every connection syncs each commit to disk (``synchronous=FULL``): a stored
        row is the receiver's copy, and delivery commits its Kafka offset right after, so a
        power cut must not take the row back (PostgreSQL's default commit is durable)."""
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _full_sync)
            engine.dispose()  # connections pooled before this (e.g. by migrations) go

    @classmethod
    def open(cls, dsn: str, migrate: bool = True) -> "MailboxStore":
        """Connect to the store at ``dsn`` and (by default) bring its schema up to date."""
        engine = create_store_engine(dsn)
        if migrate:
            try:
                migrations.migrate(engine)
            except SQLAlchemyError as exc:
                raise MailboxError(f"cannot migrate the store ({type(exc).__name__})") from exc
        return cls(engine)

    def put(self, message: RoutedMessage, now: datetime | None = None) -> bool:
        """Store ``message`` for its receiver; False when it was stored before."""
        msg_id = message.msg_id if message.msg_id and len(message.msg_id) <= 128 else None
        row = {
            "id": mailbox_id(message.hub_message_id, message.receiver_her_id),
            "hub_message_id": message.hub_message_id,
            "receiver_her_id": message.receiver_her_id,
            "sender_her_id": message.sender_her_id,
            "msg_id": msg_id,
            "family": message.family.value,
            "message_type": message.message_type[:40],
            "size_bytes": len(message.payload),
            "payload": message.payload,
            "stored_at": now or datetime.now(UTC),
            "read_at": None,
        }
        statement = self._insert(mailbox_messages).values(row).on_conflict_do_nothing()
        with self._begin() as conn:
            return conn.execute(statement).rowcount == 1

    def unread(
        self,
        receiver_her_ids: Collection[int],
        limit: int = 100,
        *,
        sender_her_id: int | None = None,
        msg_id: str | None = None,
        newest_first: bool = False,
    ) -> Sequence[MailboxEntry]:
        """Unread messages of these receivers, oldest first (or newest first), optionally only
        those from one sending organisation or with one MsgId."""
        if not receiver_her_ids:
            return ()
        table = mailbox_messages
        conditions: list[sa.ColumnElement[bool]] = [
            table.c.receiver_her_id.in_(list(receiver_her_ids)),
            table.c.read_at.is_(None),
        ]
        if sender_her_id is not None:
            conditions.append(table.c.sender_her_id == sender_her_id)
        if msg_id is not None:
            conditions.append(table.c.msg_id == msg_id)
        order = (
            (table.c.stored_at.desc(), table.c.id.desc())
            if newest_first
            else (
                table.c.stored_at,
                table.c.id,
            )
        )
        query = sa.select(*_SUMMARY_COLUMNS).where(*conditions).order_by(*order).limit(limit)
        with self._connect() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def oldest_unread(self, limit: int, stored_before: datetime) -> Sequence[uuid.UUID]:
        """The ids of the oldest unread messages of every receiver stored before a time: for
        the embedded demo's simulated receivers only, never for an API (a receiver sees its
        own messages only)."""
        table = mailbox_messages
        query = (
            sa.select(table.c.id)
            .where(table.c.read_at.is_(None), table.c.stored_at < stored_before)
            .order_by(table.c.stored_at, table.c.id)
            .limit(limit)
        )
        with self._connect() as conn:
            return [row.id for row in conn.execute(query)]

    def get(self, message_id: uuid.UUID) -> MailboxMessage | None:
        """One message with its document, read or not."""
        table = mailbox_messages
        with self._connect() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == message_id)).one_or_none()
        return None if row is None else MailboxMessage(_entry(row), bytes(row.payload))

    def mark_read(self, message_id: uuid.UUID, now: datetime | None = None) -> bool:
        """Mark read (the first time only); False when there is no such message."""
        table = mailbox_messages
        with self._begin() as conn:
            found = conn.execute(
                sa.select(table.c.id).where(table.c.id == message_id)
            ).one_or_none()
            if found is None:
                return False
            conn.execute(
                table.update()
                .where(table.c.id == message_id, table.c.read_at.is_(None))
                .values(read_at=now or datetime.now(UTC))
            )
        return True

    def prune(self, retention: timedelta, now: datetime | None = None) -> int:
        """Delete messages read longer than ``retention`` ago; return how many."""
        table = mailbox_messages
        cutoff = (now or datetime.now(UTC)) - retention
        with self._begin() as conn:
            return conn.execute(table.delete().where(table.c.read_at < cutoff)).rowcount

    def reachable(self) -> bool:
        """True when the database answers."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    @contextlib.contextmanager
    def _connect(self, begin: bool = False) -> Iterator[sa.Connection]:
        """A connection (a transaction when ``begin``); database errors become MailboxError."""
        try:
            with self.engine.begin() if begin else self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise MailboxError(f"mailbox store unavailable ({type(exc).__name__})") from exc

    def _begin(self) -> contextlib.AbstractContextManager[sa.Connection]:
        return self._connect(begin=True)
