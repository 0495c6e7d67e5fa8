"""The statistics store: applies event batches exactly once and answers per-message status.

``apply`` runs one transaction per batch: it inserts the batch's event ids with
``ON CONFLICT DO NOTHING ... RETURNING`` and folds only the ids that came back
into the counts, so an event delivered twice (a replay, a crash before the
Kafka commit) is counted once, and two aggregators racing on the same event
during a rebalance serialise on its row. SQLite (the embedded default) and
PostgreSQL (production) share this code; only the ``INSERT`` construct differs.
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from hubstats import migrations, schema, timeline
from hubstats.errors import StoreError
from hubstats.fold import Deltas, fold, utc
from schemas.records import MessageEvent
from schemas.vocabulary import AppRecStatus

log = structlog.get_logger(__name__)

DEFAULT_TIMEZONE = "Europe/Oslo"
"""Days are Norwegian calendar days, as the national statistics count them."""

TransportState = Literal[
    "accepted", "routed", "rejected", "duplicate", "delivered", "delivery_failed"
]
AppRecState = Literal["none", "OK", "REJECTED", "OK_ERROR_IN_MESSAGE_PART"]

_APPREC_STATE: dict[str, AppRecState] = {
    AppRecStatus.OK.value: "OK",
    AppRecStatus.REJECTED.value: "REJECTED",
    AppRecStatus.OK_ERROR_IN_MESSAGE_PART.value: "OK_ERROR_IN_MESSAGE_PART",
}
_APPREC_SEVERITY: dict[AppRecState, int] = {
    "none": 0,
    "OK": 1,
    "OK_ERROR_IN_MESSAGE_PART": 2,
    "REJECTED": 3,
}


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """The events of a batch that were new (in batch order) and how many were seen before."""

    new_events: tuple[MessageEvent, ...]
    already_applied: int

    @property
    def applied(self) -> int:
        """How many events were applied by this call."""
        return len(self.new_events)


@dataclass(frozen=True, slots=True)
class AppRecAnswer:
    """One receiver's AppRec to a message."""

    receiver_her_id: int | None
    status: AppRecState
    reason_code: str | None
    round_trip_ms: int | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class ReceiverState:
    """How delivery to one receiving organisation (level 1) of a message went."""

    receiver_her_id: int
    is_copy: bool
    routed: bool
    delivered: bool
    failed: bool
    """Given up (dead-lettered): the sender got an X99 AppRec from the hub."""
    rejected: bool
    """The hub rejected the whole message before routing it."""


@dataclass(frozen=True, slots=True)
class MessageStatus:
    """What the hub knows about one message: transport state and AppRec state.

    ``principal`` is there so the status API can answer only the system that sent it.
    """

    hub_message_id: uuid.UUID
    msg_id: str | None
    principal: str | None
    sender_her_id: int | None
    family: str | None
    message_type: str | None
    received_at: datetime | None
    transport_state: TransportState
    reason_code: str | None
    receivers_routed: int
    receivers_delivered: int
    receivers_failed: int
    delivery_retries: int
    apprec_state: AppRecState
    apprecs: tuple[AppRecAnswer, ...]
    updated_at: datetime
    receivers: tuple[ReceiverState, ...] = ()
    """Per receiving organisation, receiver first, then copies by HER-id."""


