"""RFC 9457 problem details for every error the hub's HTTP APIs return.

Raise :class:`ProblemError` anywhere in a route or dependency. Routers built with
``APIRouter(route_class=ProblemRoute)`` turn it (and FastAPI's own validation and
HTTP errors) into ``application/problem+json`` without any app-level set-up;
:func:`install_problem_handlers` does the same for a whole application.
"""

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "urn:meldingshub:problem:"
"""Problem types are URNs: stable names clients can switch on, without a web page behind them."""


class Problem(BaseModel):
    """The problem detail object (RFC 9457 section 3.1), as documented in OpenAPI."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class ProblemError(HTTPException):
    """An HTTP error with a problem type; its detail text is safe to show the client."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=detail, headers=dict(headers or {}))
        self.slug = slug
        self.title = title

    @property
    def type_uri(self) -> str:
        """The problem type URI, e.g. ``urn:meldingshub:problem:invalid-token``."""
        return PROBLEM_TYPE_BASE + self.slug


def problem_response(
    status: int,
    title: str,
    detail: str | None,
    type_uri: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    instance: str | None = None,
) -> JSONResponse:
    """A ``application/problem+json`` response."""
    body: dict[str, Any] = {"type": type_uri, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _render(request: Request, exc: Exception) -> Response:
    instance = request.url.path
    if isinstance(exc, ProblemError):
        return problem_response(
            exc.status_code, exc.title, str(exc.detail), exc.type_uri, exc.headers, instance
        )
    if isinstance(exc, RequestValidationError):
        where = "; ".join(
            f"{'.'.join(str(p) for p in error.get('loc', ()))}: {error.get('msg', 'invalid')}"
            for error in exc.errors()
        )
        return problem_response(
            422,
            "invalid request",
            where or None,
            PROBLEM_TYPE_BASE + "invalid-request",
            instance=instance,
        )
    assert isinstance(exc, StarletteHTTPException)
    return problem_response(
        exc.status_code,
        str(exc.detail) if exc.detail else "error",
        None,
        headers=exc.headers,
        instance=instance,
    )


class ProblemRoute(APIRoute):
    """A route whose errors are problem details, whichever application mounts it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except (RequestValidationError, StarletteHTTPException) as exc:
                return _render(request, exc)

        return handle


def install_problem_handlers(app: FastAPI) -> None:
    """Render every HTTP and validation error of ``app`` as a problem detail."""

    async def render(request: Request, exc: Exception) -> Response:
        return _render(request, exc)

    app.add_exception_handler(StarletteHTTPException, render)
    app.add_exception_handler(RequestValidationError, render)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries saying these statuses answer with a problem detail."""
    texts = {
        400: "not an XML document, or a malformed request",
        401: "no bearer token, or a token the hub does not know",
        403: "the document's sender is not one this principal may send for",
        404: "no such message for this principal",
        413: "larger than the size limit",
        415: "content type other than application/xml or application/json",
        503: "the hub cannot take the message right now; retry after Retry-After seconds",
    }
    schema = Problem.model_json_schema()
    return {
        status: {
            "description": texts.get(status, "error"),
            "content": {PROBLEM_JSON: {"schema": schema}},
        }
        for status in statuses
    }
