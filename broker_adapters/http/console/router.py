"""The console's router: its route class (security headers, refusals as pages), log-in and
log-out, the stylesheet, and the page routers of :mod:`.messages`, :mod:`.dead_letters`
and :mod:`.overview`.
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from access.tokens import token_hash
from broker_adapters.http.console import dead_letters, messages, overview
from broker_adapters.http.console.deps import ConsoleDeps
from broker_adapters.http.console.guard import ConsoleGuard, Operator, audit, require_csrf
from broker_adapters.http.console.render import STYLESHEET, first, form, page
from broker_adapters.http.console.route import PREFIX, ConsoleRoute
from broker_adapters.http.console.session import COOKIE, Sessions


def _safe_next(target: str) -> str:
    """Only a console path: never an open redirect."""
    if target.startswith(f"{PREFIX}/") and not target.startswith("//") and "\\" not in target:
        return target
    return f"{PREFIX}/messages"


def console_router(deps: ConsoleDeps) -> APIRouter:
    """The console under ``/console/`` (not in the OpenAPI document: these are pages)."""
    guard = ConsoleGuard(deps.principals, Sessions(deps.session_key, deps.session_ttl))
    router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

    @router.get("/")
    def index() -> Response:
        return RedirectResponse(f"{PREFIX}/messages", 303)

    @router.get("/static/console.css")
    def stylesheet() -> Response:
        return Response(STYLESHEET, media_type="text/css")

    @router.get("/login")
    def login_page(next: str = "") -> Response:
        return page("login.html", operator=None, next=_safe_next(next), error="")

    @router.post("/login")
    async def login(request: Request) -> Response:
        fields = await form(request)
        target = _safe_next(first(fields, "next"))
        token = first(fields, "token")
        principal = guard.login(token)
        if principal is None:
            return page(
                "login.html",
                401,
                operator=None,
                next=target,
                error="That token is not an operator's token.",
            )
        cookie, session = guard.sessions.issue(principal.name, token_hash(token.strip()), _now())
        response = RedirectResponse(target, 303)
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=int(guard.sessions.ttl.total_seconds()),
            path=PREFIX,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        audit("login", Operator(principal, session, ""))
        return response

    @router.post("/logout")
    async def logout(request: Request, operator: Annotated[Operator, Depends(guard)]) -> Response:
        require_csrf(operator, await form(request))
        audit("logout", operator)
        response = RedirectResponse(f"{PREFIX}/login", 303)
        response.delete_cookie(COOKIE, path=PREFIX)
        return response

    for part in (messages, dead_letters, overview):
        router.include_router(part.routes(deps, guard))
    return router


def _now() -> datetime:
    return datetime.now(UTC)
