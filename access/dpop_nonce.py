"""Server nonces for DPoP proofs (RFC 9449 section 9), stateless: an HMAC of the time window.

A nonce names its time window and carries a MAC of it under the server's key, so
any replica with the same key can check it without shared state. It is accepted
in its own window and the next, so a nonce handed out just before a window turns
still works for one full lifetime. A client that holds a stale one is answered
``use_dpop_nonce`` with a fresh nonce, as the RFC describes.
"""

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable

_MAC_BYTES = 16
_WINDOW_BYTES = 8
MAX_NONCE_CHARS = 64
"""A nonce in a proof longer than this is not one of ours."""
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


class NonceIssuer:
    """Makes and checks nonces; the key is the settings' secret or random per process."""

    def __init__(
        self,
        lifetime_s: float,
        secret: bytes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lifetime_s = lifetime_s
        self._key = secret if secret else secrets.token_bytes(32)
        self._clock = clock

    def current(self) -> str:
        """The nonce of the current window (send it as ``DPoP-Nonce``)."""
        return self._make(self._window())

    def valid(self, nonce: str) -> bool:
        """True when ``nonce`` is ours and of the current or the previous window."""
        if len(nonce) > MAX_NONCE_CHARS or _BASE64URL.fullmatch(nonce) is None:
            return False
        try:
            raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
        except (binascii.Error, ValueError):
            return False
        if len(raw) != _WINDOW_BYTES + _MAC_BYTES:
            return False
        window = int.from_bytes(raw[:_WINDOW_BYTES], "big")
        if window not in (self._window(), self._window() - 1):
            return False
        return hmac.compare_digest(raw[_WINDOW_BYTES:], self._mac(window))

    def _window(self) -> int:
        return int(self._clock() // self._lifetime_s)

    def _mac(self, window: int) -> bytes:
        message = b"dpop-nonce\n" + window.to_bytes(_WINDOW_BYTES, "big")
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def _make(self, window: int) -> str:
        raw = window.to_bytes(_WINDOW_BYTES, "big") + self._mac(window)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
