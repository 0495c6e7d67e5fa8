"""From the hub's mailbox and status store to the MSH API's bodies: one place for the mapping.

A received message's id is its mailbox id (one per message and receiver); a sent
message's id is the hub message id from ``POST /Messages``. Per-receiver state
is per receiving organisation, as the hub's events name receivers:

* ``transportDeliveryState``: ``Rejected`` when the hub rejected the message or gave up
  delivering it, ``Acknowledged`` once the receiver's endpoint took it (for the mailbox:
  stored for the receiver to fetch), else ``Unconfirmed``;
* ``appRecStatus``: the receiver's own AppRec; when the hub answered for it (rejected, or
  not delivered: X99) the hub's negative AppRec.
"""

import base64
from datetime import datetime
from zoneinfo import ZoneInfo

from broker_adapters.delivery.mailbox_store import MailboxEntry, MailboxMessage
from broker_adapters.http.msh.models import (
    AppRecError,
    ApprecInfo,
    AppRecStatus,
    DeliveryState,
    GetBusinessDocumentResponse,
    Message,
    StatusInfo,
)
from hubstats.store import AppRecAnswer, AppRecState, MessageStatus, ReceiverState
from schemas.vocabulary import AppRecErrorCode as ErrorCode
from schemas.vocabulary import Family

XML = "application/xml"
_LOCAL = ZoneInfo("Europe/Oslo")
"""GenDate is written without an offset in Norwegian local time."""
_API_STATUS: dict[AppRecState, AppRecStatus | None] = {
    "none": None,
    "OK": AppRecStatus.OK,
    "REJECTED": AppRecStatus.REJECTED,
    "OK_ERROR_IN_MESSAGE_PART": AppRecStatus.OK_ERROR_IN_MESSAGE_PART,
}
_CODES = {code.value: code for code in ErrorCode}


def gen_date(text: str | None) -> datetime | None:
    """A document's GenDate as an aware time; ``None`` when it is not a date-time."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=_LOCAL) if moment.tzinfo is None else moment


def message(entry: MailboxEntry, metadata: bool, generated: str | None = None) -> Message:
    """A mailbox entry as ``Message``: id and receiver, the rest only with metadata."""
    if not metadata:
        return Message(id=entry.id, receiverHerId=entry.receiver_her_id)
    return Message(
        id=entry.id,
        contentType=XML,
        receiverHerId=entry.receiver_her_id,
        senderHerId=entry.sender_her_id,
        businessDocumentId=entry.msg_id,
        businessDocumentGenDate=gen_date(generated),
        isAppRec=entry.family == Family.APPREC.value,
    )


def business_document(found: MailboxMessage) -> GetBusinessDocumentResponse:
    """The stored document, base64-encoded."""
    return GetBusinessDocumentResponse(
        businessDocument=base64.b64encode(found.payload).decode("ascii"),
        contentType=XML,
        contentTransferEncoding="base64",
    )


def _answers(status: MessageStatus) -> dict[int, AppRecAnswer]:
    return {a.receiver_her_id: a for a in status.apprecs if a.receiver_her_id is not None}


def _hub_answer(status: MessageStatus, receiver: ReceiverState) -> AppRecError | None:
    """The hub's own negative AppRec for this receiver, if it sent one."""
    if receiver.rejected:
        return _error(status.reason_code or ErrorCode.X99.value)
    if receiver.failed:
        return _error(ErrorCode.X99.value)
    return None


def _error(code: str | None) -> AppRecError:
    known = _CODES.get(code or "")
    return AppRecError(errorCode=code, details=known.description if known is not None else None)


def _delivery_state(receiver: ReceiverState) -> DeliveryState:
    if receiver.rejected or receiver.failed:
        return DeliveryState.REJECTED
    if receiver.delivered:
        return DeliveryState.ACKNOWLEDGED
    return DeliveryState.UNCONFIRMED


def statuses(status: MessageStatus) -> list[StatusInfo]:
    """``GET /Messages/{id}/status``: one entry per receiver and copy receiver."""
    answers = _answers(status)
    found = []
    for receiver in status.receivers:
        answer = answers.get(receiver.receiver_her_id)
        api_status = _API_STATUS[answer.status] if answer is not None else None
        if api_status is None and _hub_answer(status, receiver) is not None:
            api_status = AppRecStatus.REJECTED
        found.append(
            StatusInfo(
                receiverHerId=receiver.receiver_her_id,
                transportDeliveryState=_delivery_state(receiver),
                appRecStatus=api_status,
            )
        )
    return found


def apprecs(status: MessageStatus) -> list[ApprecInfo]:
    """``GET /Messages/{id}/apprec``: the AppRec of each receiver and copy receiver."""
    answers = _answers(status)
    found = []
    for receiver in status.receivers:
        answer = answers.get(receiver.receiver_her_id)
        if answer is not None:
            errors = [_error(answer.reason_code)] if answer.reason_code else None
            found.append(
                ApprecInfo(
                    receiverHerId=receiver.receiver_her_id,
                    appRecStatus=_API_STATUS[answer.status],
                    appRecErrorList=errors,
                )
            )
            continue
        hub = _hub_answer(status, receiver)
        found.append(
            ApprecInfo(
                receiverHerId=receiver.receiver_her_id,
                appRecStatus=AppRecStatus.REJECTED if hub is not None else None,
                appRecErrorList=[hub] if hub is not None else None,
            )
        )
    return found
