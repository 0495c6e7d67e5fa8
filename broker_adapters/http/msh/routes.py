"""NHN's MSH API v2 on the hub's API port: send, receive, read state and AppRecs.

The operations of ``msh-api-v2.json``, backed by the hub's pipeline: a posted
document goes through the ingress gate (authorisation on the resolved sender,
limits, durable write before the 201), received messages come from the mailbox
(receivers whose endpoint in the register is the mailbox), and status and
AppRecs from the status store the aggregator fills. Every error is an
``ErrorMessage``. The composition root mounts :func:`msh_router`.
"""

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from access.principals import Role
from addressregister.index import Snapshots
from broker_adapters.delivery.errors import MailboxError
from broker_adapters.delivery.mailbox_store import MailboxMessage, MailboxStore
from broker_adapters.http.ingress_api import Gate
from broker_adapters.http.msh import mapping, sending
from broker_adapters.http.msh.caller import Authenticator, Caller, NotAuthenticated
from broker_adapters.http.msh.errors import (
    MshError,
    MshRoute,
    bad_request,
    error_responses,
    not_authorised,
    not_found,
    validation_text,
)
from broker_adapters.http.msh.models import (
    ApprecInfo,
    GetBusinessDocumentResponse,
    Message,
    OrderBy,
    PostAppRecRequest,
    PostMessageRequest,
    StatusInfo,
)
from broker_adapters.http.status import RecentMessages
from broker_adapters.ingress.base import RefusalReason, Refused, Submission
from broker_adapters.ingress.budget import Holding
from hubstats.store import MessageStatus, StatisticsStore
from schemas.identifiers import STRICT_HER_ID

log = structlog.get_logger(__name__)

API_VERSIONS = frozenset({"2", "2.0"})
_JSON_OVERHEAD = 64 * 1024
_BODY_TYPES = ("application/json", "text/json", "application/*+json")
_DOCS_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="Bearer",
    description="A principal's token (`meldingshub credentials add`) as `Authorization: Bearer`.",
)


@dataclass
class MshDeps:
    """What the MSH API needs; built once by the composition root."""

    gate: Gate
    authenticators: Mapping[str, Authenticator]
    """By lower-case ``Authorization`` scheme (see :func:`~.caller.authenticators`)."""
    mailbox: MailboxStore
    register: Snapshots
    """The register as it is now (``LiveRegister.snapshot``)."""
    store: StatisticsStore | None = None
    recent: RecentMessages = field(default_factory=lambda: RecentMessages(100_000))


def _body_schema(model: type[BaseModel], description: str) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {media: {"schema": schema} for media in _BODY_TYPES},
        }
    }


MessageId = Annotated[uuid.UUID, Path(alias="id", description="Id of the message (a UUID).")]


@contextmanager
def _stores() -> Iterator[None]:
    """A store that does not answer: 503, try again."""
    try:
        yield
    except (MailboxError, SQLAlchemyError) as exc:
        log.warning("MSH API store unavailable", error=type(exc).__name__)
        raise MshError(
            503, "The message store is unavailable; try again", headers={"Retry-After": "5"}
        ) from None


def client_system(
    api_version: Annotated[str, Header(alias="api-version", examples=["2"])],
    source: Annotated[
        str,
        Header(
            alias="nhn-source-system",
            description="Name and version for the client system",
            examples=["MyApplication, v1.337"],
        ),
    ],
) -> str:
    """Checks ``api-version``; the sanitised ``nhn-source-system``."""
    if api_version.strip() not in API_VERSIONS:
        raise bad_request(
            "Model validation error occurred", "api-version: this server speaks version 2"
        )
    return sending.source_system(source)


