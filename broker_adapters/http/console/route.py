"""The console's route class: security headers on every answer, refusals as pages."""

from collections.abc import Callable, Coroutine
from typing import Any, Final
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute

from broker_adapters.http.console.guard import Denied
from broker_adapters.http.console.render import page, secure

PREFIX: Final = "/console"


class ConsoleRoute(APIRoute):
    """Every console answer has the security headers; a refusal is a page (or the login)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                response = await handler(request)
            except Denied as denied:
                if denied.login:
                    wanted = request.url.path + (
                        f"?{request.url.query}" if request.url.query else ""
                    )
                    target = quote(wanted, safe="/")
                    return secure(RedirectResponse(f"{PREFIX}/login?next={target}", 303))
                response = page("error.html", denied.status, message=denied.detail, operator=None)
                if denied.status == 401:
                    response.headers["WWW-Authenticate"] = 'Bearer realm="meldingshub console"'
                return response
            return secure(response)

        return handle
