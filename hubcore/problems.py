"""RFC 9457 problem details: the one error shape of every HTTP API the hub serves.

Raise :class:`ProblemError` in a route or dependency. Routers built with
``APIRouter(route_class=ProblemRoute)`` (or :func:`problem_route`, to count invalid
requests) turn it, FastAPI's validation errors (400 ``invalid-request``) and HTTP errors
into ``application/problem+json`` themselves, so each API answers the same way
whichever application mounts it, and no API's handling leaks into another's.
:func:`install_problem_handlers` covers what no router answers (an unknown path: 404).
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

_SLUG_OF_STATUS = {404: "not-found", 405: "method-not-allowed"}


class Problem(BaseModel):
    """The problem detail object (RFC 9457 section 3.1), as documented in OpenAPI."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class ProblemError(HTTPException):
    """An HTTP error with a problem type; its detail text is safe to show the client.

    ``extensions`` become members of the problem object (RFC 9457 section 3.2), e.g. the
    AppRec code a failed register look-up would give.
    """

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        headers: Mapping[str, str] | None = None,
        **extensions: object,
    ) -> None:
        super().__init__(status_code=status, detail=detail, headers=dict(headers or {}))
        self.slug = slug
        self.title = title
        self.extensions = extensions

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
    extensions: Mapping[str, object] | None = None,
) -> JSONResponse:
    """A ``application/problem+json`` response."""
    body: dict[str, Any] = {"type": type_uri, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in (extensions or {}).items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def render_problem(request: Request, exc: Exception) -> Response:
    """``exc`` (a :class:`ProblemError`, validation or HTTP error) as a problem detail."""
    instance = request.url.path
    if isinstance(exc, ProblemError):
        return problem_response(
            exc.status_code,
            exc.title,
            str(exc.detail),
            exc.type_uri,
            exc.headers,
            instance,
            exc.extensions,
        )
    if isinstance(exc, RequestValidationError):
        where = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p not in ('query', 'path', 'body'))}"
            f": {e.get('msg', 'invalid')}"
            for e in exc.errors()
        )
        return problem_response(
            400,
            "Invalid request",
            where or None,
            PROBLEM_TYPE_BASE + "invalid-request",
            instance=instance,
        )
    assert isinstance(exc, StarletteHTTPException)
    slug = _SLUG_OF_STATUS.get(exc.status_code, "http-error")
    return problem_response(
        exc.status_code,
        str(exc.detail) if exc.detail else "error",
        None,
        PROBLEM_TYPE_BASE + slug,
        headers=exc.headers,
        instance=instance,
    )


OnInvalid = Callable[[Request], None]


def problem_route(on_invalid: OnInvalid | None = None) -> type[APIRoute]:
    """A route class whose errors are problem details; ``on_invalid`` sees each request
    refused as invalid (400), for the API's own metrics."""

    class _ProblemRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def handle(request: Request) -> Response:
                try:
                    return await handler(request)
                except (RequestValidationError, StarletteHTTPException) as exc:
                    if on_invalid is not None and isinstance(exc, RequestValidationError):
                        on_invalid(request)
                    return render_problem(request, exc)

            return handle

    return _ProblemRoute


ProblemRoute = problem_route()
"""The route class of every API router: errors are problem details."""


def install_problem_handlers(app: FastAPI) -> None:
    """Answer what no route handles (unknown path, wrong method) with a problem detail."""

    async def render(request: Request, exc: Exception) -> Response:
        return render_problem(request, exc)

    app.add_exception_handler(StarletteHTTPException, render)
    app.add_exception_handler(RequestValidationError, render)


_TEXTS = {
    400: "a malformed request (the detail names what)",
    401: "no credentials, or credentials the hub does not know",
    403: "the principal may not do this",
    404: "no such resource for this principal",
    413: "larger than the size limit",
    415: "content type other than the ones listed",
    422: "well-formed, but cannot be processed (the detail names why)",
    503: "the hub cannot answer right now; retry after Retry-After seconds",
}


def problem_responses(
    *statuses: int, texts: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries saying these statuses answer with a problem detail."""
    schema = Problem.model_json_schema()
    described = {**_TEXTS, **(texts or {})}
    return {
        status: {
            "description": described.get(status, "error"),
            "content": {PROBLEM_JSON: {"schema": schema}},
        }
        for status in statuses
    }
