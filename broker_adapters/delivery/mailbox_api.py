"""The receivers' mailbox over HTTP (pull delivery), shaped after NHN's message server.

``GET /v1/mailbox/messages?receiverHerId=`` lists unread messages,
``GET /v1/mailbox/messages/{id}`` fetches one (JSON with the base64 business
document, or the raw document with ``Accept: application/xml``) and
``PUT /v1/mailbox/messages/{id}/read`` marks it read. A bearer token's
principal sees only the HER-ids it acts for: another receiver's message is
"not found", never "forbidden", so ids cannot be probed. Errors are RFC 9457
problem details.
"""

import base64
import contextlib
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from access.principals import Principal, Role
from access.principals_file import PrincipalsFile
from broker_adapters.delivery.errors import MailboxError
from broker_adapters.delivery.mailbox_store import MailboxEntry, MailboxMessage, MailboxStore
from broker_adapters.http.auth import bearer_principal
from hubcore.problems import ProblemError, ProblemRoute, problem_responses
from schemas.identifiers import STRICT_HER_ID

XML = "application/xml"


class MailboxItem(BaseModel):
    """One message in a listing (no document)."""

    model_config = ConfigDict(populate_by_name=True)

    id: uuid.UUID
    hub_message_id: uuid.UUID = Field(alias="hubMessageId")
    msg_id: str | None = Field(alias="msgId")
    receiver_her_id: int = Field(alias="receiverHerId")
    sender_her_id: int | None = Field(alias="senderHerId")
    family: str
    message_type: str = Field(alias="messageType")
    size_bytes: int = Field(alias="sizeBytes")
    stored_at: datetime = Field(alias="storedAt")
    read_at: datetime | None = Field(alias="readAt")


class MailboxListing(BaseModel):
    """Unread messages, oldest first."""

    messages: list[MailboxItem]


class MailboxDocument(MailboxItem):
    """One message with its business document."""

    content_type: str = Field(default=XML, alias="contentType")
    business_document: str = Field(alias="businessDocument")
    """The document, base64-encoded."""


def _item(entry: MailboxEntry) -> MailboxItem:
    return MailboxItem(
        id=entry.id,
        hubMessageId=entry.hub_message_id,
        msgId=entry.msg_id,
        receiverHerId=entry.receiver_her_id,
        senderHerId=entry.sender_her_id,
        family=entry.family,
        messageType=entry.message_type,
        sizeBytes=entry.size_bytes,
        storedAt=entry.stored_at,
        readAt=entry.read_at,
    )


def _not_found(message_id: uuid.UUID) -> ProblemError:
    return ProblemError(
        404,
        "mailbox-message-not-found",
        "no such message",
        f"no message {message_id} in a mailbox this principal may read",
    )


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    try:
        yield
    except MailboxError as exc:
        raise ProblemError(
            503,
            "mailbox-unavailable",
            "mailbox unavailable",
            "the mailbox store does not answer; retry later",
            headers={"Retry-After": "5"},
        ) from exc


def mailbox_router(store: MailboxStore, principals: PrincipalsFile) -> APIRouter:
    """The mailbox routes, authenticated with the principals' bearer tokens."""
    router = APIRouter(prefix="/v1/mailbox", tags=["mailbox"], route_class=ProblemRoute)
    authenticated = Annotated[Principal, Depends(bearer_principal(principals, Role.RECEIVER))]

    def owned(message_id: uuid.UUID, principal: Principal) -> MailboxMessage:
        with _store_errors():
            found = store.get(message_id)
        if found is None or found.entry.receiver_her_id not in principal.her_ids:
            raise _not_found(message_id)
        return found

    @router.get(
        "/messages",
        response_model=MailboxListing,
        response_model_by_alias=True,
        responses=problem_responses(401, 403),
    )
    def list_unread(
        principal: authenticated,
        receiver_her_id: Annotated[
            int | None, Query(alias="receiverHerId", ge=1), STRICT_HER_ID
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> MailboxListing:
        """Unread messages of ``receiverHerId`` (default: every HER-id of the principal)."""
        if receiver_her_id is None:
            receivers: frozenset[int] = principal.her_ids
        elif receiver_her_id in principal.her_ids:
            receivers = frozenset({receiver_her_id})
        else:
            raise ProblemError(
                403,
                "mailbox-forbidden",
                "not this principal's mailbox",
                f"this principal may not read the mailbox of HER-id {receiver_her_id}",
            )
        with _store_errors():
            unread = store.unread(receivers, limit)
        return MailboxListing(messages=[_item(entry) for entry in unread])

    @router.get(
        "/messages/{message_id}",
        response_model=MailboxDocument,
        response_model_by_alias=True,
        responses={
            **problem_responses(401, 404),
            200: {"content": {XML: {}}, "description": "the message"},
        },
    )
    def fetch(
        message_id: uuid.UUID,
        principal: authenticated,
        accept: Annotated[str, Header()] = "application/json",
    ) -> MailboxDocument | Response:
        """One message; the raw document when the client accepts only XML."""
        found = owned(message_id, principal)
        if XML in accept and "json" not in accept:
            return Response(
                found.payload,
                media_type=XML,
                headers={"X-Meldingshub-Message-Id": str(found.entry.hub_message_id)},
            )
        item = _item(found.entry)
        return MailboxDocument(
            **item.model_dump(by_alias=True),
            businessDocument=base64.b64encode(found.payload).decode("ascii"),
        )

    @router.put(
        "/messages/{message_id}/read",
        status_code=204,
        response_class=Response,
        responses=problem_responses(401, 404),
    )
    def mark_read(message_id: uuid.UUID, principal: authenticated) -> Response:
        """Mark the message read (again is fine); it is deleted after the retention period."""
        owned(message_id, principal)
        with _store_errors():
            store.mark_read(message_id)
        return Response(status_code=204)

    return router
