"""HelseID credentials as NHN's message server takes them: ``Authorization: DPoP`` plus a proof.

:meth:`HelseIdVerifier.verify` is the one entry point, independent of any web
framework: given the request's method, URL, ``Authorization`` and ``DPoP`` header
values it returns the caller's :class:`HelseIdIdentity` or raises
:class:`~access.errors.HelseIdRefused` with the status, reason and headers to answer
with. In order: the header sizes and the scheme; the proof on its own
(:mod:`access.dpop`); the server nonce; the token's signature against the issuer's
keys (:mod:`access.jwks`), issuer and times, audience and scope; the token's
``cnf.jkt`` against the proof's key; the caller's claims; and last the proof's
``jti``, recorded only for a request that passed everything else.

The checks are CPU-bound and a JWKS fetch may block for its timeout: an async web
handler calls :meth:`verify` in a worker thread. Nothing here logs a token or a proof.
"""

import re
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

import structlog

from access.dpop import ProofError, check_proof, normalize_htu
from access.dpop_nonce import NonceIssuer
from access.errors import HelseIdRefused, Refusal
from access.helseid_settings import HelseIdSettings
from access.helseid_token import (
    ClaimsError,
    HelseIdIdentity,
    bound_key,
    check_audience_and_scope,
    check_validity,
    read_identity,
)
from access.jwks import IssuerKeys, JwksUnavailable, UnknownKey
from access.jws import JwsError, read_compact, registry, signature_valid
from access.replay import ReplayCache, ReplayStore, ReplayStoreFull, ReplayStoreUnavailable

log = structlog.get_logger(__name__)

MAX_AUTHORIZATION_CHARS = 16 * 1024
"""Longest ``Authorization`` value read; HelseID tokens are a few kilobytes."""
MAX_PROOF_CHARS = 8 * 1024
"""Longest ``DPoP`` value read; an RSA-4096 proof is about 2.5 kilobytes."""
RETRY_AFTER_S = 5
_AUTHORIZATION = re.compile(r"([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*) +([^ ]+) *")