def create_store_engine(dsn: str) -> sa.Engine:
    """An engine for ``dsn``; a SQLite file gets WAL and a busy timeout for concurrent readers."""
    try:
        url = sa.make_url(dsn)
    except sa.exc.ArgumentError as exc:
        raise StoreError(
            f"MELDINGSHUB_STORE__DSN is not a database URL ({exc}); "
            "use e.g. postgresql+psycopg://user@host/db or sqlite:///path/file.sqlite3"
        ) from None
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.get_backend_name() != "postgresql":
        raise StoreError(
            f"the statistics store supports SQLite and PostgreSQL, not {url.get_backend_name()}"
        )
    # A database that drops packets must not hold a caller (delivery's loop, a DPoP check)
    # for the operating system's two minutes: connecting gives up after this many seconds.
    connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": 10}
    return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class StatisticsStore:
    """Exact counts, distinct senders, per-message status; one instance per process."""

    def __init__(self, engine: sa.Engine, timezone: str = DEFAULT_TIMEZONE) -> None:
        self.engine = engine
        self.zone = ZoneInfo(timezone)
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    @classmethod
    def open(
        cls, dsn: str, timezone: str = DEFAULT_TIMEZONE, migrate: bool = True
    ) -> "StatisticsStore":
        """Connect to ``dsn`` and (by default) bring the schema up to date."""
        store = cls(create_store_engine(dsn), timezone)
        if migrate:
            store.migrate()
        return store

    def migrate(self) -> int:
        """Apply pending migrations; return how many ran."""
        try:
            return migrations.migrate(self.engine)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot migrate the statistics store: {exc.__class__.__name__}"
            ) from exc

    def reachable(self) -> bool:
        """True when the database answers (a readiness check)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    # -- writing ------------------------------------------------------------------------------

    def apply(self, events: Sequence[MessageEvent]) -> ApplyResult:
        """Apply a batch in one transaction; events applied before are skipped."""
        unique: dict[uuid.UUID, MessageEvent] = {}
        for event in events:
            unique.setdefault(event.event_id, event)
        if not unique:
            return ApplyResult((), len(events))
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            table = schema.processed_events
            inserted = conn.execute(
                self._insert(table).on_conflict_do_nothing().returning(table.c.event_id),
                [{"event_id": event_id, "applied_at": now} for event_id in unique],
            )
            new_ids = {row[0] for row in inserted}
            # batch order, not RETURNING order: the first event to name a field wins
            new_events = tuple(e for i, e in unique.items() if i in new_ids)
            self._write(conn, fold(new_events, self.zone), now)
            timeline.write_events(conn, self._insert, new_events)
        return ApplyResult(new_events, len(events) - len(new_events))

    def _write(self, conn: sa.Connection, deltas: Deltas, now: datetime) -> None:
        if deltas.counts:
            self._add_counts(
                conn,
                schema.daily_counts,
                [
                    dict(zip(_COUNT_COLUMNS, key, strict=True), count=count)
                    for key, count in sorted(deltas.counts.items())
                ],
            )
        if deltas.senders:
            self._add_counts(
                conn,
                schema.sender_daily,
                [
                    dict(zip(_SENDER_COLUMNS, key, strict=True), count=count)
                    for key, count in sorted(deltas.senders.items())
                ],
            )
        if deltas.statuses:
            self._merge_statuses(conn, deltas, now)
        if deltas.receivers:
            self._merge_receivers(conn, deltas, now)
        if deltas.apprecs:
            table = schema.message_apprec
            conn.execute(
                self._insert(table).on_conflict_do_nothing(),  # an AppRec is final
                [
                    {
                        "original_msg_id": row.original_msg_id,
                        "original_sender_her_id": row.original_sender_her_id,
                        "apprec_sender_her_id": row.apprec_sender_her_id,
                        "apprec_status": row.apprec_status,
                        "reason_code": row.reason_code,
                        "round_trip_ms": row.round_trip_ms,
                        "received_at": row.received_at,
                    }
                    for _key, row in sorted(deltas.apprecs.items())
                ],
            )

    def _add_counts(self, conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        # Rows are sorted by key so that concurrent writers lock them in the same order.
        statement = self._insert(table)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=[column.name for column in table.primary_key],
                set_={"count": table.c.count + statement.excluded["count"]},
            ),
            rows,
        )

    def _merge_statuses(self, conn: sa.Connection, deltas: Deltas, now: datetime) -> None:
        table = schema.message_status
        statement = self._insert(table)
        new = statement.excluded
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=[table.c.hub_message_id],
                set_={
                    "msg_id": sa.func.coalesce(table.c.msg_id, new["msg_id"]),
                    "principal": sa.func.coalesce(table.c.principal, new["principal"]),
                    "sender_her_id": sa.func.coalesce(table.c.sender_her_id, new["sender_her_id"]),
                    "family": sa.func.coalesce(new["family"], table.c.family),
                    "message_type": sa.func.coalesce(new["message_type"], table.c.message_type),
                    "received_at": sa.func.coalesce(table.c.received_at, new["received_at"]),
                    "accepted": sa.or_(table.c.accepted, new["accepted"]),
                    "duplicate": sa.or_(table.c.duplicate, new["duplicate"]),
                    "rejected": sa.or_(table.c.rejected, new["rejected"]),
                    "reason_code": sa.func.coalesce(table.c.reason_code, new["reason_code"]),
                    "routed": table.c.routed + new["routed"],
                    "delivered": table.c.delivered + new["delivered"],
                    "delivery_failed": table.c.delivery_failed + new["delivery_failed"],
                    "delivery_retried": table.c.delivery_retried + new["delivery_retried"],
                    "updated_at": new["updated_at"],
                },
            ),
            [
                {
                    "hub_message_id": s.hub_message_id,
                    "msg_id": s.msg_id,
                    "principal": s.principal,
                    "sender_her_id": s.sender_her_id,
                    "family": s.family,
                    "message_type": s.message_type,
                    "received_at": s.received_at,
                    "accepted": s.accepted,
                    "duplicate": s.duplicate,
                    "rejected": s.rejected,
                    "reason_code": s.reason_code,
                    "routed": s.routed,
                    "delivered": s.delivered,
                    "delivery_failed": s.delivery_failed,
                    "delivery_retried": s.delivery_retried,
                    "updated_at": now,
                }
                for _id, s in sorted(deltas.statuses.items())
            ],
        )

    def _merge_receivers(self, conn: sa.Connection, deltas: Deltas, now: datetime) -> None:
        table = schema.message_receiver
        statement = self._insert(table)
        new = statement.excluded
        flags = ("is_copy", "routed", "delivered", "failed", "rejected")
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=[table.c.hub_message_id, table.c.receiver_her_id],
                set_={
                    **{flag: sa.or_(table.c[flag], new[flag]) for flag in flags},
                    "updated_at": new["updated_at"],
                },
            ),
            [
                {
                    "hub_message_id": message_id,
                    "receiver_her_id": receiver,
                    **{flag: getattr(delta, flag) for flag in flags},
                    "updated_at": now,
                }
                for (message_id, receiver), delta in sorted(deltas.receivers.items())
            ],
        )

    def prune(self, applied_before: datetime) -> int:
        """Forget processed event ids, statuses and AppRecs older than ``applied_before``.

        Counts are kept forever. An event re-delivered after its id was pruned would
        be counted again, so keep ids longer than ``hub.events`` keeps records.
        """
        cutoff = utc(applied_before)
        with self.engine.begin() as conn:
            removed = conn.execute(
                sa.delete(schema.processed_events).where(
                    schema.processed_events.c.applied_at < cutoff
                )
            ).rowcount
            conn.execute(
                sa.delete(schema.message_status).where(schema.message_status.c.updated_at < cutoff)
            )
            conn.execute(
                sa.delete(schema.message_apprec).where(schema.message_apprec.c.received_at < cutoff)
            )
            conn.execute(
                sa.delete(schema.message_receiver).where(
                    schema.message_receiver.c.updated_at < cutoff
                )
            )
            conn.execute(
                sa.delete(schema.message_event).where(schema.message_event.c.occurred_at < cutoff)
            )
        return int(removed or 0)

    # -- reading ------------------------------------------------------------------------------

    def message_status(self, hub_message_id: uuid.UUID | str) -> MessageStatus | None:
        """The status of one message, or ``None`` when the store has no event of it yet."""
        try:
            wanted = uuid.UUID(str(hub_message_id))
        except ValueError:
            return None  # not an id the hub assigns
        status = schema.message_status
        apprec = schema.message_apprec
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(status).where(status.c.hub_message_id == wanted)
            ).one_or_none()
            if row is None:
                return None
            receiving = schema.message_receiver
            receivers = conn.execute(
                sa.select(receiving)
                .where(receiving.c.hub_message_id == wanted)
                .order_by(receiving.c.is_copy, receiving.c.receiver_her_id)
            ).all()
            answers: Sequence[sa.Row[Any]] = ()
            if row.msg_id is not None and row.sender_her_id is not None:
                answers = conn.execute(
                    sa.select(apprec)
                    .where(
                        apprec.c.original_msg_id == row.msg_id,
                        apprec.c.original_sender_her_id == row.sender_her_id,
                    )
                    .order_by(apprec.c.apprec_sender_her_id)
                ).all()
        return _status_of(row, answers, receivers)


_COUNT_COLUMNS = (
    "day",
    "family",
    "message_type",
    "sender_category",
    "receiver_category",
    "addressing_mode",
    "outcome",
)
_SENDER_COLUMNS = ("day", "sender_her_id", "family", "message_type")


def transport_state(row: sa.Row[Any]) -> TransportState:
    if row.duplicate:
        return "duplicate"
    if row.rejected:
        return "rejected"
    if row.delivery_failed:
        return "delivery_failed"
    if row.delivered and row.delivered >= row.routed:
        return "delivered"
    if row.routed:
        return "routed"
    return "accepted"


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else utc(moment)


def _status_of(
    row: sa.Row[Any], answers: Iterable[sa.Row[Any]], receivers: Iterable[sa.Row[Any]] = ()
) -> MessageStatus:
    apprecs = tuple(
        AppRecAnswer(
            receiver_her_id=answer.apprec_sender_her_id or None,
            status=_APPREC_STATE[answer.apprec_status],
            reason_code=answer.reason_code,
            round_trip_ms=answer.round_trip_ms,
            received_at=utc(answer.received_at),
        )
        for answer in answers
    )
    apprec_state: AppRecState = max(
        (answer.status for answer in apprecs), key=_APPREC_SEVERITY.__getitem__, default="none"
    )
    return MessageStatus(
        hub_message_id=row.hub_message_id,
        msg_id=row.msg_id,
        principal=row.principal,
        sender_her_id=row.sender_her_id,
        family=row.family,
        message_type=row.message_type,
        received_at=_aware(row.received_at),
        transport_state=transport_state(row),
        reason_code=row.reason_code,
        receivers_routed=row.routed,
        receivers_delivered=row.delivered,
        receivers_failed=row.delivery_failed,
        delivery_retries=row.delivery_retried,
        apprec_state=apprec_state,
        apprecs=apprecs,
        updated_at=utc(row.updated_at),
        receivers=tuple(
            ReceiverState(
                receiver_her_id=r.receiver_her_id,
                is_copy=r.is_copy,
                routed=r.routed,
                delivered=r.delivered,
                failed=r.failed,
                rejected=r.rejected,
            )
            for r in receivers
        ),
    )
