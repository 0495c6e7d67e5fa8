"""Per-message status as the HTTP API shows it: transport state and AppRec state.

The statistics store (filled from ``hub.events`` by the aggregator) is the
source. Between the 202 and the router's first event the store knows nothing
of a message, so each process also remembers the ids it accepted recently and
answers ``accepted`` for them. A status is shown only to the principal that
sent the message; to anyone else the message does not exist (404).
"""

import threading
from collections import OrderedDict
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from hubstats.store import AppRecState, MessageStatus, TransportState
from schemas.vocabulary import AppRecErrorCode

_CODES = {code.value: code for code in AppRecErrorCode}


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class AppRecAnswerView(_Camel):
    """One receiver's application receipt."""

    receiver_her_id: int | None = Field(description="HER-id of the receiver that answered.")
    status: AppRecState
    reason_code: str | None = Field(description="First AppRec error code (kodeverk 8221).")
    round_trip_ms: int | None
    received_at: datetime


class AppRecView(_Camel):
    """The AppRec part of the status: the worst answer so far and every answer."""

    state: AppRecState = Field(
        description="none (no AppRec yet), OK, REJECTED or OK_ERROR_IN_MESSAGE_PART."
    )
    answers: list[AppRecAnswerView]


class ReceiversView(_Camel):
    """How many receivers (copies included) the message went to and how delivery went."""

    routed: int
    delivered: int
    failed: int


class MessageStatusView(_Camel):
    """``GET /v1/messages/{id}/status``: where a message is, and what its receiver answered."""

    id: UUID = Field(description="The hub's id of the message, from the 202 answer.")
    msg_id: str | None = Field(description="MsgId of the document, once the router read it.")
    transport_state: TransportState = Field(
        description="accepted, routed, rejected, duplicate, delivered or delivery_failed."
    )
    reason_code: str | None = Field(
        description="AppRec error code (kodeverk 8221) when the hub rejected the message."
    )
    reason: str | None = Field(description="What the reason code means.")
    received_at: datetime | None
    updated_at: datetime | None
    receivers: ReceiversView
    app_rec: AppRecView


def status_view(status: MessageStatus) -> MessageStatusView:
    """The API view of a stored status."""
    code = _CODES.get(status.reason_code or "")
    return MessageStatusView(
        id=status.hub_message_id,
        msg_id=status.msg_id,
        transport_state=status.transport_state,
        reason_code=status.reason_code,
        reason=code.description if code is not None else None,
        received_at=status.received_at,
        updated_at=status.updated_at,
        receivers=ReceiversView(
            routed=status.receivers_routed,
            delivered=status.receivers_delivered,
            failed=status.receivers_failed,
        ),
        app_rec=AppRecView(
            state=status.apprec_state,
            answers=[
                AppRecAnswerView(
                    receiver_her_id=answer.receiver_her_id,
                    status=answer.status,
                    reason_code=answer.reason_code,
                    round_trip_ms=answer.round_trip_ms,
                    received_at=answer.received_at,
                )
                for answer in status.apprecs
            ],
        ),
    )


def accepted_view(hub_message_id: UUID, received_at: datetime) -> MessageStatusView:
    """The status of a message this process accepted and the store has no event of yet."""
    return MessageStatusView(
        id=hub_message_id,
        msg_id=None,
        transport_state="accepted",
        reason_code=None,
        reason=None,
        received_at=received_at,
        updated_at=received_at,
        receivers=ReceiversView(routed=0, delivered=0, failed=0),
        app_rec=AppRecView(state="none", answers=[]),
    )


class RecentMessages:
    """The ids this process accepted lately, with their principal; bounded, oldest forgotten."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[UUID, tuple[str, datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, hub_message_id: UUID, principal: str, received_at: datetime) -> None:
        """Note an accepted message."""
        if self._capacity <= 0:
            return
        with self._lock:
            self._entries[hub_message_id] = (principal, received_at)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def get(self, hub_message_id: UUID) -> tuple[str, datetime] | None:
        """``(principal, received_at)`` of a recently accepted message."""
        with self._lock:
            return self._entries.get(hub_message_id)
