"""The X99 "not delivered" AppRec a sender gets when the hub gives up on a receiver.

The AppRec answers in the version the original's standard names; a message of a
type the hub does not know (routed under the ``envelope_only`` policy) is answered
in AppRec 1.0, as the router answers such a type. Its ``IssueDate`` is the
original's ``GenDate``, read back from the document.

The standard's rules hold: an AppRec is final, so the hub sends none when the
receiver has already answered the message (it got it after all, through an
attempt whose success the hub never saw); the hub sends at most one per
message and receiver (the id is derived from both, and it is written in the
same transaction that gives the message up); and no AppRec answers an AppRec.
"""

from datetime import datetime
from typing import Protocol
from uuid import uuid5

import sqlalchemy as sa
import structlog
from sqlalchemy.exc import SQLAlchemyError

from addressregister.index import RegisterIndex
from hubstats import schema
from routing.apprec import AppRecVersion
from routing.outputs import UNKNOWN_TYPE_APPREC_VERSION, OutputBuilder
from schemas.catalogue import default_catalogue
from schemas.envelope import read_envelope
from schemas.errors import MessageRejectedError
from schemas.records import RoutedMessage
from schemas.settings import SchemaSettings
from schemas.vocabulary import AppRecErrorCode, Family
from schemas.xmlparse import ParseLimits, parse_message

log = structlog.get_logger(__name__)

_VERSIONS: dict[str | None, AppRecVersion] = {
    "1.0": "1.0",
    "1.1": "1.1",
    None: UNKNOWN_TYPE_APPREC_VERSION,  # only AppRecs lack a version in the catalogue
}
_LIMITS = SchemaSettings().parse_limits()


class AppRecLedger(Protocol):
    """Whether a receiver has already sent an AppRec for a message."""

    def answered(self, msg_id: str, sender_her_id: int, receiver_her_id: int) -> bool:
        """True when organisation ``receiver_her_id`` answered ``msg_id`` of ``sender_her_id``."""
        ...


class NoLedger:
    """A ledger that has seen no AppRec (for processes without a store)."""

    def answered(self, msg_id: str, sender_her_id: int, receiver_her_id: int) -> bool:
        """Always False."""
        return False


class StoreAppRecLedger:
    """Reads the AppRecs the statistics aggregator recorded (``message_apprec``)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def answered(self, msg_id: str, sender_her_id: int, receiver_her_id: int) -> bool:
        """True when the store holds the receiver's AppRec; an unreadable store says False."""
        table = schema.message_apprec
        query = (
            sa.select(table.c.apprec_status)
            .where(
                table.c.original_msg_id == msg_id,
                table.c.original_sender_her_id == sender_her_id,
                table.c.apprec_sender_her_id == receiver_her_id,
            )
            .limit(1)
        )
        try:
            with self._engine.connect() as conn:
                return conn.execute(query).first() is not None
        except SQLAlchemyError as exc:
            log.warning("AppRec ledger unreadable; assuming no AppRec", error=type(exc).__name__)
            return False


def not_delivered_apprec(
    builder: OutputBuilder,
    register: RegisterIndex,
    ledger: AppRecLedger,
    message: RoutedMessage,
    reason: str,
    now: datetime,
    hub_her_id: int,
) -> RoutedMessage | None:
    """The X99 AppRec to the sender of ``message``, or None where the standard wants none
    (an AppRec, the hub's own message, no MsgId, an AppRec version the hub cannot write)."""
    sender, msg_id = message.sender_her_id, message.msg_id
    version = _VERSIONS.get(message.apprec_version)
    if (
        message.family is Family.APPREC
        or sender is None
        or sender == hub_her_id
        or not msg_id
        or version is None
    ):
        return None
    answering = message.receiver_organisation_her_id or message.receiver_her_id
    if ledger.answered(msg_id, sender, answering):
        log.info(
            "receiver already answered; no X99 AppRec",
            message_id=str(message.hub_message_id),
            receiver=message.receiver_her_id,
        )
        return None
    return builder.hub_apprec(
        register,
        answer_to=sender,
        apprec_id=uuid5(message.hub_message_id, f"not-delivered:{message.receiver_her_id}"),
        version=version,
        code=AppRecErrorCode.X99,
        reason=f"not delivered to HER-id {answering}: {reason}",
        original_type=message.message_type,
        original_gen_date=original_gen_date(message.payload),
        original_msg_id=msg_id,
        now=now,
        original=message.payload,
    )


def original_gen_date(payload: bytes, limits: ParseLimits = _LIMITS) -> str | None:
    """The answered document's ``GenDate`` (MsgHead or a standard's own root), for the
    AppRec's ``IssueDate``; None when it cannot be read (the AppRec then uses its own time)."""
    if not payload:
        return None
    try:
        root = parse_message(payload, limits)
    except MessageRejectedError:
        return None
    return read_envelope(root, default_catalogue()).envelope.gen_date
