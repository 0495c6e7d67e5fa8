"""Console sessions: a signed, expiring cookie naming the operator, and CSRF tokens bound to it.

The cookie holds the principal's name, the hash of the token it logged in with, a
random session id and an expiry, signed with HMAC-SHA256. Each request checks the
signature and the expiry, then that the principal still has that token and the
operator role, so removing a token from the principals file ends its sessions. The
CSRF token of a session is an HMAC of its id: a form carries it, a cross-site request
cannot know it.
"""

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

COOKIE = "meldingshub_console"


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in operator's session as the cookie carries it."""

    principal: str
    token_hash: str
    session_id: str
    expires: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Issues and reads session cookies and their CSRF tokens with one key."""

    def __init__(self, key: bytes, ttl: timedelta) -> None:
        self._key = key
        self.ttl = ttl

    def _sign(self, purpose: str, data: bytes) -> str:
        return _b64(hmac.new(self._key, purpose.encode() + b"\0" + data, hashlib.sha256).digest())

    def issue(self, principal: str, token_hash: str, now: datetime) -> tuple[str, Session]:
        """A new session and its cookie value."""
        session = Session(principal, token_hash, secrets.token_urlsafe(16), now + self.ttl)
        body = json.dumps(
            {
                "p": session.principal,
                "t": session.token_hash,
                "s": session.session_id,
                "e": int(session.expires.timestamp()),
            },
            separators=(",", ":"),
        ).encode()
        return f"{_b64(body)}.{self._sign('session', body)}", session

    def read(self, cookie: str | None, now: datetime) -> Session | None:
        """The session of a cookie value, or ``None`` when it is forged, malformed or expired."""
        if not cookie or cookie.count(".") != 1:
            return None
        encoded, signature = cookie.split(".")
        try:
            body = _unb64(encoded)
            if not hmac.compare_digest(signature, self._sign("session", body)):
                return None
            fields = json.loads(body)
            session = Session(
                str(fields["p"]),
                str(fields["t"]),
                str(fields["s"]),
                datetime.fromtimestamp(int(fields["e"]), UTC),
            )
        except (ValueError, KeyError, TypeError):
            return None
        return session if now < session.expires else None

    def csrf_token(self, session: Session) -> str:
        """The token every state-changing form of this session must carry."""
        return self._sign("csrf", session.session_id.encode())

    def csrf_valid(self, session: Session, token: str | None) -> bool:
        """True when ``token`` is this session's CSRF token."""
        expected = self.csrf_token(session).encode()
        return bool(token) and hmac.compare_digest(str(token).encode("utf-8", "replace"), expected)
