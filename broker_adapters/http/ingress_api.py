"""HTTP ingress, shaped after NHN's message server REST API.

``POST /v1/messages`` takes the business document as ``application/xml`` bytes, or
JSON with a base64 ``businessDocument``, and answers ``202`` with the hub's id only
after the broker durably took the write; ``GET /v1/messages/{id}/status`` reports
the transport and AppRec state to the principal that sent it. Every error is an
RFC 9457 problem detail. The composition root mounts :func:`ingress_router` in
the hub's API application.
"""

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlalchemy.exc import SQLAlchemyError

from access.principals import Principal, Role
from access.principals_file import PrincipalsFile
from broker_adapters.http.auth import bearer_principal
from broker_adapters.http.status import (
    MessageStatusView,
    RecentMessages,
    accepted_view,
    status_view,
)
from broker_adapters.ingress.base import Accepted, Outcome, RefusalReason, Refused, Submission
from broker_adapters.ingress.budget import ByteBudget, Holding
from broker_adapters.ingress.settings import IngressSettings
from hubcore.problems import ProblemError, ProblemRoute, problem_responses
from hubstats.store import StatisticsStore
from schemas.xmlparse import ParseLimits

log = structlog.get_logger(__name__)

XML_TYPES = frozenset({"application/xml", "text/xml"})
JSON_TYPE = "application/json"
_MAX_REQUEST_ID = 200
_JSON_OVERHEAD = 64 * 1024
"""Room for the JSON wrapper around a base64 document at the size limit."""

_SUBMISSION_PROBLEMS = {
    400: "not an XML document, or a malformed request",
    403: "the document's sender is not one this principal may send for",
    415: "content type other than application/xml or application/json",
}

_STATUS_FOR: dict[RefusalReason, tuple[int, str]] = {
    RefusalReason.UNAUTHENTICATED: (401, "authentication required"),
    RefusalReason.UNSUPPORTED_MEDIA_TYPE: (415, "unsupported content type"),
    RefusalReason.BAD_REQUEST: (400, "malformed request"),
    RefusalReason.NOT_XML: (400, "not an XML message"),
    RefusalReason.TOO_LARGE: (413, "message too large"),
    RefusalReason.SENDER_NOT_ALLOWED: (403, "sender not allowed for this principal"),
    RefusalReason.BROKER_UNAVAILABLE: (503, "message not accepted, try again"),
    RefusalReason.BUSY: (503, "the hub is busy receiving, try again"),
    RefusalReason.UNPROCESSABLE: (400, "message cannot be processed"),
}


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class JsonSubmission(_Camel):
    """The JSON form of a submission (as NHN's message server takes it)."""

    business_document: str = Field(
        description="The complete XML document (MsgHead, AppRec, ...), base64-encoded."
    )


class SubmissionReceipt(_Camel):
    """The answer to an accepted submission: the hub's id and where to follow it."""

    id: UUID = Field(description="The hub's id of the message.")
    status_url: str = Field(description="Where the message's status can be read.")


class Gate(Protocol):
    """What the API needs of :class:`~broker_adapters.ingress.gate.IngressGate`."""

    @property
    def settings(self) -> IngressSettings:
        """The limits to enforce."""
        ...

    @property
    def limits(self) -> ParseLimits:
        """The documents taken (size, depth, attributes)."""
        ...

    @property
    def bodies(self) -> ByteBudget:
        """Request bodies held at once by every HTTP API of the process."""
        ...

    def submit(self, submission: Submission) -> Outcome:
        """Screen and durably write; blocking."""
        ...

    def count_received(self, adapter: str) -> None:
        """Count a message refused before it reached the gate."""
        ...

    def count_refused(self, adapter: str, refused: Refused) -> None:
        """Count a refusal decided by the API."""
        ...


@dataclass
class IngressApiDeps:
    """What the ingress API needs; built once by the composition root."""

    gate: Gate
    """An :class:`~broker_adapters.ingress.gate.IngressGate`."""
    principals: PrincipalsFile
    store: StatisticsStore | None = None
    """The statistics store the aggregator fills; ``None``: status only for recent messages."""
    recent: RecentMessages = field(default_factory=lambda: RecentMessages(100_000))


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _request_id(request: Request) -> str | None:
    """The sender's ``X-Request-Id``, kept as the transport message id when it is sane."""
    value = request.headers.get("x-request-id", "").strip()
    return value if 0 < len(value) <= _MAX_REQUEST_ID and value.isprintable() else None


def _refusal(reason: RefusalReason, detail: str, retry_after_s: int) -> ProblemError:
    status, title = _STATUS_FOR[reason]
    headers = {"Retry-After": str(retry_after_s)} if status == 503 else None
    return ProblemError(status, reason.value.replace("_", "-"), title, detail, headers)


def _request_body_schema() -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": "The business document: raw XML bytes, or JSON with it in base64.",
            "content": {
                "application/xml": {"schema": {"type": "string", "format": "binary"}},
                JSON_TYPE: {"schema": JsonSubmission.model_json_schema(by_alias=True)},
            },
        }
    }