def msh_router(deps: MshDeps) -> APIRouter:
    """The MSH API v2 operations."""
    router = APIRouter(route_class=MshRoute, tags=["MessagesController"])
    gate = deps.gate
    limits = gate.settings
    challenge = ", ".join(f'{s.capitalize()} realm="meldingshub"' for s in deps.authenticators)

    def caller(request: Request, _docs: Annotated[Any, Security(_DOCS_BEARER)]) -> Caller:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        authenticator = deps.authenticators.get(scheme.lower())
        try:
            if authenticator is None or not credentials.strip():
                raise NotAuthenticated("send credentials as 'Authorization: Bearer <token>'")
            return authenticator.authenticate(credentials, request)
        except NotAuthenticated as exc:
            headers = {"WWW-Authenticate": challenge, **exc.headers}
            raise MshError(exc.status, str(exc), headers=headers) from None

    def in_role(role: Role) -> Callable[..., Caller]:
        def check(who: Annotated[Caller, Depends(caller)]) -> Caller:
            if not who.has(role):
                raise MshError(403, f"Not authorized: this operation needs the {role} role")
            return who

        return check

    as_sender = Annotated[Caller, Depends(in_role(Role.SENDER))]
    as_receiver = Annotated[Caller, Depends(in_role(Role.RECEIVER))]
    source_header = Annotated[str, Depends(client_system)]

    async def json_body(
        request: Request, model: type[BaseModel], cap: int, holding: Holding | None = None
    ) -> Any:
        """The body as ``model``; with ``holding``, its bytes are taken from the process's
        budget as they arrive (a document's body; small bodies need none)."""
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media not in ("application/json", "text/json") and not media.endswith("+json"):
            raise bad_request("Model validation error occurred", "send the body as JSON")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise bad_request(f"The request is larger than the limit of {cap} bytes")
            if holding is not None and not holding.take(len(chunk)):
                raise MshError(
                    503,
                    "The hub holds as many documents as it may at once; send again later",
                    headers={"Retry-After": str(limits.retry_after_s)},
                )
            chunks.append(chunk)
        try:
            return model.model_validate(json.loads(b"".join(chunks)))
        except (ValueError, ValidationError) as exc:
            problems = (
                [validation_text(e) for e in exc.errors()]
                if isinstance(exc, ValidationError)
                else ["the body is not JSON"]
            )
            raise bad_request("Model validation error occurred", *problems[:20]) from None

    def received(message_id: uuid.UUID, who: Caller) -> MailboxMessage:
        """A message in a mailbox the caller may read."""
        with _stores():
            found = deps.mailbox.get(message_id)
        if found is None:
            raise not_found()
        if not who.may_read(found.entry.receiver_her_id, deps.register()):
            raise not_authorised()
        return found

    def sent(message_id: uuid.UUID, who: Caller) -> MessageStatus | None:
        """The status of a message the caller sent; ``None`` when only just accepted."""
        stored = None
        if deps.store is not None:
            with _stores():
                stored = deps.store.message_status(message_id)
        if stored is not None:
            if stored.principal != who.name:
                raise not_authorised()
            return stored
        recent = deps.recent.get(message_id)
        if recent is None:
            raise not_found()
        if recent[0] != who.name:
            raise not_authorised()
        return None

    async def submit(who: Caller, raw: bytes, source: str, received_at: datetime) -> uuid.UUID:
        submission = Submission(
            raw=raw,
            principal=who.principal(),
            adapter="http",
            received_at=received_at,
            content_type="application/xml",
            source_system=source,
        )
        outcome = await run_in_threadpool(gate.submit, submission)
        hub_message_id = sending.accepted_id(outcome, limits.retry_after_s)
        deps.recent.remember(hub_message_id, who.name, received_at)
        log.info(
            "message accepted",
            message_id=str(hub_message_id),
            adapter="http",
            api="msh",
            source_system=source,
        )
        return hub_message_id

    def created(request: Request, hub_message_id: uuid.UUID) -> JSONResponse:
        location = str(request.url_for("GetStatus", id=hub_message_id))
        return JSONResponse(str(hub_message_id), status_code=201, headers={"Location": location})

    @router.post(
        "/Messages",
        operation_id="PostMessage",
        summary="Send a message with business document",
        description="Created (201) only once the hub has stored the message durably.",
        status_code=201,
        response_model=uuid.UUID,
        responses=error_responses(400, 401, 403, 500, 503),
        openapi_extra=_body_schema(PostMessageRequest, "Business document and metadata"),
    )
    async def post_message(request: Request, who: as_sender, source: source_header) -> JSONResponse:
        received_at = datetime.now(UTC)
        cap = gate.limits.max_bytes * 4 // 3 + _JSON_OVERHEAD
        if not who.send_her_ids:  # nothing it may send: refuse before reading the body
            raise MshError(403, "Not authorized for HerId(s): the caller may send for none")
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > cap:
            raise bad_request(f"The request is larger than the limit of {cap} bytes")
        with gate.bodies.hold() as holding:
            try:
                body = await json_body(request, PostMessageRequest, cap, holding)
                raw = sending.document_of(body, gate.limits.max_bytes)
            except MshError as exc:
                reason = RefusalReason.BUSY if exc.status == 503 else RefusalReason.BAD_REQUEST
                gate.count_received("http")
                gate.count_refused("http", Refused(reason, exc.error))
                raise
            return created(request, await submit(who, raw, source, received_at))

    @router.get(
        "/Messages",
        operation_id="GetMessages",
        summary="Get a list of unread messages",
        response_model=list[Message],
        response_model_exclude_none=True,
        responses=error_responses(400, 401, 403, 500),
    )
    def get_messages(
        who: as_receiver,
        _source: source_header,
        receiver_her_ids: Annotated[
            list[Annotated[int, STRICT_HER_ID]], Query(alias="ReceiverHerIds", min_length=1)
        ],
        sender_her_id: Annotated[int | None, Query(alias="SenderHerId"), STRICT_HER_ID] = None,
        business_document_id: Annotated[
            str | None, Query(alias="BusinessDocumentId", max_length=100)
        ] = None,
        include_metadata: Annotated[bool, Query(alias="IncludeMetadata")] = False,
        messages_to_fetch: Annotated[int, Query(alias="MessagesToFetch", ge=1, le=100)] = 10,
        order_by: Annotated[OrderBy, Query(alias="OrderBy")] = OrderBy.ASCENDING,
    ) -> list[Message]:
        """Unread messages of receivers the caller may read."""
        wanted = sorted(set(receiver_her_ids))
        register = deps.register()
        refused = [h for h in wanted if not who.may_read(h, register)]
        if refused:
            raise not_authorised(refused)
        with _stores():
            entries = deps.mailbox.unread(
                wanted,
                messages_to_fetch,
                sender_her_id=sender_her_id,
                msg_id=business_document_id or None,
                newest_first=order_by is OrderBy.DESCENDING,
            )
        return [mapping.message(entry, include_metadata) for entry in entries]

    @router.get(
        "/Messages/{id}",
        operation_id="GetMessage",
        summary="Get message with given id",
        response_model=Message,
        response_model_exclude_none=True,
        responses=error_responses(400, 401, 403, 404, 500),
    )
    def get_message(message_id: MessageId, who: as_receiver, _source: source_header) -> Message:
        """One received message's metadata."""
        found = received(message_id, who)
        try:
            generated = sending.original_envelope(found, gate.limits).gen_date
        except MshError:  # stored, so once readable; without its GenDate the rest still holds
            generated = None
        return mapping.message(found.entry, True, generated)

    @router.get(
        "/Messages/{id}/business-document",
        operation_id="GetBusinessDocument",
        summary="Get business document for message",
        response_model=GetBusinessDocumentResponse,
        responses=error_responses(400, 401, 403, 404, 500),
    )
    def get_business_document(
        message_id: MessageId,
        who: as_receiver,
        _source: source_header,
    ) -> GetBusinessDocumentResponse:
        """The document of a received message, base64-encoded."""
        return mapping.business_document(received(message_id, who))

    @router.get(
        "/Messages/{id}/status",
        name="GetStatus",
        operation_id="GetStatus",
        summary="Get message status",
        description="Per receiver and copy receiver; only for the system that sent the message.",
        response_model=list[StatusInfo],
        responses=error_responses(400, 401, 403, 404, 500),
    )
    def get_status(
        message_id: MessageId, who: as_sender, _source: source_header
    ) -> list[StatusInfo]:
        """Transport state and AppRec status per receiver."""
        status = sent(message_id, who)
        return [] if status is None else mapping.statuses(status)

    @router.get(
        "/Messages/{id}/apprec",
        operation_id="GetApprecInfo",
        summary="Get ApprecInfo for the message's ApplicationReceipt, if any",
        response_model=list[ApprecInfo],
        responses=error_responses(400, 401, 403, 404, 500),
    )
    def get_apprec_info(
        message_id: MessageId, who: as_sender, _source: source_header
    ) -> list[ApprecInfo]:
        """The AppRec status and errors per receiver."""
        status = sent(message_id, who)
        return [] if status is None else mapping.apprecs(status)

    @router.post(
        "/Messages/{id}/apprec/{appRecSenderHerId}",
        operation_id="PostAppRec",
        summary="Send an application receipt for a message",
        description="The hub writes the AppRec (the version that answers the original) and "
        "routes it to the message's sender. appRecErrorList is required when Rejected.",
        status_code=201,
        response_model=uuid.UUID,
        responses=error_responses(400, 401, 403, 404, 500, 503),
        openapi_extra=_body_schema(PostAppRecRequest, "Application receipt status and errors"),
    )
    async def post_apprec(
        request: Request,
        message_id: MessageId,
        app_rec_sender_her_id: Annotated[int, Path(alias="appRecSenderHerId"), STRICT_HER_ID],
        who: as_receiver,
        source: source_header,
    ) -> JSONResponse:
        received_at = datetime.now(UTC)
        register = deps.register()
        if not who.may_read(app_rec_sender_her_id, register):
            raise not_authorised([app_rec_sender_her_id])
        body = await json_body(request, PostAppRecRequest, _JSON_OVERHEAD)
        found = await run_in_threadpool(received, message_id, who)
        receiver = found.entry.receiver_her_id
        organisation = register.organisation_of(receiver) or receiver
        if (register.organisation_of(app_rec_sender_her_id) or app_rec_sender_her_id) != (
            organisation
        ):
            raise bad_request(
                "Model validation error occurred",
                "appRecSenderHerId: not the receiver of this message or a party of its "
                "organisation",
            )
        original = sending.original_envelope(found, gate.limits)
        document = sending.apprec_document(found, original, app_rec_sender_her_id, body, register)
        return created(request, await submit(who, document, source, received_at))

    @router.put(
        "/Messages/{id}/read/{herId}",
        operation_id="MarkMessageAsRead",
        summary="Mark message as read",
        status_code=204,
        response_class=Response,
        responses=error_responses(400, 401, 403, 404, 500),
    )
    def mark_message_as_read(
        message_id: MessageId,
        her_id: Annotated[int, Path(alias="herId"), STRICT_HER_ID],
        who: as_receiver,
        _source: source_header,
    ) -> Response:
        """Mark read for the receiver ``herId`` (again is fine)."""
        if not who.may_read(her_id, deps.register()):
            raise not_authorised([her_id])
        found = received(message_id, who)
        if found.entry.receiver_her_id != her_id:
            raise not_found()
        with _stores():
            deps.mailbox.mark_read(message_id)
        return Response(status_code=204)

    return router
