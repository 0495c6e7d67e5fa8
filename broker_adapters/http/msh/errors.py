"""Errors of the MSH API as NHN's server gives them: an ``ErrorMessage`` body, never a trace.

Raise :class:`MshError` in a route or dependency. Routers built with
``APIRouter(route_class=MshRoute)`` render it, FastAPI's own validation errors
(400, ``errorCode`` 1000 with the validation errors, as the description shows)
and HTTP errors as ``ErrorMessage`` with a request id, whichever application
mounts them; anything unforeseen is a 500 whose body names nothing internal.
"""

import uuid
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import structlog
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from broker_adapters.http.msh.models import ErrorMessage
from hubcore.errors import describe

log = structlog.get_logger(__name__)

VALIDATION_ERROR_CODE = 1000
"""NHN's ``errorCode`` for a request that does not validate."""
_MAX_VALIDATION_ERRORS = 20


class MshError(Exception):
    """An HTTP error whose text is safe to return to the client."""

    def __init__(
        self,
        status: int,
        error: str,
        *,
        validation_errors: list[str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.validation_errors = validation_errors
        self.headers = dict(headers or {})


def bad_request(error: str, *problems: str) -> MshError:
    """400 with the NHN validation error code."""
    return MshError(400, error, validation_errors=list(problems) or None)


def not_authorised(her_ids: list[int] | None = None) -> MshError:
    """403 in NHN's words; names only the HER-ids the client itself asked for."""
    if her_ids:
        return MshError(403, f"Not authorized for HerId(s): {', '.join(map(str, her_ids))}")
    return MshError(403, "Not authorized for this message")


def not_found() -> MshError:
    """404 for an id the hub does not know."""
    return MshError(404, "Could not find message with the given id")


def error_response(
    status: int,
    error: str,
    validation_errors: list[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An ``ErrorMessage`` response with a fresh request id."""
    body = ErrorMessage(
        error=error,
        errorCode=VALIDATION_ERROR_CODE if validation_errors else 0,
        validationErrors=validation_errors,
        requestId=str(uuid.uuid4()),
    )
    return JSONResponse(
        body.model_dump(mode="json", by_alias=True), status_code=status, headers=headers
    )


def validation_text(error: Mapping[str, Any]) -> str:
    """Where a validation error is and what is wrong; never the value itself."""
    location = [str(part) for part in error.get("loc", ()) if part != "body"]
    # The value itself is never echoed: it may be a document or a token.
    return f"{'.'.join(location) or 'request'}: {error.get('msg', 'invalid')}"


def render(exc: Exception) -> Response:
    """The ``ErrorMessage`` response for an exception raised while handling a request."""
    if isinstance(exc, MshError):
        return error_response(exc.status, exc.error, exc.validation_errors, exc.headers)
    if isinstance(exc, RequestValidationError):
        problems = [validation_text(e) for e in exc.errors()][:_MAX_VALIDATION_ERRORS]
        return error_response(400, "Model validation error occurred", problems or ["invalid"])
    if isinstance(exc, StarletteHTTPException):
        return error_response(exc.status_code, str(exc.detail), headers=exc.headers)
    log.error("MSH API request failed unexpectedly", error=describe(exc))
    return error_response(500, "An unknown error occurred")


class MshRoute(APIRoute):
    """A route whose every error is an ``ErrorMessage``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # every failure answers in the API's own error shape
                return render(exc)

        return handle


_TEXTS = {
    400: "Bad request - the request contained invalid data",
    401: "Unauthorized - no credentials, or credentials the hub does not accept",
    403: "Forbidden - not authorized for the HER-id(s) or the message",
    404: "Not found - no message with the given id",
    500: "Internal server error - unexpected server error",
    503: "Service unavailable - the hub cannot take the message now; retry after Retry-After",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries: these statuses answer with an ``ErrorMessage``."""
    return {status: {"description": _TEXTS[status], "model": ErrorMessage} for status in statuses}
