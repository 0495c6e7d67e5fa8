"""Refusals of HelseID credentials: the HTTP status, a closed reason and the headers to answer with.

A refusal never quotes the token or the proof: its detail is one of our own short
sentences, so it is safe in a log line, an ``ErrorMessage`` body and a
``WWW-Authenticate`` value. The reason is a closed set, fit for a metric label.
"""

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from hubcore.errors import MeldingshubError


class Refusal(StrEnum):
    """Why a request's HelseID credentials were refused (closed set)."""

    MISSING_CREDENTIALS = "missing_credentials"
    WRONG_SCHEME = "wrong_scheme"
    MALFORMED_TOKEN = "malformed_token"  # noqa: S105  (a reason code, not a secret)
    INVALID_PROOF = "invalid_proof"
    STALE_PROOF = "stale_proof"
    REPLAYED_PROOF = "replayed_proof"
    NONCE_REQUIRED = "nonce_required"
    INVALID_SIGNATURE = "invalid_signature"
    WRONG_ISSUER = "wrong_issuer"
    EXPIRED_TOKEN = "expired_token"  # noqa: S105
    KEY_BINDING = "key_binding"
    INVALID_CLAIMS = "invalid_claims"
    WRONG_AUDIENCE = "wrong_audience"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    ISSUER_KEYS_UNAVAILABLE = "issuer_keys_unavailable"
    REPLAY_STORE_FULL = "replay_store_full"
    REPLAY_STORE_UNAVAILABLE = "replay_store_unavailable"


class HelseIdRefused(MeldingshubError):  # noqa: N818  (reads as what happened)
    """The request's HelseID credentials were refused.

    ``status`` is the HTTP status to answer with (401, 403 or 503), ``headers`` the
    response headers that belong to the refusal (``WWW-Authenticate``, and
    ``DPoP-Nonce`` or ``Retry-After`` where they apply).
    """

    def __init__(
        self, status: int, reason: Refusal, detail: str, headers: Mapping[str, str]
    ) -> None:
        super().__init__(f"{status} {reason.value}: {detail}")
        self.status = status
        self.reason = reason
        self.detail = detail
        self.headers: Mapping[str, str] = MappingProxyType(dict(headers))