def ingress_router(deps: IngressApiDeps) -> APIRouter:
    """The ingress API: message submission and per-message status."""
    gate = deps.gate
    limits = gate.settings
    router = APIRouter(route_class=ProblemRoute, tags=["messages"])

    def count(refused: Refused) -> None:
        gate.count_received("http")
        gate.count_refused("http", refused)

    def refuse(reason: RefusalReason, detail: str) -> ProblemError:
        count(Refused(reason, detail))
        return _refusal(reason, detail, limits.retry_after_s)

    submitter = bearer_principal(
        deps.principals,
        Role.SENDER,
        on_refused=lambda why: count(Refused(RefusalReason.UNAUTHENTICATED, why)),
    )
    reader = bearer_principal(deps.principals, Role.SENDER)

    async def read_capped(request: Request, cap: int, holding: Holding) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise refuse(RefusalReason.TOO_LARGE, f"the body is {declared} bytes; limit {cap}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise refuse(RefusalReason.TOO_LARGE, f"the body is over the limit of {cap} bytes")
            if not holding.take(len(chunk)):
                raise refuse(
                    RefusalReason.BUSY,
                    "the hub holds as many documents as it may at once; send again later",
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def business_document(body: bytes) -> bytes:
        try:
            wrapper = JsonSubmission.model_validate(json.loads(body))
            raw = base64.b64decode(wrapper.business_document, validate=True)
        except (ValueError, binascii.Error, TypeError):  # json, pydantic and base64 errors
            raise refuse(
                RefusalReason.BAD_REQUEST,
                "JSON must be an object with businessDocument, the document in base64",
            ) from None
        if len(raw) > gate.limits.max_bytes:
            raise refuse(
                RefusalReason.TOO_LARGE,
                f"the document is {len(raw)} bytes; the limit is {gate.limits.max_bytes}",
            )
        return raw

    @router.post(
        "/v1/messages",
        status_code=202,
        summary="Submit a message",
        description="Accepted (202) only once the message is durably stored in the hub.",
        response_model=SubmissionReceipt,
        responses=problem_responses(400, 401, 403, 413, 415, 503, texts=_SUBMISSION_PROBLEMS),
        openapi_extra=_request_body_schema(),
    )
    async def submit_message(
        request: Request, principal: Annotated[Principal, Depends(submitter)]
    ) -> JSONResponse:
        received_at = datetime.now(UTC)
        media = _media_type(request)
        if media not in XML_TYPES and media != JSON_TYPE:
            raise refuse(
                RefusalReason.UNSUPPORTED_MEDIA_TYPE,
                # The sender's header is not echoed: it is not from a closed set.
                "send application/xml or application/json",
            )
        cap = gate.limits.max_bytes
        if media == JSON_TYPE:
            cap = cap * 4 // 3 + _JSON_OVERHEAD
        with gate.bodies.hold() as holding:
            body = await read_capped(request, cap, holding)
            raw = business_document(body) if media == JSON_TYPE else body
            submission = Submission(
                raw=raw,
                principal=principal,
                adapter="http",
                received_at=received_at,
                transport_message_id=_request_id(request),
                content_type=media,
            )
            outcome = await run_in_threadpool(gate.submit, submission)
        if isinstance(outcome, Refused):
            raise _refusal(outcome.reason, outcome.detail, limits.retry_after_s)
        assert isinstance(outcome, Accepted)
        deps.recent.remember(outcome.hub_message_id, principal.name, received_at)
        status_url = str(request.url_for("get_message_status", message_id=outcome.hub_message_id))
        receipt = SubmissionReceipt(id=outcome.hub_message_id, status_url=status_url)
        log.debug("message accepted", message_id=str(outcome.hub_message_id), adapter="http")
        return JSONResponse(
            receipt.model_dump(mode="json", by_alias=True),
            status_code=202,
            headers={"Location": status_url},
        )

    @router.get(
        "/v1/messages/{message_id}/status",
        name="get_message_status",
        summary="Status of a message",
        description="Transport state and AppRec state; only for the principal that sent it.",
        response_model=MessageStatusView,
        responses=problem_responses(401, 403, 404, 503),
    )
    def get_message_status(
        message_id: str, principal: Annotated[Principal, Depends(reader)]
    ) -> JSONResponse:
        not_found = ProblemError(
            404,
            "unknown-message",
            "no such message",
            "no message with this id was sent by this principal (ids come from the 202 answer)",
        )
        try:
            wanted = UUID(message_id)
        except ValueError:
            raise not_found from None
        view: MessageStatusView | None = None
        if deps.store is not None:
            try:
                stored = deps.store.message_status(wanted)
            except SQLAlchemyError as exc:
                log.warning("status store unavailable", error=type(exc).__name__)
                raise ProblemError(
                    503,
                    "status-unavailable",
                    "status not available",
                    "the status store cannot be read right now",
                    {"Retry-After": str(limits.retry_after_s)},
                ) from None
            if stored is not None:
                if stored.principal != principal.name:
                    raise not_found
                view = status_view(stored)
        if view is None:
            recent = deps.recent.get(wanted)
            if recent is None or recent[0] != principal.name:
                raise not_found
            view = accepted_view(wanted, recent[1])
        return JSONResponse(
            view.model_dump(mode="json", by_alias=True), headers={"Cache-Control": "no-store"}
        )

    return router
