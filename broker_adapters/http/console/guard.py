"""Who may use the console: operators, by bearer token or by session cookie.

A bearer token in the ``Authorization`` header (scripts, tests) needs no CSRF token:
a browser never sends one on its own. A session cookie does, on every POST. Without
credentials a browser's page request (``Accept: text/html``) is sent to the login
page; any other request gets 401. A known principal without the operator role gets 403.
"""

import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from fastapi import Request

from access.principals import Principal, Role
from access.principals_file import PrincipalsFile
from broker_adapters.http.console.session import COOKIE, Session, Sessions

log = structlog.get_logger(__name__)


class Denied(Exception):  # noqa: N818  (an answer, not an error of the hub)
    """The request is refused: ``status`` 401 or 403, or a redirect to the login page."""

    def __init__(self, status: int, detail: str, login: bool = False) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.login = login


@dataclass(frozen=True, slots=True)
class Operator:
    """The operator behind a console request."""

    principal: Principal
    session: Session | None
    csrf: str
    """This session's CSRF token for the page's forms ("" with a bearer token)."""


class ConsoleGuard:
    """Resolves a request to an :class:`Operator` or raises :class:`Denied`."""

    def __init__(self, principals: PrincipalsFile, sessions: Sessions) -> None:
        self._principals = principals
        self.sessions = sessions

    def login(self, token: str) -> Principal | None:
        """The operator a token belongs to (``None``: unknown token or not an operator)."""
        principal = self._principals.current().authenticate(token.strip())
        return principal if principal is not None and principal.has(Role.OPERATOR) else None

    def __call__(self, request: Request) -> Operator:
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Denied(401, "send the operator's token as 'Authorization: Bearer <token>'")
            principal = self._principals.current().authenticate(token.strip())
            if principal is None:
                raise Denied(401, "the bearer token is not known to the hub")
            return Operator(self._operator(principal), None, "")
        session = self.sessions.read(request.cookies.get(COOKIE), datetime.now(UTC))
        if session is not None:
            principal = self._principals.current().get(session.principal)
            if principal is not None and session.token_hash in principal.token_hashes:
                return Operator(
                    self._operator(principal), session, self.sessions.csrf_token(session)
                )
        wants_page = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        raise Denied(401, "log in with an operator's token", login=wants_page)

    @staticmethod
    def _operator(principal: Principal) -> Principal:
        if not principal.has(Role.OPERATOR):
            raise Denied(403, "the console needs the 'operator' role")
        return principal


def require_csrf(operator: Operator, fields: dict[str, list[str]]) -> None:
    """Refuse a session's form without its CSRF token (403); a bearer request needs none."""
    if operator.session is None:
        return
    token = (fields.get("csrf") or [""])[0]
    # As bytes: compare_digest refuses str with non-ASCII characters (a raise, not a no).
    if not token or not hmac.compare_digest(
        token.encode("utf-8", "replace"), operator.csrf.encode()
    ):
        raise Denied(403, "the form's CSRF token is missing or wrong; reload the page")


def audit(action: str, operator: Operator, hub_message_id: uuid.UUID | None = None) -> None:
    """Log an operator's action: who and which message, never content."""
    log.info(
        "console action",
        action=action,
        operator=operator.principal.name,
        message_id=None if hub_message_id is None else str(hub_message_id),
    )