def _quoted(text: str) -> str:
    """``text`` as an HTTP quoted-string (RFC 9110 5.6.4)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def is_dpop_authorization(authorization: str | None) -> bool:
    """True when ``authorization`` uses the DPoP scheme (so the HTTP layer asks this module,
    not the principals file's bearer tokens)."""
    if not authorization:
        return False
    scheme, _, _ = authorization.strip().partition(" ")
    return scheme.lower() == "dpop"


class HelseIdVerifier:
    """Checks HelseID DPoP credentials against one issuer; thread-safe, one per process."""

    def __init__(
        self,
        settings: HelseIdSettings,
        *,
        keys: IssuerKeys | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        replay: ReplayStore | None = None,
    ) -> None:
        """``replay`` defaults to this process's memory; give the shared store when several
        replicas serve the API, so a proof one of them took is refused by the others."""
        if settings.issuer is None:
            raise ValueError("HelseID is not configured: no issuer")
        self._settings = settings
        self._issuer = settings.issuer
        self._clock = clock
        self._keys = keys or IssuerKeys.from_settings(settings, monotonic)
        self._registry = registry(settings.algorithms)
        self._algs = " ".join(settings.algorithms)
        secret = (
            settings.nonce_secret.get_secret_value().encode() if settings.nonce_secret else None
        )
        self._nonces = NonceIssuer(settings.nonce_lifetime_s, secret, clock)
        self._replay = replay or ReplayCache(
            settings.replay_window_s, settings.replay_max_entries, monotonic
        )
        self._public_url = settings.public_url.rstrip("/") if settings.public_url else None

    @property
    def keys(self) -> IssuerKeys:
        """The issuer's keys (call ``refresh()`` at start to load them early)."""
        return self._keys

    def nonce_headers(self) -> dict[str, str]:
        """``DPoP-Nonce`` for a response (any response may carry a fresh nonce); empty when
        nonces are off."""
        return {"DPoP-Nonce": self._nonces.current()} if self._settings.nonce_required else {}

    def challenge(self) -> dict[str, str]:
        """The headers of a 401 to a request without credentials."""
        return {"WWW-Authenticate": f'DPoP algs="{self._algs}"', **self.nonce_headers()}

    def verify(
        self,
        method: str,
        url: str,
        authorization: str | None,
        dpop: str | Sequence[str] | None,
    ) -> HelseIdIdentity:
        """The caller's identity, or :class:`HelseIdRefused`.

        ``url`` is the full request URL as the server received it (``str(request.url)``);
        ``dpop`` the ``DPoP`` header's value, or all its values when the request repeated
        it (exactly one is required). A ``url`` that is not absolute http(s) is the
        caller's bug and raises ``ValueError``.
        """
        try:
            identity = self._verify(method, url, authorization, dpop)
        except HelseIdRefused as refused:
            log.info("helseid.refused", status=refused.status, reason=refused.reason.value)
            raise
        return identity

    def _verify(
        self,
        method: str,
        url: str,
        authorization: str | None,
        dpop: str | Sequence[str] | None,
    ) -> HelseIdIdentity:
        token_text = self._token_text(authorization)
        proof_text = self._proof_text(dpop)
        now = self._clock()
        htu = self._expected_htu(url)
        try:
            proof = check_proof(
                proof_text,
                method=method,
                htu=htu,
                access_token=token_text,
                registry=self._registry,
                now=now,
                max_age_s=self._settings.proof_max_age_s,
                leeway_s=self._settings.leeway_s,
            )
        except ProofError as exc:
            raise self._refuse(401, exc.reason, "invalid_dpop_proof", exc.detail) from None
        if self._settings.nonce_required and (
            proof.nonce is None or not self._nonces.valid(proof.nonce)
        ):
            raise self._refuse(
                401,
                Refusal.NONCE_REQUIRED,
                "use_dpop_nonce",
                "the resource server requires a current nonce in the DPoP proof",
            )
        try:
            token = read_compact(token_text)
        except JwsError:
            raise self._invalid_token(Refusal.MALFORMED_TOKEN, "not a signed JWT") from None
        kid = token.header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise self._invalid_token(Refusal.MALFORMED_TOKEN, "the token's kid is not text")
        try:
            key = self._keys.key_for(kid)
        except UnknownKey:
            raise self._invalid_token(Refusal.INVALID_SIGNATURE, "unknown signing key") from None
        except JwksUnavailable:
            raise self._refuse(
                503,
                Refusal.ISSUER_KEYS_UNAVAILABLE,
                None,
                "the issuer's signing keys are not available; try again later",
                retry=True,
            ) from None
        if not signature_valid(token, key, self._registry):
            raise self._invalid_token(
                Refusal.INVALID_SIGNATURE, "the token's signature does not verify"
            )
        claims = dict(token.claims)
        try:
            exp = check_validity(
                claims, issuer=self._issuer, now=now, leeway_s=self._settings.leeway_s
            )
            check_audience_and_scope(
                claims, audience=self._settings.audience, scope=self._settings.required_scope
            )
            if bound_key(claims) != proof.key_thumbprint:
                raise ClaimsError(
                    401, Refusal.KEY_BINDING, "the token is bound to another key than the proof's"
                )
            identity = read_identity(claims, key_thumbprint=proof.key_thumbprint, exp=exp)
        except ClaimsError as exc:
            error = "insufficient_scope" if exc.reason is Refusal.INSUFFICIENT_SCOPE else None
            raise self._refuse(
                exc.status, exc.reason, error or "invalid_token", exc.detail
            ) from None
        try:
            first = self._replay.first_use(proof.key_thumbprint, proof.jti)
        except ReplayStoreFull:
            raise self._refuse(
                503, Refusal.REPLAY_STORE_FULL, None, "too many requests; try again", retry=True
            ) from None
        except ReplayStoreUnavailable:
            raise self._refuse(
                503,
                Refusal.REPLAY_STORE_UNAVAILABLE,
                None,
                "the replay store is unavailable; try again",
                retry=True,
            ) from None
        if not first:
            raise self._refuse(
                401, Refusal.REPLAYED_PROOF, "invalid_dpop_proof", "the DPoP proof was used before"
            )
        return identity

    def _token_text(self, authorization: str | None) -> str:
        if not authorization or not authorization.strip():
            raise HelseIdRefused(
                401, Refusal.MISSING_CREDENTIALS, "no credentials", self.challenge()
            )
        if len(authorization) > MAX_AUTHORIZATION_CHARS:
            raise self._invalid_token(
                Refusal.MALFORMED_TOKEN, "the Authorization header is too long"
            )
        match = _AUTHORIZATION.fullmatch(authorization.strip())
        if match is None:
            raise self._invalid_token(
                Refusal.MALFORMED_TOKEN, "the Authorization header is malformed"
            )
        if match.group(1).lower() != "dpop":
            raise self._invalid_token(Refusal.WRONG_SCHEME, "use the DPoP authorization scheme")
        return match.group(2)

    def _proof_text(self, dpop: str | Sequence[str] | None) -> str:
        values = [dpop] if isinstance(dpop, str) else list(dpop or ())
        if len(values) != 1 or not values[0].strip():
            raise self._refuse(
                401,
                Refusal.INVALID_PROOF,
                "invalid_dpop_proof",
                "exactly one DPoP proof is required",
            )
        if len(values[0]) > MAX_PROOF_CHARS:
            raise self._refuse(
                401, Refusal.INVALID_PROOF, "invalid_dpop_proof", "the DPoP proof is too long"
            )
        return values[0].strip()

    def _expected_htu(self, url: str) -> str:
        if self._public_url is not None:
            url = self._public_url + (urlsplit(url).path or "/")
        expected = normalize_htu(url)
        if expected is None:
            raise ValueError("the request URL is not an absolute http(s) URL")
        return expected

    def _invalid_token(self, reason: Refusal, detail: str) -> HelseIdRefused:
        return self._refuse(401, reason, "invalid_token", detail)

    def _refuse(
        self, status: int, reason: Refusal, error: str | None, detail: str, *, retry: bool = False
    ) -> HelseIdRefused:
        headers: dict[str, str] = {}
        if error is not None:
            value = (
                f'DPoP error="{error}", error_description={_quoted(detail)}, algs="{self._algs}"'
            )
            if reason is Refusal.INSUFFICIENT_SCOPE:
                value += f", scope={_quoted(self._settings.required_scope)}"
            headers["WWW-Authenticate"] = value
        if status == 401:
            headers.update(self.nonce_headers())
        if retry:
            headers["Retry-After"] = str(RETRY_AFTER_S)
        return HelseIdRefused(status, reason, detail, headers)
